import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { SqlTicketStore, type TicketDatabase } from "./sql.js";
import { describeSharedTicketStore } from "./ticket-store.conformance.js";

// The SQL store in its SQLite form (what Workers run on D1): two connections to one database
// file stand for two instances. PostgreSQL's form runs in postgres.server.test.ts.
let dir: string;
describeSharedTicketStore(
  "sql on sqlite (two connections to one file)",
  async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-sqltickets-"));
    return [{ stop: () => fs.rm(dir, { recursive: true, force: true }) }];
  },
  () => {
    const sqlite = new Database(path.join(dir, "tickets.db"));
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("busy_timeout = 5000");
    return new SqlTicketStore({ db: new Kysely<TicketDatabase>({ dialect: new SqliteDialect({ database: sqlite }) }), dialect: "sqlite", name: "sqlite ticket store" });
  },
);
