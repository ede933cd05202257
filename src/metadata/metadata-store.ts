/**
 * The metadata-store port: every upload's record and state, API keys, and settings.
 * One Kysely implementation serves SQLite (embedded), PostgreSQL and Cloudflare D1 (the Workers
 * runtime); the conformance suite in `metadata-store.conformance.ts` runs against SQLite and
 * PostgreSQL, and the Workers tests run the store on D1 under workerd.
 *
 * It is also the outbox of issue 18: a write that reports a state change carries its event,
 * and the store writes both in one transaction, or neither (docs/events.md).
 */
import type { EventData, EventPage, EventType, NewEvent } from "../events/types.js";

export const UPLOAD_STATES = [
  "issued",
  "uploading",
  "uploaded",
  "processing",
  "archived",
  "rejected",
  "expired",
  "failed",
  "cancelled",
] as const;
export type UploadState = (typeof UPLOAD_STATES)[number];

/** States in which the bytes have arrived: the upload is a file. */
export const FILE_STATES: readonly UploadState[] = ["uploaded", "processing", "archived", "rejected", "failed"];

export interface UploadRecord {
  id: string;
  state: UploadState;
  /** The object key, the same in staging and archive. */
  key: string;
  /** The client's original file name, as given. */
  filename: string;
  declaredType: string;
  /** The type detected from the content, once processed. */
  contentType: string | null;
  /** The declared size; the object must match it. */
  size: number;
  /** Lowercase hex SHA-256 the client promised, if any. */
  sha256: string | null;
  /** The SHA-256 computed while the bytes streamed through the gateway, if they did. */
  receivedSha256: string | null;
  metadata: Record<string, string>;
  reason: string | null;
  apiKeyId: string | null;
  attempts: number;
  /** Milliseconds since the epoch, as are all times below. */
  nextAttemptAt: number | null;
  leaseOwner: string | null;
  leaseUntil: number | null;
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
  uploadedAt: number | null;
  archivedAt: number | null;
  deletedAt: number | null;
  /**
   * A resumable archive copy's progress (issue 19), while a multipart server-side copy is under
   * way; null (or absent) otherwise. Written under the processing lease, read by whichever
   * invocation takes the job next.
   */
  copyProgress?: CopyProgress | null;
}

/**
 * How far a multipart server-side copy to the archive has got. Parts are copied in order;
 * `parts` holds every part done, so that the next invocation copies only the rest. Kept small
 * enough for one DynamoDB item (400 KB): the part size is chosen so that an object has at most
 * about a thousand parts (`storage/object-store.ts`).
 */
export interface CopyProgress {
  /** The target's multipart upload (CreateMultipartUpload's UploadId). */
  multipartUploadId: string;
  /** The bucket the copy writes to (archive or quarantine). */
  targetBucket: string;
  /** The source ETag every part is pinned to: what was checked is what is archived. */
  sourceETag: string;
  size: number;
  partSize: number;
  /** Parts copied, by part number (1-based), with the ETag storage returned for each. */
  parts: { n: number; etag: string }[];
  /** When the copy began, and how many invocations have worked on it. */
  startedAt: number;
  invocations: number;
  /**
   * What the checks decided, so that a run that goes on need not check again (the source still
   * has `sourceETag`: the same bytes): the detected type, and for a copy to quarantine the
   * rejection. Absent: the next run checks again.
   */
  verdict?: CopyVerdict | undefined;
}

export type CopyVerdict = { accept: true; contentType: string } | { accept: false; code: string; reason: string; contentType: string | null };

export type UploadPatch = Partial<Omit<UploadRecord, "id" | "createdAt" | "key">>;

export interface UpdateCondition {
  /** Apply only if the upload is in one of these states. */
  states?: readonly UploadState[];
  /** Apply only if this owner holds the processing lease. */
  leaseOwner?: string;
  /** Apply only if the upload is not deleted yet (so that `file.deleted` is written once). */
  notDeleted?: boolean;
}

/** What the feed is read with (`readEvents`). */
export interface EventQuery {
  /** A page's `cursor`; absent: from the first event still kept. */
  after?: string | undefined;
  limit: number;
  /** Only events of uploads under exactly this key prefix, as `listFiles` means it (`domain/scopes.ts`). */
  keyPrefix?: string | undefined;
  uploadId?: string | undefined;
  types?: readonly EventType[] | undefined;
}

/** An issued upload to report as `upload.expired` if it is never used. */
export interface ExpiryWatch {
  uploadId: string;
  expiresAt: number;
  /** The event's data (state `expired`): at expiry there is no record to build it from. */
  data: EventData;
}

export interface FilePage {
  items: UploadRecord[];
  nextCursor: string | null;
}

/**
 * What a key may do, beyond the service's own limits (each narrows them; none widens them).
 * A key with any scope is a tenant's key: it cannot manage keys, and sees only files under
 * its key prefix.
 */
export interface KeyScope {
  /** Types this key may upload (patterns such as image/*), within SLUICE_ALLOWED_TYPES. */
  allowedTypes?: string[] | undefined;
  /** Largest file, in bytes, within SLUICE_MAX_SIZE. */
  maxSize?: number | undefined;
  /**
   * Every object key this key's uploads get starts with this (e.g. `tenant-a/`), and the key
   * sees only files issued under exactly this prefix (not `tenant-a/b/…`: see `domain/scopes.ts`).
   */
  keyPrefix?: string | undefined;
  /** Its own rate on POST /v1/uploads, instead of SLUICE_RATE_LIMIT. */
  rateLimit?: { points: number; durationSeconds: number } | undefined;
  /** Bytes it may issue in a rolling day. */
  bytesPerDay?: number | undefined;
  /** Uploads it may have open (issued, not yet arrived or cancelled) at once. */
  openTickets?: number | undefined;
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** SHA-256 of the key, hex. The key itself is never stored. */
  hash: string;
  /** The first characters of the key, to tell keys apart in listings. */
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
  /** Null: a full key (the operator's). */
  scope: KeyScope | null;
}

export interface MetadataStore {
  readonly name: string;
  /** Brings the schema up to date. Idempotent, and safe to run from several instances. */
  migrate(): Promise<void>;
  /**
   * Records an arrived upload. Idempotent: if the id is already recorded, the first record
   * stays. True if this call inserted it, false if it was there already.
   */
  insertUpload(record: UploadRecord, event?: NewEvent): Promise<boolean>;
  getUpload(id: string): Promise<UploadRecord | undefined>;
  /**
   * A conditional update: true if it applied. This is how state transitions stay race-free.
   * With an event, the event is written in the same transaction if, and only if, the update
   * applied; its `seq` is the upload's next.
   */
  updateUpload(id: string, patch: UploadPatch, condition?: UpdateCondition, event?: NewEvent): Promise<boolean>;
  /**
   * Files (uploads whose bytes arrived), newest first, not deleted. With `keyPrefix`, only
   * those issued under exactly that prefix (`domain/scopes.ts`: `t/` does not list `t/b/…`).
   */
  listFiles(options: { limit: number; cursor?: string; state?: UploadState; keyPrefix?: string | undefined }): Promise<FilePage>;
  /** Ids of uploads awaiting processing whose next attempt is due and whose lease is free. */
  findDueForProcessing(options: { now: number; limit: number }): Promise<string[]>;
  /**
   * Takes the processing lease on an upload in `uploaded` or `processing` if it is free or
   * lapsed, and marks it `processing`, in one round trip. Returns the record as it now stands
   * if this owner holds it. Its next attempt is cleared: from now on only the lease decides
   * when the sweep may hand the job to another worker.
   */
  acquireProcessingLease(options: { id: string; owner: string; now: number; leaseMs: number }): Promise<UploadRecord | undefined>;

  insertApiKey(record: ApiKeyRecord): Promise<void>;
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  /** A key by its id, revoked or not (processing reads the scope of the key that issued an upload). */
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  revokeApiKey(id: string, now: number): Promise<boolean>;

  /**
   * The event feed, in commit order: a reader that follows the cursor sees every event once,
   * even one whose transaction commits after a later one's. An invalid `after` throws
   * `badRequest("invalid_cursor")`. Filters narrow the page, never the cursor's meaning.
   */
  readEvents(query: EventQuery): Promise<EventPage>;
  /**
   * Starts watching an issued upload, so that `expireDue` reports it if it never arrives.
   * Group-committed like `insertUpload`; resolves once durable. Watching the same upload again
   * changes nothing, and an upload is reported expired at most once.
   */
  watchExpiry(watch: ExpiryWatch): Promise<void>;
  /**
   * Stops watching (the upload was cancelled: it will not be reported expired). Named by the
   * upload and the expiry it was watched with: the SQL store keys watches by expiry first.
   */
  unwatchExpiry(watch: Pick<ExpiryWatch, "uploadId" | "expiresAt">): Promise<void>;
  /**
   * For up to `limit` watched uploads whose expiry plus `graceMs` is past and that have no
   * record, writes `upload.expired` and drops the watch, in one transaction each batch; watches
   * of uploads that arrived are dropped silently. Those `inFlight` says are still being
   * uploaded (their ticket claimed) stay watched, for a later sweep. Returns how many were
   * reported expired.
   */
  expireDue(options: { now: number; graceMs: number; limit: number; inFlight?: (uploadId: string) => Promise<boolean> }): Promise<number>;
  /** Deletes events created before `before` (the retention sweep); returns how many. */
  deleteEventsBefore(before: number): Promise<number>;

  /** Returns the stored value, storing `value` first if there was none (first writer wins). */
  getOrInitSetting(name: string, value: string): Promise<string>;
  /**
   * Sets a setting to `value` only if it still holds `expected` (compare and set); false if
   * another writer changed it first, or it does not exist. Cursors kept here (the EventBridge
   * publisher's) advance only from the value they were read at.
   */
  replaceSetting(name: string, expected: string, value: string): Promise<boolean>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
