import type { Kysely } from "kysely";
import { KyselyMetadataStore } from "../metadata/kysely-store.js";
import type { MetadataStore } from "../metadata/metadata-store.js";
import { KyselyWebhookStore, type WebhookTables } from "./kysely-store.js";
import type { WebhookStore } from "./store.js";

/**
 * The webhooks store, on the metadata store's own database (SQLite, PostgreSQL or D1): its
 * tables are among the metadata store's migrations, so one migration run makes both.
 */
export function webhookStoreBeside(metadata: MetadataStore): WebhookStore {
  if (!(metadata instanceof KyselyMetadataStore)) throw new Error(`Webhooks need a SQL metadata store; ${metadata.name} is not one.`);
  // The same connection pool under a schema that names the webhooks' tables (created by 0004_webhooks).
  const db = metadata.database as unknown as Kysely<WebhookTables>;
  return new KyselyWebhookStore({ db, migrate: () => metadata.migrate() });
}
