import fs from "node:fs";
import path from "node:path";
import type SQLite from "better-sqlite3";
import { Kysely, SqliteDialect, type SqliteDatabase } from "kysely";
import type { DatabaseConfig } from "../config.js";
import { KyselyMetadataStore, type AtomicBatch } from "./kysely-store.js";
import type { MetadataStore } from "./metadata-store.js";
import type { Database } from "./schema.js";

/** The configured metadata store. Only its database's driver is loaded (Lambda bundles carry no SQLite). */
export async function createMetadataStore(config: DatabaseConfig): Promise<MetadataStore> {
  switch (config.kind) {
    case "sqlite": {
      if (config.path !== ":memory:") fs.mkdirSync(path.dirname(config.path), { recursive: true });
      const { default: Database } = await import("better-sqlite3");
      const sqlite = new Database(config.path);
      // WAL lets readers run beside the writer; NORMAL sync is durable across process crashes.
      sqlite.pragma("journal_mode = WAL");
      sqlite.pragma("synchronous = NORMAL");
      sqlite.pragma("busy_timeout = 5000");
      const cached = withStatementCache(sqlite);
      const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cached }) });
      return new KyselyMetadataStore({ db, name: "sqlite metadata store", atomicBatch: synchronousBatch(sqlite, cached) });
    }
    case "postgres": {
      const { createPostgresKysely } = await import("../internal/postgres.js");
      return new KyselyMetadataStore({ db: createPostgresKysely<Database>(config.url), name: "postgres metadata store" });
    }
    case "dynamodb": {
      const { DynamoMetadataStore } = await import("./dynamodb-store.js");
      return new DynamoMetadataStore({ table: config.table, region: config.region, endpoint: config.endpoint, credentials: config.credentials });
    }
  }
}

/**
 * The outbox's writes (a change and its event) as one SQLite transaction, run synchronously
 * from BEGIN IMMEDIATE to COMMIT. Through Kysely's transaction, the write lock would be held
 * across event-loop turns; better-sqlite3 waits for a lock synchronously (busy_timeout), so a
 * second connection in the same process waiting for it would block the very loop that must
 * commit, and both would time out. Run whole, a transaction never waits on its own process.
 */
function synchronousBatch(sqlite: SQLite.Database, cached: SqliteDatabase): AtomicBatch {
  const run = sqlite.transaction((queries: Parameters<AtomicBatch>[0]) =>
    queries.map((q) => {
      const statement = cached.prepare(q.sql);
      if (statement.reader) {
        const rows = statement.all(q.parameters);
        return { rows, numAffectedRows: BigInt(rows.length) };
      }
      return { rows: [], numAffectedRows: BigInt(statement.run(q.parameters).changes) };
    }),
  );
  return (queries) => Promise.resolve().then(() => run.immediate(queries));
}

/**
 * Kysely's SQLite driver prepares every query anew. The store's SQL comes from a small,
 * fixed set of query shapes (values are bound, never inlined), so prepared statements are
 * cached by their text; the cache is bounded all the same.
 */
function withStatementCache(sqlite: SQLite.Database, max = 256): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}
