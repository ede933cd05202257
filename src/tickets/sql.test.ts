import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Kysely, SqliteDialect } from "kysely";
import { openSqlite, sqliteDriversHere, type SqliteConnection } from "../internal/sqlite.js";
import { SqlTicketStore, type TicketDatabase } from "./sql.js";
import { describeSharedTicketStore } from "./ticket-store.conformance.js";

// The SQL store in its SQLite form (what Workers run on D1): two connections to one database
// file stand for two instances, on each SQLite binding this Node has. PostgreSQL's form runs
// in postgres.server.test.ts.
for (const driver of await sqliteDriversHere()) {
  let dir: string;
  const connections: SqliteConnection[] = [];
  describeSharedTicketStore(
    `sql on sqlite (${driver}, two connections to one file)`,
    async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-sqltickets-"));
      for (let i = 0; i < 2; i++) {
        const sqlite = await openSqlite(path.join(dir, "tickets.db"), { driver });
        sqlite.exec("PRAGMA journal_mode = WAL");
        connections.push(sqlite);
      }
      return [{ stop: () => fs.rm(dir, { recursive: true, force: true }) }];
    },
    () => {
      const sqlite = connections.shift();
      if (!sqlite) throw new Error("both connections were opened in open()");
      return new SqlTicketStore({ db: new Kysely<TicketDatabase>({ dialect: new SqliteDialect({ database: sqlite.database }) }), dialect: "sqlite", name: `sqlite ticket store (${driver})` });
    },
  );
}
