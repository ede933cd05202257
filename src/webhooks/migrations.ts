import type { Kysely, Migration } from "kysely";

/**
 * The webhooks' tables, a migration of the metadata store's own list (they live in the same
 * database as the events they deliver). Kysely's schema builder only, so that it runs on
 * SQLite, D1 and PostgreSQL alike.
 */
export const webhookMigrations: Record<string, Migration> = {
  "0004_webhooks": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("webhooks")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("url", "text", (c) => c.notNull())
        .addColumn("event_types", "text")
        .addColumn("key_prefix", "text")
        .addColumn("owner_key_id", "text", (c) => c.notNull())
        .addColumn("secret_sealed", "text", (c) => c.notNull())
        .addColumn("previous_secret_sealed", "text")
        .addColumn("previous_secret_until", "bigint")
        .addColumn("cursor", "text")
        .addColumn("paused_at", "bigint")
        .addColumn("paused_reason", "text")
        .addColumn("last_success_at", "bigint")
        .addColumn("consecutive_failures", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("webhook_deliveries")
        .addColumn("webhook_id", "text", (c) => c.notNull())
        .addColumn("event_id", "text", (c) => c.notNull())
        .addColumn("upload_id", "text", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addColumn("event", "text", (c) => c.notNull())
        .addColumn("event_created_at", "bigint", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
        .addColumn("give_up_at", "bigint", (c) => c.notNull())
        .addColumn("lease_owner", "text")
        .addColumn("lease_until", "bigint")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("delivered_at", "bigint")
        .addPrimaryKeyConstraint("webhook_deliveries_pk", ["webhook_id", "event_id"])
        .execute();
      await db.schema.createIndex("webhook_deliveries_due").on("webhook_deliveries").columns(["state", "next_attempt_at"]).execute();
      await db.schema.createIndex("webhook_deliveries_order").on("webhook_deliveries").columns(["webhook_id", "upload_id", "seq"]).execute();
      await db.schema.createIndex("webhook_deliveries_created").on("webhook_deliveries").columns(["webhook_id", "event_created_at"]).execute();
      await db.schema
        .createTable("webhook_attempts")
        .addColumn("webhook_id", "text", (c) => c.notNull())
        .addColumn("event_id", "text", (c) => c.notNull())
        .addColumn("attempt", "integer", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("status", "integer")
        .addColumn("latency_ms", "integer", (c) => c.notNull())
        .addColumn("response_head", "text")
        .addColumn("error", "text")
        .addPrimaryKeyConstraint("webhook_attempts_pk", ["webhook_id", "event_id", "attempt"])
        .execute();
      await db.schema.createIndex("webhook_attempts_at").on("webhook_attempts").columns(["webhook_id", "at"]).execute();
    },
  },
};
