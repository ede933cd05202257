import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import pg from "pg";
import { startPostgres, type BackendServer } from "../../test/helpers/backends.js";
import { createPostgresKysely } from "./postgres.js";

describe("createPostgresKysely on a real PostgreSQL", () => {
  let server: BackendServer;
  before(async () => {
    server = await startPostgres();
  });
  after(() => server.stop());

  it("survives the server ending a connection that a transaction holds, and serves again", async () => {
    const db = createPostgresKysely(server.url);
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on("uncaughtException", onUncaught);
    try {
      await assert.rejects(
        db.transaction().execute(async (trx) => {
          const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx);
          // The connection is checked out and idle in its transaction when the server ends it,
          // as when PostgreSQL stops or fails over between two statements.
          await admin.query("SELECT pg_terminate_backend($1)", [rows[0]!.pid]);
          await new Promise((resolve) => setTimeout(resolve, 200));
          await sql`SELECT 1`.execute(trx);
        }),
      );
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(uncaught, []);
      const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(db);
      assert.equal(rows[0]!.one, 1);
    } finally {
      process.off("uncaughtException", onUncaught);
      await admin.end();
      await db.destroy();
    }
  });
});
