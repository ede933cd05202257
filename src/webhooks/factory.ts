import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Kysely } from "kysely";
import { once } from "../internal/async.js";
import type { KyselyMetadataStore } from "../metadata/kysely-store.js";
import type { MetadataStore } from "../metadata/metadata-store.js";
import type { WebhookTables } from "./kysely-store.js";
import type { WebhookStore } from "./store.js";

/**
 * The webhooks store, beside the metadata store in its own database: SQLite, PostgreSQL or D1
 * (its tables are among the metadata store's migrations, so one migration run makes both), or
 * the metadata store's DynamoDB table.
 */
export function webhookStoreBeside(metadata: MetadataStore): WebhookStore {
  if (onKysely(metadata)) {
    // The same connection pool under a schema that names the webhooks' tables (created by 0004_webhooks).
    const db = metadata.database as unknown as Kysely<WebhookTables>;
    return new DeferredWebhookStore(once(async () => {
      const { KyselyWebhookStore } = await import("./kysely-store.js");
      return new KyselyWebhookStore({ db, migrate: () => metadata.migrate() });
    }));
  }
  if (inDynamoTable(metadata)) {
    // Loaded on the first webhook call, not with the function: the issuer's cold start (which
    // makes no webhook call) loads none of it.
    const load = once(async () => {
      const { DynamoWebhookStore } = await import("./dynamodb-store.js");
      return new DynamoWebhookStore({ client: metadata.table.client, table: metadata.table.name, migrate: () => metadata.migrate() });
    });
    return new DeferredWebhookStore(load);
  }
  throw new Error(`Webhooks need a SQL or DynamoDB metadata store; ${metadata.name} is neither.`);
}

function onKysely(metadata: MetadataStore): metadata is KyselyMetadataStore {
  return typeof (metadata as { database?: unknown }).database === "object";
}

/**
 * The DynamoDB metadata store (`metadata/dynamodb-store.ts`) exposes its client and table. Told
 * by shape, not by class: importing the class here would load it with every function.
 */
function inDynamoTable(metadata: MetadataStore): metadata is MetadataStore & { readonly table: { client: DynamoDBClient; name: string } } {
  const table = (metadata as { table?: { client?: unknown; name?: unknown } }).table;
  return typeof table === "object" && table !== null && typeof table.client === "object" && typeof table.name === "string";
}

/** A store made on its first call, each call passed on to it. */
class DeferredWebhookStore implements WebhookStore {
  readonly #load: () => Promise<WebhookStore>;

  constructor(load: () => Promise<WebhookStore>) {
    this.#load = load;
  }

  async migrate() {
    return (await this.#load()).migrate();
  }
  async insertWebhook(...a: Parameters<WebhookStore["insertWebhook"]>) {
    return (await this.#load()).insertWebhook(...a);
  }
  async getWebhook(...a: Parameters<WebhookStore["getWebhook"]>) {
    return (await this.#load()).getWebhook(...a);
  }
  async listWebhooks(...a: Parameters<WebhookStore["listWebhooks"]>) {
    return (await this.#load()).listWebhooks(...a);
  }
  async updateWebhook(...a: Parameters<WebhookStore["updateWebhook"]>) {
    return (await this.#load()).updateWebhook(...a);
  }
  async deleteWebhook(...a: Parameters<WebhookStore["deleteWebhook"]>) {
    return (await this.#load()).deleteWebhook(...a);
  }
  async enqueueDeliveries(...a: Parameters<WebhookStore["enqueueDeliveries"]>) {
    return (await this.#load()).enqueueDeliveries(...a);
  }
  async leaseDueDeliveries(...a: Parameters<WebhookStore["leaseDueDeliveries"]>) {
    return (await this.#load()).leaseDueDeliveries(...a);
  }
  async recordAttempt(...a: Parameters<WebhookStore["recordAttempt"]>) {
    return (await this.#load()).recordAttempt(...a);
  }
  async pauseWebhook(...a: Parameters<WebhookStore["pauseWebhook"]>) {
    return (await this.#load()).pauseWebhook(...a);
  }
  async resumeWebhook(...a: Parameters<WebhookStore["resumeWebhook"]>) {
    return (await this.#load()).resumeWebhook(...a);
  }
  async listAttempts(...a: Parameters<WebhookStore["listAttempts"]>) {
    return (await this.#load()).listAttempts(...a);
  }
  async getDelivery(...a: Parameters<WebhookStore["getDelivery"]>) {
    return (await this.#load()).getDelivery(...a);
  }
  async redeliver(...a: Parameters<WebhookStore["redeliver"]>) {
    return (await this.#load()).redeliver(...a);
  }
}
