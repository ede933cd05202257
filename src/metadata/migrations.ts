import { PostgresAdapter, sql, type Kysely, type Migration, type MigrationProvider } from "kysely";
import { webhookMigrations } from "../webhooks/migrations.js";

/**
 * Schema migrations, in order. Written with Kysely's schema builder so that the same
 * migrations run on SQLite and PostgreSQL. Never edit one that has shipped; add a new one.
 */
const migrations: Record<string, Migration> = {
  "0001_initial": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("uploads")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("key", "text", (c) => c.notNull().unique())
        .addColumn("filename", "text", (c) => c.notNull())
        .addColumn("declared_type", "text", (c) => c.notNull())
        .addColumn("content_type", "text")
        .addColumn("size", "bigint", (c) => c.notNull())
        .addColumn("sha256", "text")
        .addColumn("received_sha256", "text")
        .addColumn("metadata", "text", (c) => c.notNull().defaultTo("{}"))
        .addColumn("reason", "text")
        .addColumn("api_key_id", "text")
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("next_attempt_at", "bigint")
        .addColumn("lease_owner", "text")
        .addColumn("lease_until", "bigint")
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("uploaded_at", "bigint")
        .addColumn("archived_at", "bigint")
        .addColumn("deleted_at", "bigint")
        .execute();
      await db.schema.createIndex("uploads_state_next_attempt").on("uploads").columns(["state", "next_attempt_at"]).execute();
      await db.schema.createIndex("uploads_state_expires").on("uploads").columns(["state", "expires_at"]).execute();
      await db.schema.createIndex("uploads_created").on("uploads").columns(["created_at", "id"]).execute();

      await db.schema
        .createTable("api_keys")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull().unique())
        .addColumn("prefix", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("revoked_at", "bigint")
        .execute();

      await db.schema
        .createTable("settings")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .execute();
    },
  },
  "0002_api_key_scope": {
    async up(db: Kysely<unknown>) {
      // JSON; null for a full key.
      await db.schema.alterTable("api_keys").addColumn("scope", "text").execute();
    },
  },
  "0003_events": {
    async up(db: Kysely<unknown>) {
      const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
      await db.schema.alterTable("uploads").addColumn("event_seq", "integer", (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable("uploads").addColumn("event_mark", "text").execute();

      // The position never goes back, even once old events are deleted (SQLite's AUTOINCREMENT
      // never reuses a rowid; a PostgreSQL identity never reuses a value): a cursor stays valid.
      // On PostgreSQL the writing transaction's id is kept beside it, for the feed's visibility
      // rule (kysely-store.ts, readEvents).
      let events = db.schema.createTable("events");
      events = postgres
        ? events
            .addColumn("position", "bigint", (c) => c.primaryKey().generatedByDefaultAsIdentity())
            .addColumn("xid", "bigint", (c) => c.notNull().defaultTo(sql`(pg_current_xact_id()::text)::bigint`))
        : events.addColumn("position", "integer", (c) => c.primaryKey().autoIncrement()).addColumn("xid", "integer", (c) => c.notNull().defaultTo(0));
      await events
        .addColumn("id", "text", (c) => c.notNull().unique())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("upload_id", "text", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("data", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("events_feed").on("events").columns(["xid", "position"]).execute();
      await db.schema.createIndex("events_upload").on("events").columns(["upload_id", "xid", "position"]).execute();
      await db.schema.createIndex("events_created").on("events").columns(["created_at"]).execute();

      await db.schema
        .createTable("expiry_watch")
        .addColumn("upload_id", "text", (c) => c.primaryKey())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("data", "text", (c) => c.notNull())
        .addColumn("claim", "text")
        .execute();
      await db.schema.createIndex("expiry_watch_due").on("expiry_watch").columns(["expires_at"]).execute();
    },
  },
  // The webhooks' tables (issue 18); their own file, beside their store.
  ...webhookMigrations,
  "0005_copy_progress": {
    async up(db: Kysely<unknown>) {
      // JSON (CopyProgress); null unless a resumable archive copy is under way (issue 19).
      await db.schema.alterTable("uploads").addColumn("copy_progress", "text").execute();
    },
  },
  "0006_expiry_watch_by_time": {
    // Every issuance writes a watch. Keyed by the random upload id, each of a commit's rows
    // landed on its own B-tree page (SQLite wrote ~26 µs a row at 300k rows, issue 19); keyed
    // by expiry first, a commit's rows share the last pages (~4 µs). Upload ids stay random.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("expiry_watch_by_time")
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("upload_id", "text", (c) => c.notNull())
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("data", "text", (c) => c.notNull())
        .addColumn("claim", "text")
        .addPrimaryKeyConstraint("expiry_watch_by_time_pkey", ["expires_at", "upload_id"])
        .execute();
      await sql`INSERT INTO expiry_watch_by_time (expires_at, upload_id, key, data, claim) SELECT expires_at, upload_id, key, data, claim FROM expiry_watch`.execute(db);
      await db.schema.dropTable("expiry_watch").execute();
      await db.schema.alterTable("expiry_watch_by_time").renameTo("expiry_watch").execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
