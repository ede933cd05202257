/**
 * What every variable means, for docs/configuration.md (`npm run docs` writes it from this and
 * the schema's own defaults). Kept apart from the parsers so that no runtime bundle carries the
 * prose; the `satisfies` below makes a variable without a description, or a description
 * without a variable, a compile error.
 */
import type { z } from "zod";
import { awsFields } from "./aws.js";
import { metadataFields } from "./metadata.js";
import { processingFields } from "./processing.js";
import { rateLimitFields } from "./rate-limits.js";
import { serverFields } from "./server.js";
import { serverlessFields } from "./serverless.js";
import { storageFields } from "./storage.js";
import { stsFields } from "./sts.js";
import { ticketFields } from "./tickets.js";
import { uploadFields } from "./uploads.js";
import { webhookFields } from "./webhooks.js";
import type { Env } from "./schema.js";

export interface SettingDoc {
  description: string;
  /** When the schema has a default: words after it (`(64 MiB)`). Without one: the whole cell (`gateway for fs, direct for s3`). */
  default?: string;
}

/** The headings of the configuration page, each with its backend's variables in the schema's order. */
export const settingSections: { title: string; fields: Record<string, z.ZodType> }[] = [
  { title: "Server", fields: serverFields },
  { title: "Uploads and downloads", fields: uploadFields },
  { title: "Rate limits", fields: rateLimitFields },
  { title: "Processing", fields: processingFields },
  { title: "Object storage", fields: storageFields },
  { title: "Ticket store", fields: ticketFields },
  { title: "Metadata store", fields: metadataFields },
  { title: "AWS", fields: awsFields },
  { title: "Scoped credentials (STS)", fields: stsFields },
  { title: "Webhooks", fields: webhookFields },
  { title: "AWS Lambda: dispatch, EventBridge and continuations", fields: serverlessFields },
];

export const settingDocs = {
  PORT: {
    description: "the port the HTTP server listens on",
  },
  HOST: {
    description: "the address the HTTP server listens on",
  },
  SLUICE_PUBLIC_URL: {
    description: "base URL written into upload and download URLs",
    default: "`http://HOST:PORT`",
  },
  SLUICE_DATA_DIR: {
    description: "files (`objects/<bucket>/…`), the SQLite database, and beside it the expiry watches of `memory` tickets (`expiry-watches/`)",
  },
  SLUICE_API_KEYS: {
    description:
      "comma-separated keys to accept. With none set and none stored, the first start creates one, stores its hash and prints it once",
  },
  SLUICE_SIGNING_SECRET: {
    description: "HMAC key for upload and download URLs, at least 16 characters",
    default: "*(made on first start, kept in the database)*",
  },
  SLUICE_EVENTS_SECRET: {
    description:
      "authenticates `POST /v1/events/s3`: as a bearer token, as the Basic password, as an `X-Sluice-Signature: sha256=<hex HMAC of the body>` header, or as every record's `opaqueData` (Ceph RGW; `sluice setup` sets it). At least 16 characters",
    default: "*(made on first start, kept in the database)*",
  },
  SLUICE_BODY_IDLE_TIMEOUT: {
    description:
      "seconds a gateway upload (single PUT or part) may go without a byte while Sluice waits for one (nginx's `client_body_timeout`); then it is dropped with `408 body_timeout`, nothing is kept, and its URL can be retried at once. A claim is renewed only while bytes flow. On Node, any other request whose connection moves no byte either way for this long (a trickled JSON body, a response nobody reads) is closed",
  },
  SLUICE_HEADERS_TIMEOUT: {
    description:
      "seconds a connection has to send a complete request's headers, counted from when it opens or its previous request ended; then it is closed (a `408`). Covers connections that send nothing or half a request line",
  },
  SLUICE_KEEP_ALIVE_TIMEOUT: {
    description:
      "seconds an idle keep-alive connection is kept between requests (above a load balancer's usual 60 s, so that the balancer closes first)",
  },
  SLUICE_REQUEST_TIMEOUT: {
    description:
      "seconds a whole request may take to arrive; `0` sets no deadline, so a multi-gigabyte upload on a slow link is bounded by `SLUICE_BODY_IDLE_TIMEOUT` instead. If set, at least `SLUICE_HEADERS_TIMEOUT`",
    default: "(none)",
  },
  SLUICE_MAX_CONNECTIONS: {
    description:
      "open connections at most, per process. Past it, the connection idle the longest (no request in progress) is closed to admit the new one; only when all are busy is the new one refused. Keep it well under the file-descriptor limit (`ulimit -n`): a gateway upload to the fs store holds a second descriptor",
  },
  SLUICE_LOG_LEVEL: {
    description: "pino level",
  },
  SLUICE_UPLOAD_MODE: {
    description:
      "`direct`: presigned URLs at storage, the bytes never pass through Sluice (s3 only). `gateway`: URLs point at Sluice, which streams to storage. `edge`: PUTs to a CloudFront distribution whose Lambda@Edge functions claim the ticket (s3 only; the AWS stack sets it)",
    default: "`gateway` for fs, `direct` for s3",
  },
  SLUICE_EDGE_URL: {
    description:
      "with `SLUICE_UPLOAD_MODE=edge`: the CloudFront distribution in front of staging; single uploads are PUTs to it (see [CloudFront in front of staging](aws.md#cloudfront-in-front-of-staging-lambdaedge))",
  },
  SLUICE_UPLOAD_METHOD: {
    description:
      "what direct uploads get unless a request asks (`\"method\": \"POST\"`): a presigned `PUT`, or a `POST` policy for HTML forms",
  },
  SLUICE_DOWNLOAD_MODE: {
    description:
      "on s3: `presigned` downloads are GETs straight from the archive bucket (the bytes never pass through Sluice; storage answers with the forced type, `attachment` and `no-store`, but cannot send `nosniff` or a CSP). `proxy` serves them through Sluice, with `X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox`. One-time downloads and the fs store always go through Sluice",
  },
  SLUICE_CORS_ORIGINS: {
    description:
      "comma-separated browser origins (`https://app.example.com`, or `*` for any) that may call the API, the gateway's URLs, tus and the Companion routes from a page (CORS: preflights are answered without a key, and `ETag`, `Location`, `Retry-After` and the tus headers are exposed), and that `sluice setup` lets upload to staging and download from the archive. Any other origin gets no CORS headers at all",
    default: "the origin of `SLUICE_PUBLIC_URL`",
  },
  SLUICE_ALLOWED_TYPES: {
    description:
      "comma-separated allow-list, wildcards allowed (`image/*`). Any list but `*/*` admits only content *identified* as an allowed type: by its signature, as HTML/SVG declared as such, or as `text/plain`, `text/csv`, `text/markdown` or `application/json` passing their own checks. `application/octet-stream` listed by name also takes what cannot be identified. A key's scope `allowedTypes` works the same way, at issue and again at processing",
  },
  SLUICE_MAX_SIZE: {
    description: "largest accepted file, in bytes (up to 5 TiB)",
    default: "(5 GiB)",
  },
  SLUICE_URL_TTL: {
    description:
      "seconds an upload or download URL lives when the request sets no `expiresIn`. Part URLs of a multipart upload live this long and can be asked for again",
  },
  SLUICE_URL_TTL_MAX: {
    description: "seconds; `expiresIn` is clamped to this. At least `SLUICE_URL_TTL`",
  },
  SLUICE_MULTIPART_THRESHOLD: {
    description: "files larger than this are uploaded in parts (at most 5 GiB: one S3 PUT's limit)",
    default: "(64 MiB)",
  },
  SLUICE_PART_SIZE: {
    description:
      "the part size offered (5 MiB to 5 GiB); it grows in whole MiB when a file would need more than 10,000 parts, so files up to S3's 5 TiB fit",
    default: "(16 MiB)",
  },
  SLUICE_MULTIPART_TTL: {
    description:
      "seconds a multipart upload may take: its default and longest life. After it, the sweep aborts the upload and its parts",
    default: "(24 h)",
  },
  SLUICE_TICKET_LEASE: {
    description:
      "seconds a claim on an upload or one-time download in flight outlives an instance that died holding it (the holder renews it every third of this)",
  },
  SLUICE_DOWNLOAD_IDLE_TIMEOUT: {
    description:
      "seconds a one-time download may go without sending a byte (a stalled reader) before it is dropped and its URL freed for another try, as nginx's `send_timeout`",
  },
  SLUICE_RATE_LIMIT: {
    description:
      "`POST /v1/uploads` per API key: `N/sec`, `N/min`, `N/hour` or `off`; over it: `429` with `Retry-After`. A scoped key may have its own",
  },
  SLUICE_RATE_LIMIT_IP: {
    description: "`POST /v1/uploads` per client address, same format",
  },
  SLUICE_RATE_LIMIT_STORE: {
    description:
      "where limits and quotas are counted: `memory` (per instance) or `redis://…` (shared by every instance)",
    default: "the Redis of `SLUICE_TICKETS` if it is one, else `memory`",
  },
  SLUICE_TRUST_PROXY: {
    description:
      "how many proxies in front of Sluice append to `X-Forwarded-For`; the client address is the entry the outermost one appended (0: the socket's peer)",
  },
  SLUICE_PROCESSORS: {
    description: "comma-separated paths of processor modules (see [Processors](#processors))",
  },
  SLUICE_MAX_ATTEMPTS: {
    description: "processing attempts before `failed`",
  },
  SLUICE_PROCESSING_LEASE: {
    description:
      "seconds a processing job outlives a worker that died holding it (the holder renews it every third of this)",
  },
  SLUICE_RECONCILE_INTERVAL: {
    description: "seconds between reconcile sweeps",
  },
  SLUICE_PROCESSING_BUDGET: {
    description:
      "seconds (decimals allowed) one processing run may spend before a multipart archive copy stops starting parts, records the parts done in the job and hands the job on to another run (see [Resumable copies](architecture.md#resumable-archive-copies)); `0`: no limit, the copy runs in one go",
    default: "Node: `0`; Lambda: the invocation's remaining time less 90 s; Workers: 20",
  },
  SLUICE_STORAGE: {
    description: "`fs` or `s3`",
  },
  SLUICE_MIN_FREE_DISK: {
    description:
      "fs store: below this many free bytes on the data directory's filesystem, `/readyz` reports the object store down (`0` turns the check off). A write that finds the disk full answers `507 storage_full` and keeps nothing",
    default: "(64 MiB)",
  },
  AWS_ENDPOINT_URL_S3: {
    description: "the S3 endpoint: any S3-compatible store",
    default: "`AWS_ENDPOINT_URL`, else AWS itself",
  },
  SLUICE_S3_FORCE_PATH_STYLE: {
    description: "`true` for stores that want `endpoint/bucket/key` (RGW, MinIO)",
    default: "`false`",
  },
  SLUICE_S3_SINGLE_COPY_MAX: {
    description: "s3 store: objects larger than this many bytes are copied to the archive part by part (UploadPartCopy), resumably; S3's CopyObject takes up to 5 GiB",
    default: "(5 GiB)",
  },
  SLUICE_S3_COPY_PART_SIZE: {
    description:
      "s3 store: the smallest part of such a copy, in bytes (5 MiB to 5 GiB); it grows with the object so that no copy has more than about 1,000 parts (a 5 TiB object: 5 GiB parts)",
    default: "(512 MiB)",
  },
  SLUICE_S3_COPY_CONCURRENCY: {
    description:
      "s3 store: parts of such a copy in flight at once. A run cut short re-copies at most these; on storage that copies one part no faster than several (as the test RGW), `1` lets a run with a time budget fit more parts",
  },
  SLUICE_STAGING_BUCKET: {
    description: "where uploads land before they are checked (a directory for fs)",
  },
  SLUICE_ARCHIVE_BUCKET: {
    description: "where checked files are kept (a directory for fs)",
  },
  SLUICE_QUARANTINE_BUCKET: {
    description: "where rejected files are moved (a directory for fs)",
    default: "*(none: rejected files are deleted)*",
  },
  SLUICE_TICKETS: {
    description:
      "ticket store: `memory`, `redis://[:password@]host:port[/db]` (`rediss://` for TLS), `memcached://host:port[,host:port…]`, `postgres://user:password@host:port/db`, or `dynamodb://<table>` (region and credentials from the AWS variables)",
  },
  AWS_ENDPOINT_URL_DYNAMODB: {
    description: "the DynamoDB endpoint, for `dynamodb://` tickets and metadata (a local DynamoDB, for instance)",
    default: "`AWS_ENDPOINT_URL`, else AWS itself",
  },
  SLUICE_DATABASE: {
    description: "metadata store: `sqlite:<path>`, `postgres://user:password@host:port/db` or `dynamodb://<table>` (one table: docs/dynamodb.md)",
    default: "`sqlite:<data dir>/sluice.db`",
  },
  SLUICE_EVENTS_RETENTION: {
    description:
      "how long events (`upload.archived`, …) are kept in the metadata store, in seconds; the reconcile sweep deletes older ones. A feed reader or webhook that is behind by more than this misses what was deleted",
    default: "(7 days)",
  },
  SLUICE_EXPIRY_GRACE: {
    description:
      "seconds after an upload URL expires unused before `upload.expired` is reported: bytes accepted by storage just before expiry may still arrive (the wait is at least one ticket lease and two sweep intervals, and uploads still streaming through the gateway are waited for)",
    default: "(5 minutes)",
  },
  AWS_REGION: {
    description: "the region of S3, STS and DynamoDB",
    default: "`AWS_DEFAULT_REGION`, else `us-east-1`",
  },
  AWS_DEFAULT_REGION: {
    description: "read when `AWS_REGION` is unset, as the AWS CLI does",
  },
  AWS_ENDPOINT_URL: {
    description: "the endpoint of S3, STS and DynamoDB where their own variable (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL_DYNAMODB`) names none",
    default: "AWS itself",
  },
  AWS_ACCESS_KEY_ID: {
    description: "static credentials for S3, STS and DynamoDB; set both or neither",
    default: "the SDK's default credential chain",
  },
  AWS_SECRET_ACCESS_KEY: {
    description: "the secret of `AWS_ACCESS_KEY_ID`",
  },
  AWS_SESSION_TOKEN: {
    description: "with temporary credentials: their session token",
  },
  SLUICE_STS_ROLE_ARN: {
    description:
      "lets uploads ask for `\"method\": \"credentials\"`: Sluice assumes this role through STS with a session policy for one staging key (direct S3 uploads only; see [Scoped credentials](deploying-on-s3.md#scoped-credentials-for-the-aws-sdks-own-uploader))",
  },
  AWS_ENDPOINT_URL_STS: {
    description: "the STS endpoint (Ceph RGW serves STS on its S3 port)",
    default: "`AWS_ENDPOINT_URL`, else AWS's STS",
  },
  SLUICE_STS_MAX_DURATION: {
    description: "the role's longest session in seconds (900 to 43200); credentials never outlive it",
  },
  SLUICE_WEBHOOK_TIMEOUT: {
    description: "seconds one webhook attempt may take (connecting, TLS, the response's headers and first KiB) before it counts as failed",
  },
  SLUICE_WEBHOOK_RETRY_FOR: {
    description: "seconds a delivery is retried from its first attempt before it is `dead` (see [Retries](events.md#retries-dead-deliveries-and-paused-endpoints))",
  },
  SLUICE_WEBHOOK_BACKOFF: {
    description: "milliseconds: the ceiling of the first retry's delay; each retry doubles it (full jitter: the delay is random below the ceiling)",
  },
  SLUICE_WEBHOOK_BACKOFF_MAX: {
    description: "milliseconds: the largest retry delay ceiling",
  },
  SLUICE_WEBHOOK_PAUSE_AFTER: {
    description: "seconds without a successful delivery after which an endpoint that keeps failing is paused (with `SLUICE_WEBHOOK_PAUSE_FAILURES`)",
  },
  SLUICE_WEBHOOK_PAUSE_FAILURES: {
    description: "failed attempts in a row after which, with no success for `SLUICE_WEBHOOK_PAUSE_AFTER`, an endpoint is paused until `POST /v1/webhooks/{id}/resume`",
  },
  SLUICE_WEBHOOK_ALLOW_PRIVATE: {
    description: "`true` lets webhooks reach loopback, private, link-local and metadata addresses (for tests and closed networks; see [Security](security.md))",
    },
  SLUICE_DISPATCHER_FUNCTION: {
    description:
      "on Lambda: the dispatcher function (name or ARN) that the processor and the sweeper invoke asynchronously once their work is done, so that events go out at once rather than at the next scheduled run; the AWS stack sets it (see [Deploy to AWS](aws.md#events-the-dispatcher-and-eventbridge))",
    default: "*(none: the schedule alone)*",
  },
  AWS_ENDPOINT_URL_LAMBDA: {
    description: "the Lambda API endpoint, for `SLUICE_DISPATCHER_FUNCTION`",
    default: "`AWS_ENDPOINT_URL`, else AWS itself",
  },
  SLUICE_EVENTBRIDGE_BUS: {
    description:
      "on Lambda: the dispatcher also publishes every event to this EventBridge bus (name or ARN), source `sluice`, detail-type the event type, at least once (its cursor is kept in the metadata store)",
    default: "*(none)*",
  },
  AWS_ENDPOINT_URL_EVENTBRIDGE: {
    description: "the EventBridge endpoint, for `SLUICE_EVENTBRIDGE_BUS`",
    default: "`AWS_ENDPOINT_URL`, else AWS itself",
  },
  SLUICE_CONTINUE_QUEUE: {
    description:
      "on Lambda: the SQS queue URL an invocation whose time ran out mid-copy sends the job to (`{\"sluice\":\"continue\",\"uploadId\":…}`), for the `index.continue` function to carry it on; the AWS stack sets it. Without it, the reconcile sweep carries the job on at its next run",
    default: "*(none: the sweep)*",
  },
  AWS_ENDPOINT_URL_SQS: {
    description: "the SQS endpoint, for `SLUICE_CONTINUE_QUEUE`",
    default: "`AWS_ENDPOINT_URL`, else AWS itself",
  },
} satisfies Record<keyof Env, SettingDoc>;
