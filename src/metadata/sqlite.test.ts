import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import { openSqlite, sqliteDriversHere } from "../internal/sqlite.js";
import { createSqliteMetadataStore } from "./factory.js";
import { describeMetadataStore } from "./metadata-store.conformance.js";
import { migrationProvider } from "./migrations.js";
import type { Database } from "./schema.js";

// On each SQLite binding this Node has: better-sqlite3 on Node 20, node:sqlite on 24, both on 22.
for (const driver of await sqliteDriversHere()) {
  describeMetadataStore(`sqlite (${driver})`, async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-sqlite-"));
    const store = await createSqliteMetadataStore(path.join(dir, "test.db"), { driver });
    const peer = await createSqliteMetadataStore(path.join(dir, "test.db"), { driver });
    return {
      store,
      peer,
      close: async () => {
        await Promise.all([store.close(), peer.close()]);
        await fs.rm(dir, { recursive: true, force: true });
      },
    };
  });
}

describe("sqlite metadata store: upgrading a database", () => {
  it("keeps the expiry watches of a database made before they were keyed by expiry (migration 0006)", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-sqlite-upgrade-"));
    try {
      const file = path.join(dir, "old.db");
      const sqlite = await openSqlite(file);
      const old = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite.database }) });
      const migrated = await new Migrator({ db: old, provider: migrationProvider }).migrateTo("0005_copy_progress");
      assert.equal(migrated.error, undefined);
      const expiresAt = 1_900_000_000_000;
      const data = { id: "upl_old", key: "upl_old/a.bin", state: "expired" };
      await old.insertInto("expiry_watch").values({ upload_id: "upl_old", expires_at: expiresAt, key: "upl_old/a.bin", data: JSON.stringify(data), claim: null }).execute();
      await old.destroy();

      const store = await createSqliteMetadataStore(file);
      try {
        await store.migrate();
        assert.equal(await store.expireDue({ now: expiresAt - 1, graceMs: 0, limit: 10 }), 0, "not due yet");
        assert.equal(await store.expireDue({ now: expiresAt + 1, graceMs: 0, limit: 10 }), 1);
        const { events } = await store.readEvents({ limit: 10, uploadId: "upl_old" });
        assert.deepEqual(
          events.map((e) => [e.type, e.data]),
          [["upload.expired", data]],
        );
      } finally {
        await store.close();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
