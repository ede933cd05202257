import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "./index.js";

describe("loadConfig", () => {
  it("has working embedded defaults", () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.publicUrl, "http://127.0.0.1:8080");
    assert.equal(c.storage.kind, "fs");
    assert.equal(c.uploadMode, "gateway");
    assert.deepEqual(c.buckets, { staging: "staging", archive: "archive", quarantine: undefined });
    assert.equal(c.maxSize, 5 * 1024 ** 3);
    assert.deepEqual(c.rateLimit, { points: 60, durationSeconds: 60 });
    assert.deepEqual(c.allowedTypes, ["*/*"]);
    assert.equal(c.database.kind, "sqlite");
    assert.equal(c.storage.kind === "fs" && c.storage.minFreeBytes, 64 * 1024 ** 2);
    const strict = loadConfig({ SLUICE_MIN_FREE_DISK: "0" });
    assert.equal(strict.storage.kind === "fs" && strict.storage.minFreeBytes, 0);
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ PORT: "http" }, /^Invalid PORT: /],
    [{ PORT: "70000" }, /^Invalid PORT: /],
    [{ SLUICE_MAX_SIZE: "-5" }, /^Invalid SLUICE_MAX_SIZE: /],
    [{ SLUICE_MIN_FREE_DISK: "64MiB" }, /^Invalid SLUICE_MIN_FREE_DISK: /],
    [{ SLUICE_ALLOWED_TYPES: "images" }, /^Invalid SLUICE_ALLOWED_TYPES: /],
    [{ SLUICE_RATE_LIMIT: "lots" }, /^Invalid SLUICE_RATE_LIMIT: /],
    [{ SLUICE_URL_TTL: "5000", SLUICE_URL_TTL_MAX: "60" }, /^Invalid SLUICE_URL_TTL: /],
    [{ SLUICE_STAGING_BUCKET: "Bad_Bucket" }, /^Invalid SLUICE_STAGING_BUCKET: /],
    [{ SLUICE_STAGING_BUCKET: "same", SLUICE_ARCHIVE_BUCKET: "same" }, /^Invalid SLUICE_ARCHIVE_BUCKET: /],
    [{ SLUICE_LOG_LEVEL: "loud" }, /^Invalid SLUICE_LOG_LEVEL: /],
    [{ SLUICE_DATABASE: "mysql://x" }, /^Invalid SLUICE_DATABASE: /],
    [{ SLUICE_TICKETS: "redis" }, /^Invalid SLUICE_TICKETS: /],
    [{ SLUICE_TICKETS: "memcached://" }, /^Invalid SLUICE_TICKETS: /],
    [{ SLUICE_TICKETS: "memcached://a:1,b" }, /^Invalid SLUICE_TICKETS: /],
    [{ SLUICE_TICKETS: "dynamodb://t" }, /^Invalid SLUICE_TICKETS: /],
    [{ SLUICE_TICKETS: "dynamodb://bad table" }, /^Invalid SLUICE_TICKETS: /],
    [{ SLUICE_RATE_LIMIT_STORE: "memcached://a:1" }, /^Invalid SLUICE_RATE_LIMIT_STORE: /],
    [{ SLUICE_RATE_LIMIT_IP: "10 a minute" }, /^Invalid SLUICE_RATE_LIMIT_IP: /],
    [{ SLUICE_TICKET_LEASE: "0" }, /^Invalid SLUICE_TICKET_LEASE: /],
    [{ SLUICE_BODY_IDLE_TIMEOUT: "0" }, /^Invalid SLUICE_BODY_IDLE_TIMEOUT: /],
    [{ SLUICE_HEADERS_TIMEOUT: "0" }, /^Invalid SLUICE_HEADERS_TIMEOUT: /],
    [{ SLUICE_KEEP_ALIVE_TIMEOUT: "0" }, /^Invalid SLUICE_KEEP_ALIVE_TIMEOUT: /],
    [{ SLUICE_MAX_CONNECTIONS: "0" }, /^Invalid SLUICE_MAX_CONNECTIONS: /],
    [{ SLUICE_REQUEST_TIMEOUT: "30" }, /^Invalid SLUICE_REQUEST_TIMEOUT: must be 0 \(no deadline\) or at least SLUICE_HEADERS_TIMEOUT/],
  ];
  for (const [env, message] of bad) {
    it(`stops on ${JSON.stringify(env)} with one line naming the variable`, () => {
      assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && message.test(err.message) && !err.message.includes("\n"));
    });
  }

  it("journals memory tickets' expiry watches beside a SQLite database file, and only there", () => {
    assert.deepEqual(loadConfig({ SLUICE_DATA_DIR: "/srv/sluice" }).tickets, { kind: "memory", watchDir: "/srv/sluice/expiry-watches" });
    assert.deepEqual(loadConfig({ SLUICE_DATABASE: "sqlite:/var/db/meta.db" }).tickets, { kind: "memory", watchDir: "/var/db/expiry-watches" });
    assert.deepEqual(loadConfig({ SLUICE_DATABASE: "sqlite::memory:" }).tickets, { kind: "memory" });
    assert.deepEqual(loadConfig({ SLUICE_DATABASE: "postgres://u:p@db/sluice" }).tickets, { kind: "memory" });
  });

  it("reads every ticket store and database URL, and shares a Redis ticket store with the rate limiter", () => {
    assert.deepEqual(loadConfig({ SLUICE_TICKETS: "redis://:pw@10.0.0.5:6379/2" }).tickets, { kind: "redis", url: "redis://:pw@10.0.0.5:6379/2" });
    assert.deepEqual(loadConfig({ SLUICE_TICKETS: "redis://r:6379" }).rateLimitStore, { kind: "redis", url: "redis://r:6379" });
    assert.deepEqual(loadConfig({ SLUICE_TICKETS: "memcached://a:11211, b.example:11212" }).tickets, { kind: "memcached", servers: ["a:11211", "b.example:11212"] });
    assert.deepEqual(loadConfig({ SLUICE_TICKETS: "memcached://a:1" }).rateLimitStore, { kind: "memory" });
    assert.deepEqual(loadConfig({ SLUICE_TICKETS: "postgresql://u:p@db/sluice" }).tickets, { kind: "postgres", url: "postgresql://u:p@db/sluice" });
    assert.deepEqual(loadConfig({ SLUICE_TICKETS: "dynamodb://sluice-tickets", AWS_REGION: "eu-west-1", AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:8000" }).tickets, {
      kind: "dynamodb",
      table: "sluice-tickets",
      region: "eu-west-1",
      endpoint: "http://127.0.0.1:8000",
      credentials: undefined,
    });
    assert.deepEqual(loadConfig({ SLUICE_DATABASE: "postgres://u:p@db:5432/sluice" }).database, { kind: "postgres", url: "postgres://u:p@db:5432/sluice" });
    const c = loadConfig({ SLUICE_RATE_LIMIT_STORE: "redis://limits:6379", SLUICE_RATE_LIMIT_IP: "100/min", SLUICE_TRUST_PROXY: "1" });
    assert.deepEqual([c.rateLimitStore, c.ipRateLimit, c.trustProxy], [{ kind: "redis", url: "redis://limits:6379" }, { points: 100, durationSeconds: 60 }, 1]);
    assert.deepEqual([c.ticketLeaseMs, c.processingLeaseMs], [30_000, 300_000]);
  });

  it("bounds every wait and the connection count by default, with no deadline on a whole request", () => {
    const c = loadConfig({});
    assert.equal(c.bodyIdleTimeoutMs, 60_000);
    assert.deepEqual(c.server, { headersTimeoutMs: 60_000, keepAliveTimeoutMs: 65_000, requestTimeoutMs: 0, maxConnections: 500 });
    const set = loadConfig({ SLUICE_BODY_IDLE_TIMEOUT: "5", SLUICE_HEADERS_TIMEOUT: "10", SLUICE_KEEP_ALIVE_TIMEOUT: "3", SLUICE_REQUEST_TIMEOUT: "7200", SLUICE_MAX_CONNECTIONS: "20" });
    assert.equal(set.bodyIdleTimeoutMs, 5000);
    assert.deepEqual(set.server, { headersTimeoutMs: 10_000, keepAliveTimeoutMs: 3000, requestTimeoutMs: 7_200_000, maxConnections: 20 });
  });

  it("never echoes a database password", () => {
    assert.throws(
      () => loadConfig({ SLUICE_DATABASE: "mysql://admin:hunter2hunter2@db/x" }),
      (err: unknown) => err instanceof ConfigError && !err.message.includes("hunter2"),
    );
  });

  it("never echoes a secret's value", () => {
    assert.throws(
      () => loadConfig({ SLUICE_EVENTS_SECRET: "short-secret" }),
      (err: unknown) => err instanceof ConfigError && err.message.startsWith("Invalid SLUICE_EVENTS_SECRET") && !err.message.includes("short-secret"),
    );
  });

  it("reads the S3 connection from the standard AWS variables", () => {
    const c = loadConfig({
      SLUICE_STORAGE: "s3",
      SLUICE_UPLOAD_MODE: "gateway",
      AWS_ENDPOINT_URL_S3: "http://127.0.0.1:7480",
      AWS_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "AK",
      AWS_SECRET_ACCESS_KEY: "SK",
      SLUICE_S3_FORCE_PATH_STYLE: "true",
    });
    assert.deepEqual(c.storage, {
      kind: "s3",
      endpoint: "http://127.0.0.1:7480",
      region: "eu-west-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "AK", secretAccessKey: "SK" },
      singleCopyMax: 5 * 1024 ** 3,
      copyPartSize: 512 * 1024 ** 2,
      copyConcurrency: 4,
    });
    const aws = loadConfig({ SLUICE_STORAGE: "s3", SLUICE_UPLOAD_MODE: "gateway" });
    assert.deepEqual(aws.storage, {
      kind: "s3",
      endpoint: undefined,
      region: "us-east-1",
      forcePathStyle: false,
      credentials: undefined,
      singleCopyMax: 5 * 1024 ** 3,
      copyPartSize: 512 * 1024 ** 2,
      copyConcurrency: 4,
    });
  });

  it("reads the processing budget in seconds (decimals allowed, 0 for none), and the continuation queue", () => {
    assert.equal(loadConfig({}).processingBudgetMs, undefined, "unset: the runtime's default");
    assert.equal(loadConfig({ SLUICE_PROCESSING_BUDGET: "0" }).processingBudgetMs, 0);
    assert.equal(loadConfig({ SLUICE_PROCESSING_BUDGET: "0.2" }).processingBudgetMs, 200);
    assert.equal(loadConfig({ SLUICE_PROCESSING_BUDGET: "780" }).processingBudgetMs, 780_000);
    for (const bad of ["-1", "1e3", "ten", "0.0001"]) {
      assert.throws(() => loadConfig({ SLUICE_PROCESSING_BUDGET: bad }), (err: unknown) => err instanceof ConfigError && /SLUICE_PROCESSING_BUDGET/.test(err.message));
    }
    const queue = "https://sqs.us-east-1.amazonaws.com/123456789012/sluice-continuations";
    const c = loadConfig({ SLUICE_CONTINUE_QUEUE: queue, AWS_REGION: "us-east-1" });
    assert.equal(c.serverless.continueQueue?.queueUrl, queue);
    assert.equal(loadConfig({}).serverless.continueQueue, undefined);
    assert.throws(() => loadConfig({ SLUICE_S3_COPY_PART_SIZE: String(1024 ** 2) }), (err: unknown) => err instanceof ConfigError && /SLUICE_S3_COPY_PART_SIZE/.test(err.message));
  });

  it("stops on half a credential pair, and on direct mode or POST without S3", () => {
    assert.throws(() => loadConfig({ SLUICE_STORAGE: "s3", SLUICE_UPLOAD_MODE: "gateway", AWS_ACCESS_KEY_ID: "AK" }), /Invalid AWS_SECRET_ACCESS_KEY: set both/);
    assert.throws(() => loadConfig({ SLUICE_UPLOAD_MODE: "direct" }), /Invalid SLUICE_UPLOAD_MODE: direct needs SLUICE_STORAGE=s3/);
    assert.throws(() => loadConfig({ SLUICE_UPLOAD_METHOD: "POST" }), /Invalid SLUICE_UPLOAD_METHOD: POST policies need SLUICE_STORAGE=s3/);
  });

  it("takes edge mode only on S3 with the distribution's URL", () => {
    assert.throws(() => loadConfig({ SLUICE_UPLOAD_MODE: "edge", SLUICE_EDGE_URL: "https://d1.cloudfront.net" }), /Invalid SLUICE_UPLOAD_MODE: edge needs SLUICE_STORAGE=s3 and SLUICE_EDGE_URL/);
    assert.throws(() => loadConfig({ SLUICE_STORAGE: "s3", SLUICE_UPLOAD_MODE: "edge" }), /Invalid SLUICE_UPLOAD_MODE: edge needs/);
    assert.equal(loadConfig({ SLUICE_STORAGE: "s3", SLUICE_UPLOAD_MODE: "edge", SLUICE_EDGE_URL: "https://d1.cloudfront.net/" }).edgeUrl, "https://d1.cloudfront.net");
    assert.equal(loadConfig({ SLUICE_STORAGE: "s3", SLUICE_EDGE_URL: "https://d1.cloudfront.net" }).edgeUrl, undefined, "only edge mode uses it");
  });

  it("takes an STS role for scoped credentials only with direct S3 uploads, and its endpoint from AWS_ENDPOINT_URL_STS", () => {
    const role = "arn:aws:iam::123456789012:role/sluice-uploader";
    assert.throws(() => loadConfig({ SLUICE_STS_ROLE_ARN: role }), /Invalid SLUICE_STS_ROLE_ARN: scoped credentials need SLUICE_STORAGE=s3 with direct uploads/);
    assert.throws(() => loadConfig({ SLUICE_STORAGE: "s3", SLUICE_UPLOAD_MODE: "gateway", SLUICE_STS_ROLE_ARN: role }), /Invalid SLUICE_STS_ROLE_ARN/);
    assert.throws(() => loadConfig({ SLUICE_STORAGE: "s3", SLUICE_STS_ROLE_ARN: "sluice-uploader" }), /Invalid SLUICE_STS_ROLE_ARN: expected a role ARN/);
    assert.throws(() => loadConfig({ SLUICE_STORAGE: "s3", SLUICE_STS_ROLE_ARN: role, SLUICE_STS_MAX_DURATION: "600" }), /Invalid SLUICE_STS_MAX_DURATION: expected seconds of at least 900/);
    assert.equal(loadConfig({ SLUICE_STORAGE: "s3" }).sts, undefined);
    const c = loadConfig({ SLUICE_STORAGE: "s3", SLUICE_STS_ROLE_ARN: role, AWS_REGION: "eu-west-1", AWS_ENDPOINT_URL_STS: "http://127.0.0.1:7480" });
    assert.deepEqual(c.sts, { roleArn: role, endpoint: "http://127.0.0.1:7480", region: "eu-west-1", maxSeconds: 3600, credentials: undefined });
  });

  it("defaults S3 to direct PUT uploads, and browser origins to the public URL's", () => {
    const c = loadConfig({ SLUICE_STORAGE: "s3", SLUICE_PUBLIC_URL: "https://up.example.com/sluice/" });
    assert.equal(c.uploadMode, "direct");
    assert.equal(c.uploadMethod, "PUT");
    assert.deepEqual(c.corsOrigins, ["https://up.example.com"]);
    assert.equal(loadConfig({ SLUICE_STORAGE: "s3", SLUICE_UPLOAD_METHOD: "post" }).uploadMethod, "POST");
    assert.equal(c.downloadMode, "presigned");
    assert.equal(loadConfig({ SLUICE_STORAGE: "s3", SLUICE_DOWNLOAD_MODE: "proxy" }).downloadMode, "proxy");
    assert.throws(() => loadConfig({ SLUICE_DOWNLOAD_MODE: "cdn" }), /Invalid SLUICE_DOWNLOAD_MODE: expected presigned or proxy/);
    assert.equal(c.downloadIdleMs, 60_000);
    assert.equal(loadConfig({ SLUICE_DOWNLOAD_IDLE_TIMEOUT: "5" }).downloadIdleMs, 5000);
    assert.throws(() => loadConfig({ SLUICE_DOWNLOAD_IDLE_TIMEOUT: "0" }), /Invalid SLUICE_DOWNLOAD_IDLE_TIMEOUT: expected seconds of at least 1/);
    assert.deepEqual(loadConfig({ SLUICE_CORS_ORIGINS: "https://a.example, https://b.example" }).corsOrigins, ["https://a.example", "https://b.example"]);
    assert.deepEqual(loadConfig({ SLUICE_CORS_ORIGINS: "*" }).corsOrigins, ["*"]);
    assert.throws(() => loadConfig({ SLUICE_CORS_ORIGINS: "https://a.example/app" }), /Invalid SLUICE_CORS_ORIGINS: expected origins/);
  });

  it("parses rate limits and lists", () => {
    assert.deepEqual(loadConfig({ SLUICE_RATE_LIMIT: "5/sec" }).rateLimit, { points: 5, durationSeconds: 1 });
    assert.equal(loadConfig({ SLUICE_RATE_LIMIT: "off" }).rateLimit, undefined);
    assert.deepEqual(loadConfig({ SLUICE_ALLOWED_TYPES: "image/*, Text/Plain" }).allowedTypes, ["image/*", "text/plain"]);
    assert.deepEqual(loadConfig({ SLUICE_API_KEYS: "a, b,," }).apiKeys, ["a", "b"]);
  });
});
