import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { CompiledQuery } from "kysely";
import { openSqlite, preferredSqliteDrivers, sqliteDriversHere } from "./sqlite.js";

const major = Number(process.versions.node.split(".")[0]);
const drivers = await sqliteDriversHere();

describe("SQLite bindings", () => {
  it("opens on node:sqlite from Node 24, on better-sqlite3 before (Node 22's own where that did not load)", async () => {
    assert.equal(preferredSqliteDrivers()[0], major >= 24 ? "node:sqlite" : "better-sqlite3");
    assert.ok(drivers.length > 0, "some binding opens");
    if (major >= 24) assert.equal(drivers[0], "node:sqlite");
    if (major < 22) assert.deepEqual(drivers, ["better-sqlite3"]);
    const db = await openSqlite(":memory:");
    assert.equal(db.driver, drivers[0]);
    db.close();
  });

  for (const driver of drivers) {
    describe(driver, () => {
      it("gives plain-object rows, and tells a statement that returns rows from one that does not", async () => {
        const db = await openSqlite(":memory:", { driver });
        db.exec("create table t (id integer primary key, name text not null, size integer)");
        const insert = db.database.prepare("insert into t (name, size) values (?, ?) returning id");
        assert.equal(insert.reader, true);
        assert.deepEqual(insert.all(["a.png", 2 ** 40]), [{ id: 1 }]);
        const update = db.database.prepare("update t set size = ? where name = ?");
        assert.equal(update.reader, false);
        assert.equal(Number(update.run([7, "a.png"]).changes), 1);
        assert.deepEqual(db.database.prepare("select name, size from t").all([]), [{ name: "a.png", size: 7 }]);
        assert.deepEqual([...db.database.prepare("select id, name from t").iterate([])], [{ id: 1, name: "a.png" }]);
        assert.equal(db.database.prepare("select 1"), db.database.prepare("select 1"), "a statement is prepared once per text");
        db.close();
      });

      it("runs a batch whole or not at all, and a second connection sees it only once committed", async () => {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-sqlite-driver-"));
        const file = path.join(dir, "t.db");
        const [a, b] = [await openSqlite(file, { driver }), await openSqlite(file, { driver })];
        try {
          a.exec("PRAGMA journal_mode = WAL");
          a.exec("create table t (id integer primary key, name text not null unique)");
          const insert = (name: string) => CompiledQuery.raw("insert into t (name) values (?)", [name]);
          const done = a.runImmediate([insert("x"), CompiledQuery.raw("select count(*) as n from t")]);
          assert.deepEqual(done.map((r) => r.numAffectedRows), [1n, 1n]);
          assert.deepEqual(done[1]?.rows, [{ n: 1 }]);
          assert.throws(() => a.runImmediate([insert("y"), insert("x")]), /UNIQUE/);
          assert.deepEqual(b.database.prepare("select name from t").all([]), [{ name: "x" }], "the failed batch left nothing");
          a.runImmediate([insert("z")]);
          assert.deepEqual(b.database.prepare("select name from t order by name").all([]), [{ name: "x" }, { name: "z" }]);
        } finally {
          a.close();
          b.close();
          await fs.rm(dir, { recursive: true, force: true });
        }
      });
    });
  }
});
