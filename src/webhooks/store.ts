import type { EventType, SluiceEvent } from "../events/types.js";

/**
 * The webhooks port (issue 18): endpoints, one delivery per (webhook, event), and the log of
 * every attempt. Implemented on the metadata store's own database, beside the events it
 * delivers: SQLite, PostgreSQL and D1 (`kysely-store.ts`), or its DynamoDB table (`dynamodb-store.ts`).
 */

export interface WebhookRecord {
  /** `wh_…` */
  id: string;
  url: string;
  /** Event types it receives; null: all of them. */
  eventTypes: EventType[] | null;
  /** The key prefix of the scoped key that made it: it sees only events of files under it. Null: every file. */
  keyPrefix: string | null;
  /** The API key that made it (a scoped key sees and deletes only its own). */
  ownerKeyId: string;
  /** The signing secret, sealed (AES-GCM, `webhooks/secrets.ts`); never the plain `whsec_…`. */
  secretSealed: string;
  /** After a rotation, the previous secret, which signs too until `previousSecretUntil`. */
  previousSecretSealed: string | null;
  previousSecretUntil: number | null;
  /** Where fan-out has read the events feed to (an opaque feed cursor; set to the feed's end at creation). Null: from the start. */
  cursor: string | null;
  /** Set while the endpoint is paused (it kept failing); deliveries wait until it is resumed. */
  pausedAt: number | null;
  pausedReason: string | null;
  /** The last attempt that got a 2xx, and the failures in a row since. */
  lastSuccessAt: number | null;
  consecutiveFailures: number;
  createdAt: number;
}

export type DeliveryState = "pending" | "delivered" | "dead";

export interface DeliveryRecord {
  webhookId: string;
  eventId: string;
  uploadId: string;
  seq: number;
  /** The event as it was written: the body is made from it at each attempt. */
  event: SluiceEvent;
  state: DeliveryState;
  attempts: number;
  /** When it may be sent next (epoch ms). */
  nextAttemptAt: number;
  /** Retries stop and it turns `dead` after this (epoch ms): its first attempt plus the retry window. */
  giveUpAt: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  createdAt: number;
  deliveredAt: number | null;
}

export interface AttemptRecord {
  webhookId: string;
  eventId: string;
  /** 1, 2, … per delivery (a redelivery goes on counting). */
  attempt: number;
  at: number;
  /** The HTTP status answered; null when none came (a timeout, a refused connection, a refused address). */
  status: number | null;
  latencyMs: number;
  /** The response body's first bytes (at most 1 KiB), as text. */
  responseHead: string | null;
  error: string | null;
}

export interface WebhookPatch {
  url?: string;
  eventTypes?: EventType[] | null;
  secretSealed?: string;
  previousSecretSealed?: string | null;
  previousSecretUntil?: number | null;
  pausedAt?: number | null;
  pausedReason?: string | null;
}

export interface WebhookStore {
  /** Creates the tables (migrations shared with the metadata store; safe from several instances). */
  migrate(): Promise<void>;
  insertWebhook(w: WebhookRecord): Promise<void>;
  getWebhook(id: string): Promise<WebhookRecord | undefined>;
  /** Oldest first; only one owner's when `ownerKeyId` is given. */
  listWebhooks(options?: { ownerKeyId?: string | undefined }): Promise<WebhookRecord[]>;
  updateWebhook(id: string, patch: WebhookPatch): Promise<boolean>;
  /** Deletes the webhook with its deliveries and attempts. */
  deleteWebhook(id: string): Promise<boolean>;

  /**
   * Fan-out: inserts a pending delivery for each event (one per (webhook, event): a second
   * insert changes nothing) and moves the webhook's cursor, in one transaction, and only if
   * the cursor is still `fromCursor` (another instance that fanned out the same page first
   * wins; false then, and nothing was written).
   */
  enqueueDeliveries(options: { webhookId: string; fromCursor: string | null; toCursor: string; events: SluiceEvent[]; now: number; giveUpAt: number }): Promise<boolean>;

  /**
   * Leases up to `limit` due deliveries of active (not paused) webhooks for `owner` until
   * `now + leaseMs`: pending, due, and not leased by anyone else (or leased past its time).
   * Each is taken with a conditional UPDATE, so two instances never hold one at once. Per
   * webhook and upload, only the lowest pending seq is due (deliveries of one upload go out in
   * order, each after the one before it was delivered or given up).
   */
  leaseDueDeliveries(options: { owner: string; now: number; leaseMs: number; limit: number }): Promise<DeliveryRecord[]>;

  /**
   * Records one attempt and the delivery's new state, if `owner` still holds its lease
   * (false otherwise: the lease lapsed and another instance took it; the attempt is logged
   * all the same, as it was made). Also keeps the webhook's success/failure counts.
   */
  recordAttempt(options: {
    owner: string;
    attempt: AttemptRecord;
    outcome: { state: "delivered" } | { state: "pending"; nextAttemptAt: number } | { state: "dead" };
  }): Promise<boolean>;

  /** Pauses the webhook if it is not already; true if this call paused it. */
  pauseWebhook(id: string, options: { now: number; reason: string }): Promise<boolean>;
  /**
   * Clears the pause and the failure count; pending deliveries are due now, with a fresh retry
   * window (`giveUpAt`). Dead deliveries stay dead (redeliver them).
   */
  resumeWebhook(id: string, options: { now: number; giveUpAt: number }): Promise<boolean>;

  /** The delivery log, newest attempt first. */
  listAttempts(webhookId: string, options: { limit: number; before?: { at: number; eventId: string; attempt: number } | undefined }): Promise<AttemptRecord[]>;
  getDelivery(webhookId: string, eventId: string): Promise<DeliveryRecord | undefined>;
  /**
   * Makes deliveries pending again, due now, with a fresh retry window: one event's, or those
   * of events created in [since, until). Returns how many. Only events this webhook was sent
   * (or was to be sent) can be redelivered: one older than the webhook, or filtered out, has no delivery.
   */
  redeliver(webhookId: string, selection: { eventId: string } | { since: number; until: number }, options: { now: number; giveUpAt: number }): Promise<number>;
}
