/**
 * What Sluice tells the app (issue 18): one event per state change an app cares about,
 * written in the same transaction as that change (the outbox, in the metadata store), then
 * delivered as Standard Webhooks, read from the pull feed (`GET /v1/events`), and streamed to
 * browsers (`GET /v1/uploads/{id}/events`). Every consumer sees the same event, with the same id.
 */
export const EVENT_TYPES = ["upload.archived", "upload.rejected", "upload.failed", "upload.expired", "file.deleted"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The upload an event is about, as the app sees it (times are ISO 8601). */
export interface EventData {
  /** `upl_…` */
  uploadId: string;
  /** `file_…`, for uploads whose bytes arrived (absent from `upload.expired`). */
  fileId?: string | undefined;
  /** The object key, the same in staging and archive. */
  key: string;
  filename: string;
  /** The declared size (for an arrived file, the size that arrived). */
  size: number;
  declaredContentType: string;
  /** The type detected from the content: set on `upload.archived`, and on a rejection that detected one. */
  contentType: string | null;
  /** Lowercase hex SHA-256 of the bytes, where known. */
  sha256: string | null;
  /** All of it: what the client sent, with the key's or token's fixed metadata (`sluice-token`) in it. */
  metadata: Record<string, string>;
  /** Why: for `upload.rejected` (`<code>: <text>`) and `upload.failed`. */
  reason?: string | undefined;
  /** The stored API key (`key_…`) that issued the upload, or the configured key's id; the token's id is in `metadata["sluice-token"]`. */
  apiKeyId: string | null;
  state: "archived" | "rejected" | "failed" | "expired" | "deleted";
}

/** One event, as stored and as every consumer sees it. */
export interface SluiceEvent {
  /** `evt_…`, unique; it is the webhook's `webhook-id` (the receiver dedupes by it). */
  id: string;
  type: EventType;
  uploadId: string;
  /** 1, 2, … per upload, in the order the changes were made. */
  seq: number;
  /** Epoch milliseconds when the change was committed (the webhook's `timestamp`). */
  createdAt: number;
  data: EventData;
}

/**
 * An event to write with a state change. The store gives it its id, sequence and position.
 * `createdAt` is the change's own time.
 */
export interface NewEvent {
  type: EventType;
  uploadId: string;
  createdAt: number;
  data: EventData;
}

/** A page of the feed, in commit order. */
export interface EventPage {
  events: SluiceEvent[];
  /** Pass as `after` to read on; the same cursor when nothing new was there (never null: the feed has no end). */
  cursor: string;
}

/** The Standard Webhooks payload: `{ type, timestamp, data }`, with the event's id and sequence beside. */
export function webhookPayload(e: SluiceEvent) {
  return { type: e.type, timestamp: new Date(e.createdAt).toISOString(), id: e.id, seq: e.seq, data: e.data };
}
