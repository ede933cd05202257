import fs from "node:fs";
import path from "node:path";
import type { DatabaseConfig } from "../config.js";
import type { SqliteDriver } from "../internal/sqlite.js";
import type { MetadataStore } from "./metadata-store.js";
import type { Database } from "./schema.js";

/** The configured metadata store. Only its database's driver is loaded (Lambda bundles carry no SQLite). */
export async function createMetadataStore(config: DatabaseConfig): Promise<MetadataStore> {
  switch (config.kind) {
    case "sqlite":
      return createSqliteMetadataStore(config.path);
    case "postgres": {
      const { createPostgresKysely } = await import("../internal/postgres.js");
      const { KyselyMetadataStore } = await import("./kysely-store.js");
      return new KyselyMetadataStore({ db: createPostgresKysely<Database>(config.url), name: "postgres metadata store" });
    }
    case "dynamodb": {
      const { DynamoMetadataStore } = await import("./dynamodb-store.js");
      return new DynamoMetadataStore({ table: config.table, region: config.region, endpoint: config.endpoint, credentials: config.credentials });
    }
  }
}

/**
 * The embedded store on a SQLite file (or `:memory:`), on `driver` or this Node's default
 * (src/internal/sqlite.ts). The outbox's writes (a change and its event) run as one
 * synchronous BEGIN IMMEDIATE transaction (`runImmediate` says why).
 */
export async function createSqliteMetadataStore(file: string, options: { driver?: SqliteDriver } = {}): Promise<MetadataStore> {
  if (file !== ":memory:") fs.mkdirSync(path.dirname(file), { recursive: true });
  const { openSqlite } = await import("../internal/sqlite.js");
  // Loaded here, not with the module: a DynamoDB-only bundle (the Lambda issuer) carries no Kysely.
  const { Kysely, SqliteDialect } = await import("kysely");
  const { KyselyMetadataStore } = await import("./kysely-store.js");
  const sqlite = await openSqlite(file, options);
  // WAL lets readers run beside the writer; NORMAL sync is durable across process crashes.
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = NORMAL");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite.database }) });
  return new KyselyMetadataStore({
    db,
    name: `sqlite metadata store (${sqlite.driver})`,
    atomicBatch: (queries) => Promise.resolve().then(() => sqlite.runImmediate(queries)),
  });
}
