/**
 * Configuration is read from the environment here, once, and passed down as a typed object.
 * No other module reads `process.env`.
 */
import path from "node:path";
import { z } from "zod";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export type StorageConfig =
  | {
      kind: "fs";
      dir: string;
      /** Below this much free space on the data directory's filesystem, `/readyz` reports the object store down. */
      minFreeBytes: number;
    }
  | {
      kind: "s3";
      /** Any S3-compatible endpoint; absent means AWS itself. */
      endpoint: string | undefined;
      region: string;
      forcePathStyle: boolean;
      /** Absent: the AWS SDK's default chain (environment, profile, instance role…). */
      credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
    };
export type TicketStoreConfig =
  | { kind: "memory" }
  | { kind: "redis"; url: string }
  | { kind: "memcached"; servers: string[] }
  | { kind: "postgres"; url: string }
  | {
      kind: "dynamodb";
      table: string;
      region: string;
      endpoint: string | undefined;
      credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
    };
/**
 * Scoped temporary credentials (`"method": "credentials"`): Sluice calls STS AssumeRole on this
 * role with a session policy that allows uploading one staging key only.
 */
export interface StsConfig {
  roleArn: string;
  /** Any STS-compatible endpoint (Ceph RGW serves STS on its S3 port); absent means AWS itself. */
  endpoint: string | undefined;
  region: string;
  /** The longest session the role allows (its MaxSessionDuration); credentials never outlive it. */
  maxSeconds: number;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}
export type DatabaseConfig = { kind: "sqlite"; path: string } | { kind: "postgres"; url: string };
export interface RateLimitConfig {
  points: number;
  durationSeconds: number;
}

export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  dataDir: string;
  storage: StorageConfig;
  /**
   * `direct`: presigned at storage; `gateway`: through Sluice; `edge`: through a CloudFront
   * distribution in front of staging whose Lambda@Edge functions claim the ticket (`edgeUrl`).
   */
  uploadMode: "direct" | "gateway" | "edge";
  /** The CloudFront distribution's URL, in edge mode. */
  edgeUrl: string | undefined;
  /** What direct uploads get unless the request asks: a presigned PUT, or a POST policy. */
  uploadMethod: "PUT" | "POST";
  /**
   * How downloads are served on S3: `presigned` (a presigned GET at storage, the bytes never
   * pass through Sluice) or `proxy` (through Sluice, with `nosniff` and a sandbox CSP, which a
   * presigned GET cannot carry). One-time downloads and the fs store always go through Sluice.
   */
  downloadMode: "presigned" | "proxy";
  /** Set when uploads may ask for scoped temporary credentials (direct mode on S3 only). */
  sts: StsConfig | undefined;
  /** Origins allowed to upload to the staging bucket from a browser (`sluice setup` applies them). */
  corsOrigins: string[];
  buckets: { staging: string; archive: string; quarantine: string | undefined };
  tickets: TicketStoreConfig;
  database: DatabaseConfig;
  apiKeys: string[];
  allowedTypes: string[];
  maxSize: number;
  /** Files larger than this are uploaded in parts. */
  multipartThreshold: number;
  /** The smallest part size offered; it grows with the file so that no upload needs more than 10,000 parts. */
  partSize: number;
  /** How long a multipart upload may take (its ticket's default and longest life), in seconds. */
  multipartTtlSeconds: number;
  urlTtlSeconds: number;
  urlTtlMaxSeconds: number;
  /** Per API key, on `POST /v1/uploads`; a key's own scope may set its own. */
  rateLimit: RateLimitConfig | undefined;
  /** Per client address, on `POST /v1/uploads`. */
  ipRateLimit: RateLimitConfig | undefined;
  /** Where the limiters count: this process, or a Redis every instance shares. */
  rateLimitStore: { kind: "memory" } | { kind: "redis"; url: string };
  /** How many proxies in front of Sluice append to X-Forwarded-For (0: the socket's peer is the client). */
  trustProxy: number;
  /** How long a claim on a ticket (an upload in flight) outlives a holder that stopped renewing it, in ms. */
  ticketLeaseMs: number;
  /**
   * How long a gateway upload may go without a byte arriving, while Sluice waits for one,
   * before it is dropped (408) and its URL freed, in ms. Like nginx's client_body_timeout.
   */
  bodyIdleTimeoutMs: number;
  /** The Node HTTP server's own limits on connections (other runtimes have their platform's). */
  server: {
    /** A connection must send a complete request's headers within this, in ms, or it is closed (408). */
    headersTimeoutMs: number;
    /** An idle keep-alive connection is closed after this, in ms. */
    keepAliveTimeoutMs: number;
    /** A whole request must arrive within this, in ms; 0: no deadline (the body-idle timeout bounds slow uploads). */
    requestTimeoutMs: number;
    /** Open connections at most; past it an idle one (no request in progress) is closed to admit the new one, or the new one is refused. */
    maxConnections: number;
  };
  /**
   * How long a one-time download may go without sending a byte before it is dropped and its URL
   * freed, in ms (nginx's `send_timeout`, 60 s by default). Its claim is renewed until then.
   */
  downloadIdleMs: number;
  /** How long a processing job outlives a worker that stopped renewing it, in ms. */
  processingLeaseMs: number;
  /** Undefined means: generate a random one at start. */
  eventsSecret: string | undefined;
  /** Undefined means: use the one stored in the metadata store, creating it on first start. */
  signingSecret: string | undefined;
  processors: string[];
  maxAttempts: number;
  reconcileIntervalSeconds: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
}

const wholeNumber = (what: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, `expected ${what}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `expected ${what} of at least ${min}`).max(max, `expected ${what} of at most ${max}`));

const list = z
  .string()
  .transform((s) => s.split(",").map((p) => p.trim()).filter((p) => p.length > 0));

export const mimePattern = /^(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$/;

export const RATE_PATTERN = /^(off|[1-9]\d{0,8}\/(s|sec|second|m|min|minute|h|hour))$/i;

/** `N/sec`, `N/min`, `N/hour` (or `off`, undefined) → points per window. */
export function parseRate(s: string): RateLimitConfig | undefined {
  if (s.toLowerCase() === "off") return undefined;
  const [n, unit] = s.toLowerCase().split("/") as [string, string];
  const durationSeconds = unit.startsWith("s") ? 1 : unit.startsWith("m") ? 60 : 3600;
  return { points: Number(n), durationSeconds };
}

export function formatRate(rate: RateLimitConfig): string {
  return `${rate.points}/${rate.durationSeconds === 1 ? "sec" : rate.durationSeconds === 60 ? "min" : "hour"}`;
}

const rateLimit = z.string().regex(RATE_PATTERN, "expected N/sec, N/min, N/hour or off").transform(parseRate);

const secret = (name: string) =>
  z.string().min(16, `${name} must be at least 16 characters long`);

/** Each entry: the variable, its default (if any), and how to parse it. */
const schema = z.object({
  PORT: wholeNumber("a TCP port", 0, 65535).default(8080),
  HOST: z.string().min(1).default("127.0.0.1"),
  SLUICE_PUBLIC_URL: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).optional(),
  SLUICE_DATA_DIR: z.string().min(1).default("./data"),
  SLUICE_STORAGE: z.enum(["fs", "s3"], "expected fs or s3").default("fs"),
  SLUICE_MIN_FREE_DISK: wholeNumber("a size in bytes").default(64 * 1024 ** 2),
  SLUICE_UPLOAD_MODE: z.enum(["direct", "gateway", "edge"], "expected direct, gateway or edge").optional(),
  SLUICE_DOWNLOAD_MODE: z.enum(["presigned", "proxy"], "expected presigned or proxy").default("presigned"),
  SLUICE_EDGE_URL: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).optional(),
  SLUICE_UPLOAD_METHOD: z.enum(["PUT", "POST", "put", "post"], "expected PUT or POST").default("PUT"),
  SLUICE_CORS_ORIGINS: list.optional(),
  SLUICE_STAGING_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "expected a bucket name").default("staging"),
  SLUICE_ARCHIVE_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "expected a bucket name").default("archive"),
  SLUICE_QUARANTINE_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "expected a bucket name").optional(),
  SLUICE_TICKETS: z.string().min(1).default("memory"),
  SLUICE_DATABASE: z.string().min(1).optional(),
  SLUICE_API_KEYS: list.default([]),
  SLUICE_ALLOWED_TYPES: list
    .transform((types) => types.map((t) => t.toLowerCase()))
    .pipe(z.array(z.string().regex(mimePattern, "expected type/subtype patterns such as image/*")).min(1))
    .default(["*/*"]),
  SLUICE_MAX_SIZE: wholeNumber("a size in bytes", 1, 5 * 1024 ** 4).default(5 * 1024 ** 3),
  SLUICE_MULTIPART_THRESHOLD: wholeNumber("a size in bytes", 0, 5 * 1024 ** 3).default(64 * 1024 ** 2),
  SLUICE_PART_SIZE: wholeNumber("a size in bytes", 5 * 1024 ** 2, 5 * 1024 ** 3).default(16 * 1024 ** 2),
  SLUICE_MULTIPART_TTL: wholeNumber("seconds", 1, 7 * 24 * 3600).default(24 * 3600),
  SLUICE_URL_TTL: wholeNumber("seconds", 1, 7 * 24 * 3600).default(300),
  SLUICE_URL_TTL_MAX: wholeNumber("seconds", 1, 7 * 24 * 3600).default(3600),
  SLUICE_RATE_LIMIT: rateLimit.prefault("60/min"),
  SLUICE_RATE_LIMIT_IP: rateLimit.prefault("off"),
  SLUICE_RATE_LIMIT_STORE: z.string().min(1).optional(),
  SLUICE_TRUST_PROXY: wholeNumber("a count of proxies", 0, 10).default(0),
  SLUICE_TICKET_LEASE: wholeNumber("seconds", 1, 3600).default(30),
  SLUICE_DOWNLOAD_IDLE_TIMEOUT: wholeNumber("seconds", 1, 3600).default(60),
  SLUICE_PROCESSING_LEASE: wholeNumber("seconds", 1, 86400).default(300),
  SLUICE_BODY_IDLE_TIMEOUT: wholeNumber("seconds", 1, 3600).default(60),
  SLUICE_HEADERS_TIMEOUT: wholeNumber("seconds", 1, 3600).default(60),
  SLUICE_KEEP_ALIVE_TIMEOUT: wholeNumber("seconds", 1, 3600).default(65),
  SLUICE_REQUEST_TIMEOUT: wholeNumber("seconds", 0, 7 * 24 * 3600).default(0),
  SLUICE_MAX_CONNECTIONS: wholeNumber("a count of connections", 1, 1_000_000).default(500),
  SLUICE_EVENTS_SECRET: secret("SLUICE_EVENTS_SECRET").optional(),
  SLUICE_SIGNING_SECRET: secret("SLUICE_SIGNING_SECRET").optional(),
  SLUICE_PROCESSORS: list.default([]),
  SLUICE_MAX_ATTEMPTS: wholeNumber("a count", 1, 100).default(5),
  SLUICE_RECONCILE_INTERVAL: wholeNumber("seconds", 1, 86400).default(60),
  AWS_REGION: z.string().min(1).optional(),
  AWS_DEFAULT_REGION: z.string().min(1).optional(),
  AWS_ENDPOINT_URL_S3: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).optional(),
  AWS_ENDPOINT_URL: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).optional(),
  AWS_ENDPOINT_URL_DYNAMODB: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).optional(),
  AWS_ENDPOINT_URL_STS: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).optional(),
  SLUICE_STS_ROLE_ARN: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{0,12}:role\/[\w+=,.@/-]+$/, "expected a role ARN such as arn:aws:iam::123456789012:role/sluice-uploader")
    .optional(),
  SLUICE_STS_MAX_DURATION: wholeNumber("seconds", 900, 43200).default(3600),
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  AWS_SESSION_TOKEN: z.string().min(1).optional(),
  SLUICE_S3_FORCE_PATH_STYLE: z.enum(["true", "false", "1", "0"], "expected true or false").optional(),
  SLUICE_LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], "expected a pino level such as info")
    .default("info"),
});

/** Parse the environment. Throws ConfigError with one line naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset, the way shells and .env files usually mean them.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? "configuration");
    // The message names the variable and what was expected, never the value (it may be a secret).
    throw new ConfigError(`Invalid ${name}: ${issue?.message ?? "bad value"}`);
  }
  const e = parsed.data;
  if (e.SLUICE_URL_TTL > e.SLUICE_URL_TTL_MAX) {
    throw new ConfigError("Invalid SLUICE_URL_TTL: must not exceed SLUICE_URL_TTL_MAX");
  }
  if (e.SLUICE_REQUEST_TIMEOUT > 0 && e.SLUICE_REQUEST_TIMEOUT < e.SLUICE_HEADERS_TIMEOUT) {
    throw new ConfigError("Invalid SLUICE_REQUEST_TIMEOUT: must be 0 (no deadline) or at least SLUICE_HEADERS_TIMEOUT");
  }
  const dataDir = path.resolve(e.SLUICE_DATA_DIR);
  if ((e.AWS_ACCESS_KEY_ID === undefined) !== (e.AWS_SECRET_ACCESS_KEY === undefined)) {
    throw new ConfigError("Invalid AWS_SECRET_ACCESS_KEY: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither");
  }
  const storage: StorageConfig =
    e.SLUICE_STORAGE === "fs"
      ? { kind: "fs", dir: path.join(dataDir, "objects"), minFreeBytes: e.SLUICE_MIN_FREE_DISK }
      : {
          kind: "s3",
          endpoint: e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL,
          region: e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? "us-east-1",
          forcePathStyle: e.SLUICE_S3_FORCE_PATH_STYLE === "true" || e.SLUICE_S3_FORCE_PATH_STYLE === "1",
          credentials:
            e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
              ? { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY, ...(e.AWS_SESSION_TOKEN && { sessionToken: e.AWS_SESSION_TOKEN }) }
              : undefined,
        };
  const uploadMode = e.SLUICE_UPLOAD_MODE ?? (storage.kind === "fs" ? "gateway" : "direct");
  if (storage.kind === "fs" && uploadMode === "direct") {
    throw new ConfigError("Invalid SLUICE_UPLOAD_MODE: direct needs SLUICE_STORAGE=s3; the fs store is reached through the gateway");
  }
  if (uploadMode === "edge" && (storage.kind !== "s3" || !e.SLUICE_EDGE_URL)) {
    throw new ConfigError("Invalid SLUICE_UPLOAD_MODE: edge needs SLUICE_STORAGE=s3 and SLUICE_EDGE_URL (the CloudFront distribution in front of staging)");
  }
  const uploadMethod = e.SLUICE_UPLOAD_METHOD.toUpperCase() as "PUT" | "POST";
  if (uploadMethod === "POST" && uploadMode !== "direct") {
    throw new ConfigError("Invalid SLUICE_UPLOAD_METHOD: POST policies need SLUICE_STORAGE=s3 with direct uploads");
  }
  if (e.SLUICE_STS_ROLE_ARN && (storage.kind !== "s3" || uploadMode !== "direct")) {
    throw new ConfigError("Invalid SLUICE_STS_ROLE_ARN: scoped credentials need SLUICE_STORAGE=s3 with direct uploads");
  }
  const sts: StsConfig | undefined =
    e.SLUICE_STS_ROLE_ARN && storage.kind === "s3"
      ? {
          roleArn: e.SLUICE_STS_ROLE_ARN,
          endpoint: e.AWS_ENDPOINT_URL_STS ?? e.AWS_ENDPOINT_URL,
          region: storage.region,
          maxSeconds: e.SLUICE_STS_MAX_DURATION,
          credentials: storage.credentials,
        }
      : undefined;
  const parsedTickets = parseTickets(e.SLUICE_TICKETS);
  const tickets: TicketStoreConfig =
    "table" in parsedTickets
      ? {
          kind: "dynamodb",
          table: parsedTickets.table,
          region: e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? "us-east-1",
          endpoint: e.AWS_ENDPOINT_URL_DYNAMODB ?? e.AWS_ENDPOINT_URL,
          credentials:
            e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
              ? { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY, ...(e.AWS_SESSION_TOKEN && { sessionToken: e.AWS_SESSION_TOKEN }) }
              : undefined,
        }
      : parsedTickets;
  const limiterStore = e.SLUICE_RATE_LIMIT_STORE ?? (tickets.kind === "redis" ? tickets.url : "memory");
  let rateLimitStore: Config["rateLimitStore"];
  if (limiterStore === "memory") rateLimitStore = { kind: "memory" };
  else if (isUrl(limiterStore, ["redis:", "rediss:"])) rateLimitStore = { kind: "redis", url: limiterStore };
  else throw new ConfigError("Invalid SLUICE_RATE_LIMIT_STORE: expected memory or redis://host:port");
  const database = parseDatabase(e.SLUICE_DATABASE ?? `sqlite:${path.join(dataDir, "sluice.db")}`);
  const named = [e.SLUICE_STAGING_BUCKET, e.SLUICE_ARCHIVE_BUCKET, ...(e.SLUICE_QUARANTINE_BUCKET ? [e.SLUICE_QUARANTINE_BUCKET] : [])];
  if (new Set(named).size !== named.length) {
    throw new ConfigError("Invalid SLUICE_ARCHIVE_BUCKET: staging, archive and quarantine buckets must differ");
  }
  const publicUrl = (e.SLUICE_PUBLIC_URL ?? `http://${e.HOST.includes(":") ? `[${e.HOST}]` : e.HOST}:${e.PORT}`).replace(/\/+$/, "");
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    dataDir,
    storage,
    uploadMode,
    edgeUrl: uploadMode === "edge" ? e.SLUICE_EDGE_URL?.replace(/\/+$/, "") : undefined,
    uploadMethod,
    downloadMode: e.SLUICE_DOWNLOAD_MODE,
    sts,
    corsOrigins: e.SLUICE_CORS_ORIGINS ?? [new URL(publicUrl).origin],
    buckets: { staging: e.SLUICE_STAGING_BUCKET, archive: e.SLUICE_ARCHIVE_BUCKET, quarantine: e.SLUICE_QUARANTINE_BUCKET },
    tickets,
    database,
    apiKeys: e.SLUICE_API_KEYS,
    allowedTypes: e.SLUICE_ALLOWED_TYPES,
    maxSize: e.SLUICE_MAX_SIZE,
    multipartThreshold: e.SLUICE_MULTIPART_THRESHOLD,
    partSize: e.SLUICE_PART_SIZE,
    multipartTtlSeconds: e.SLUICE_MULTIPART_TTL,
    urlTtlSeconds: e.SLUICE_URL_TTL,
    urlTtlMaxSeconds: e.SLUICE_URL_TTL_MAX,
    rateLimit: e.SLUICE_RATE_LIMIT,
    ipRateLimit: e.SLUICE_RATE_LIMIT_IP,
    rateLimitStore,
    trustProxy: e.SLUICE_TRUST_PROXY,
    ticketLeaseMs: e.SLUICE_TICKET_LEASE * 1000,
    downloadIdleMs: e.SLUICE_DOWNLOAD_IDLE_TIMEOUT * 1000,
    processingLeaseMs: e.SLUICE_PROCESSING_LEASE * 1000,
    bodyIdleTimeoutMs: e.SLUICE_BODY_IDLE_TIMEOUT * 1000,
    server: {
      headersTimeoutMs: e.SLUICE_HEADERS_TIMEOUT * 1000,
      keepAliveTimeoutMs: e.SLUICE_KEEP_ALIVE_TIMEOUT * 1000,
      requestTimeoutMs: e.SLUICE_REQUEST_TIMEOUT * 1000,
      maxConnections: e.SLUICE_MAX_CONNECTIONS,
    },
    eventsSecret: e.SLUICE_EVENTS_SECRET,
    signingSecret: e.SLUICE_SIGNING_SECRET,
    processors: e.SLUICE_PROCESSORS.map((p) => path.resolve(p)),
    maxAttempts: e.SLUICE_MAX_ATTEMPTS,
    reconcileIntervalSeconds: e.SLUICE_RECONCILE_INTERVAL,
    logLevel: e.SLUICE_LOG_LEVEL,
  };
}

function parseDatabase(value: string): DatabaseConfig {
  if (value.startsWith("sqlite:")) {
    const file = value.slice("sqlite:".length);
    if (!file) throw new ConfigError("Invalid SLUICE_DATABASE: expected sqlite:<path>");
    return { kind: "sqlite", path: file === ":memory:" ? file : path.resolve(file) };
  }
  if (isUrl(value, ["postgres:", "postgresql:"])) return { kind: "postgres", url: value };
  throw new ConfigError("Invalid SLUICE_DATABASE: expected sqlite:<path> or postgres://user:password@host:port/database");
}

function parseTickets(value: string): Exclude<TicketStoreConfig, { kind: "dynamodb" }> | { table: string } {
  if (value === "memory") return { kind: "memory" };
  const table = /^dynamodb:\/\/([A-Za-z0-9_.-]{3,255})$/.exec(value)?.[1];
  if (table) return { table };
  if (isUrl(value, ["redis:", "rediss:"])) return { kind: "redis", url: value };
  if (isUrl(value, ["postgres:", "postgresql:"])) return { kind: "postgres", url: value };
  if (value.startsWith("memcached://")) {
    try {
      return { kind: "memcached", servers: parseMemcachedUrl(value) };
    } catch {
      // falls through to the message below
    }
  }
  throw new ConfigError("Invalid SLUICE_TICKETS: expected memory, redis://host:port, memcached://host:port[,host:port…], postgres://… or dynamodb://<table>");
}

function isUrl(value: string, protocols: string[]): boolean {
  try {
    const url = new URL(value);
    return protocols.includes(url.protocol) && url.hostname !== "";
  } catch {
    return false;
  }
}

/** `memcached://host:port[,host:port…]` → the server list. */
export function parseMemcachedUrl(url: string): string[] {
  const rest = url.replace(/^memcached:\/\//, "").replace(/\/.*$/, "");
  const servers = rest.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (servers.length === 0 || servers.some((s) => !/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/.test(s))) {
    throw new Error("expected memcached://host:port[,host:port…]");
  }
  return servers;
}
