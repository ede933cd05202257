/** The typed configuration every part of Sluice is given; built from the environment by `loadConfig`. */

/** Static AWS credentials; absent wherever they appear means the AWS SDK's default chain (environment, profile, instance role…). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
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
      credentials: AwsCredentials | undefined;
      /** Objects larger than this are copied part by part (UploadPartCopy); S3's CopyObject takes up to 5 GiB. */
      singleCopyMax: number;
      /** The smallest part of such a copy; it grows with the object so that no copy has more than about 1,000 parts. */
      copyPartSize: number;
      /** Parts of such a copy in flight at once. */
      copyConcurrency: number;
    };
export type TicketStoreConfig =
  /**
   * `watchDir`: where the store journals its uploads' expiry watches (tickets/memory-watches.ts),
   * beside a SQLite metadata database; without it, they are written to the metadata store.
   */
  | { kind: "memory"; watchDir?: string }
  | { kind: "redis"; url: string }
  | { kind: "memcached"; servers: string[] }
  | { kind: "postgres"; url: string }
  | {
      kind: "dynamodb";
      table: string;
      region: string;
      endpoint: string | undefined;
      credentials: AwsCredentials | undefined;
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
  credentials: AwsCredentials | undefined;
}
export type DatabaseConfig =
  | { kind: "sqlite"; path: string }
  | { kind: "postgres"; url: string }
  | {
      /** One DynamoDB table holds records, jobs, keys, settings, events and webhooks (docs/dynamodb.md). */
      kind: "dynamodb";
      table: string;
      region: string;
      endpoint: string | undefined;
      credentials: AwsCredentials | undefined;
    };
export interface RateLimitConfig {
  points: number;
  durationSeconds: number;
}
export type RateLimitStoreConfig = { kind: "memory" } | { kind: "redis"; url: string };

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
  rateLimitStore: RateLimitStoreConfig;
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
  /**
   * How long one processing run may copy before it records its progress and hands the job on,
   * in ms; 0: no limit (the whole copy in one run); undefined: the runtime's default (Node: none;
   * Lambda: the invocation's remaining time less a margin; Workers: what a `waitUntil` allows).
   */
  processingBudgetMs: number | undefined;
  /** Undefined means: use the one stored in the metadata store, creating it on first start. */
  eventsSecret: string | undefined;
  /** Undefined means: use the one stored in the metadata store, creating it on first start. */
  signingSecret: string | undefined;
  processors: string[];
  maxAttempts: number;
  reconcileIntervalSeconds: number;
  /** How long events are kept before the sweep deletes them. */
  eventsRetentionMs: number;
  /** How long after expiry an unused upload is reported expired, at least (see `expiryGraceMs` in domain/upload-events.ts). */
  expiryGraceMs: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  webhooks: WebhookConfig;
  /** Set by the AWS stack only (docs/aws.md). */
  serverless: ServerlessConfig;
}

/** Webhook delivery (SLUICE_WEBHOOK_*). Times in ms. */
export interface WebhookConfig {
  /** One attempt's deadline. */
  timeoutMs: number;
  /** A delivery is retried this long from its first attempt, then `dead`. */
  retryForMs: number;
  /** The first retry's delay ceiling; it doubles each retry, up to `backoffMaxMs` (full jitter below it). */
  backoffMs: number;
  backoffMaxMs: number;
  /** An endpoint with `pauseFailures` failures in a row and no success for `pauseAfterMs` is paused. */
  pauseAfterMs: number;
  pauseFailures: number;
  /** Lets webhooks reach non-public addresses (tests, closed networks). */
  allowPrivate: boolean;
}

/** Where an AWS service is reached, and as whom. */
export interface AwsServiceConfig {
  region: string;
  endpoint: string | undefined;
  credentials: AwsCredentials | undefined;
}

export interface ServerlessConfig {
  /** The Lambda function invoked (asynchronously) after processing, so that events leave at once rather than at the next schedule. */
  dispatcher: (AwsServiceConfig & { functionName: string }) | undefined;
  /** Every event is also published to this EventBridge bus (by the dispatcher). */
  eventBridge: (AwsServiceConfig & { bus: string }) | undefined;
  /**
   * The SQS queue an invocation whose time ran out mid-copy sends the job to, so that the
   * `continue` function carries it on (`{"sluice":"continue","uploadId":…}`). Without it, the
   * reconcile sweep re-drives the released job.
   */
  continueQueue: (AwsServiceConfig & { queueUrl: string }) | undefined;
}
