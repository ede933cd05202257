import type { Config } from "../config.js";
import type { EventBell } from "../events/bell.js";
import type { Logger } from "../internal/logger.js";
import type { Metrics } from "../internal/metrics.js";
import type { MetadataStore } from "../metadata/metadata-store.js";
import type { ObjectStore } from "../storage/object-store.js";
import type { Presigner } from "../storage/presign.js";
import type { TicketStore } from "../tickets/ticket-store.js";
import type { BackendHealth } from "./health.js";
import type { UploadLimits } from "./limits.js";
import type { Processor } from "./processors.js";
import type { KeyLiveness } from "./revocation.js";
import type { UrlSigner } from "./signing.js";
import type { UploadRoutes } from "./upload-routes/index.js";
import type { WebhookSecretBox } from "../webhooks/secrets.js";
import type { WebhookStore } from "../webhooks/store.js";

/** Where arrivals are announced, so that processing starts (in process, or on a queue). */
export interface ArrivalQueue {
  /** Processing of this upload is due now (or at `at`, epoch ms). Duplicates are harmless. */
  enqueue(uploadId: string, at?: number): void;
}

/**
 * How long one processing run may go on, and where a job goes that needs another run (a
 * resumable archive copy that ran out of time: `domain/pipeline.ts`). Each runtime has its own
 * (`runtime/<name>/adapter.ts`): Node's runs a job in one go, Lambda's stops before the invocation
 * ends and sends the job to a queue, Workers' leaves it to the Cron Trigger's sweep.
 */
export interface ProcessingTime {
  /** For a run starting now: how long it may copy, in ms, before it stops starting parts; undefined: no limit. */
  budget(): number | undefined;
  /** Hands on a job whose run stopped at its budget (its lease released, its next attempt due now). */
  handOn(uploadId: string): Promise<void>;
}

/**
 * Everything the domain functions use, built once at the composition root from the
 * configuration. Domain code sees only these interfaces, never a backend or HTTP.
 */
export interface Services {
  config: Config;
  objects: ObjectStore;
  /** Set when the store can presign (S3): direct uploads and downloads bypass Sluice. */
  presigner: Presigner | undefined;
  /** The ways of uploading this configuration serves, chosen once at assembly (`chooseUploadRoutes`). */
  routes: UploadRoutes;
  tickets: TicketStore;
  metadata: MetadataStore;
  /** Webhook endpoints, their deliveries and attempts (on the metadata store's database). */
  webhooks: WebhookStore;
  /** Seals and opens webhook signing secrets (never stored in the clear). */
  webhookSecrets: WebhookSecretBox;
  /** Rate limits and per-key quotas on issuing. */
  limits: UploadLimits;
  /** Which backends answered their last ping (absent: assume all do). */
  health?: BackendHealth | undefined;
  signer: UrlSigner;
  /** Whether the key that issued a ticket or URL still stands (revocation ends what it issued). */
  keys: KeyLiveness;
  processors: Processor[];
  arrivals: ArrivalQueue;
  processingTime: ProcessingTime;
  metrics: Metrics;
  /** Rung after every write that carried an event (in-process wake-up of the feed and the dispatcher). */
  events: EventBell;
  logger: Logger;
  /** Names this process as a lease holder. */
  instanceId: string;
  now(): number;
}

/** How long one processor may run on one file before it is told to stop (its signal aborts). */
export const PROCESSOR_TIMEOUT_MS = 150_000;
