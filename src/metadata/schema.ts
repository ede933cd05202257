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

export interface Database {
  uploads: UploadsTable;
  api_keys: ApiKeysTable;
  settings: SettingsTable;
}
