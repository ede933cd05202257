import type { Generated } from "kysely";

/** Column types as the database holds them. Times are epoch milliseconds. */
export interface UploadsTable {
  id: string;
  state: string;
  key: string;
  filename: string;
  declared_type: string;
  content_type: string | null;
  size: number;
  sha256: string | null;
  received_sha256: string | null;
  metadata: string;
  reason: string | null;
  api_key_id: string | null;
  attempts: Generated<number>;
  next_attempt_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  expires_at: number;
  created_at: number;
  updated_at: number;
  uploaded_at: number | null;
  archived_at: number | null;
  deleted_at: number | null;
  /** How many events this upload has had: the last event's `seq` (migration 0003). */
  event_seq: Generated<number>;
  /**
   * The id of the event the last write that carried one wrote. The event's INSERT selects the
   * row by it, so the event goes in only if that write changed the row, with no branching
   * between the statements (D1 runs them as one batch, not an interactive transaction).
   */
  event_mark: string | null;
  /** A resumable archive copy's progress, JSON (`CopyProgress`), while one is under way (migration 0005). */
  copy_progress: string | null;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  hash: string;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
  scope: string | null;
}

export interface SettingsTable {
  name: string;
  value: string;
}

/** The outbox: one row per event, written in the transaction of the change it reports. */
export interface EventsTable {
  /** Assigned at insert: increasing, but on PostgreSQL not necessarily in commit order. */
  position: Generated<number>;
  /** PostgreSQL: the writing transaction's id (`pg_current_xact_id()`); SQLite and D1: 0. */
  xid: Generated<number>;
  id: string;
  type: string;
  upload_id: string;
  seq: number;
  /** The object key, so that a scoped key's feed is filtered as `listFiles` is. */
  key: string;
  created_at: number;
  /** The event's `data`, JSON. */
  data: string;
}

/** Issued uploads that may expire unused, until they arrive, are cancelled, or are reported expired. */
export interface ExpiryWatchTable {
  upload_id: string;
  expires_at: number;
  key: string;
  /** The `upload.expired` event's `data`, JSON, built at issuance (no record exists to build it from later). */
  data: string;
  /** Set by the sweep that claims the row (PostgreSQL: two sweeps never both report it). */
  claim: string | null;
}

export interface Database {
  events: EventsTable;
  expiry_watch: ExpiryWatchTable;
  uploads: UploadsTable;
  api_keys: ApiKeysTable;
  settings: SettingsTable;
}
