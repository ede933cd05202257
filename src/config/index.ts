/**
 * Configuration is read from the environment here, once, and passed down as a typed object.
 * No other module reads `process.env`. Each backend's variables and parser live in a file of
 * their own; none of them loads a driver (the factories do, for the backends chosen).
 */
import path from "node:path";
import { parseAwsConnection } from "./aws.js";
import { ConfigError } from "./fields.js";
import { parseDatabase } from "./metadata.js";
import { parseRateLimitStore } from "./rate-limits.js";
import { envSchema } from "./schema.js";
import { parseBuckets, parseStorage } from "./storage.js";
import { parseServerless } from "./serverless.js";
import { parseSts } from "./sts.js";
import { parseTickets } from "./tickets.js";
import type { Config } from "./types.js";
import { parseUploadRouting } from "./uploads.js";
import { parseWebhooks } from "./webhooks.js";

export { ConfigError } from "./fields.js";
export { RATE_PATTERN, formatRate, parseRate } from "./rate-limits.js";
export { parseMemcachedUrl } from "./tickets.js";
export { mimePattern } from "./uploads.js";
export type * from "./types.js";

/** Parse the environment. Throws ConfigError with one line naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset, the way shells and .env files usually mean them.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(present);
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
  const aws = parseAwsConnection(e);
  const storage = parseStorage(e, dataDir, aws);
  const routing = parseUploadRouting(e, storage);
  const sts = parseSts(e, aws, { storage, uploadMode: routing.uploadMode });
  const database = parseDatabase(e, dataDir, aws);
  const tickets = parseTickets(e, aws, database);
  const rateLimitStore = parseRateLimitStore(e, tickets);
  const buckets = parseBuckets(e);
  const publicUrl = (e.SLUICE_PUBLIC_URL ?? `http://${e.HOST.includes(":") ? `[${e.HOST}]` : e.HOST}:${e.PORT}`).replace(/\/+$/, "");
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    dataDir,
    storage,
    ...routing,
    downloadMode: e.SLUICE_DOWNLOAD_MODE,
    sts,
    corsOrigins: e.SLUICE_CORS_ORIGINS ?? [new URL(publicUrl).origin],
    buckets,
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
    processingBudgetMs: e.SLUICE_PROCESSING_BUDGET === undefined ? undefined : Math.round(e.SLUICE_PROCESSING_BUDGET * 1000),
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
    eventsRetentionMs: e.SLUICE_EVENTS_RETENTION * 1000,
    expiryGraceMs: e.SLUICE_EXPIRY_GRACE * 1000,
    logLevel: e.SLUICE_LOG_LEVEL,
    webhooks: parseWebhooks(e),
    serverless: parseServerless(e, aws),
  };
}
