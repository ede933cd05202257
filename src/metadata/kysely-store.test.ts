import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from "kysely";
import { compileWatchInsert, type WatchRow } from "./kysely-store.js";
import type { Database } from "./schema.js";

const compilerOnly = (dialect: "sqlite" | "postgres") =>
  new Kysely<Database>({
    dialect: {
      createAdapter: () => (dialect === "sqlite" ? new SqliteAdapter() : new PostgresAdapter()),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => (dialect === "sqlite" ? new SqliteIntrospector(db) : new PostgresIntrospector(db)),
      createQueryCompiler: () => (dialect === "sqlite" ? new SqliteQueryCompiler() : new PostgresQueryCompiler()),
    },
  });

const rows = (n: number, seed: number): WatchRow[] =>
  Array.from({ length: n }, (_, i) => ({ expires_at: 1_900_000_000_000 + seed * 1000 + i, upload_id: `upl_${seed}_${i}`, key: `upl_${seed}_${i}/a b.bin`, data: JSON.stringify({ i, seed }) }));

describe("compileWatchInsert: the expiry watches' cached INSERT", () => {
  for (const dialect of ["sqlite", "postgres"] as const) {
    it(`is, on ${dialect}, what Kysely's query builder compiles, for every row count, cached or not`, () => {
      const db = compilerOnly(dialect);
      const cache = new Map<number, string>();
      for (const n of [1, 2, 3, 7, 50, 1000]) {
        for (const seed of [1, 2]) {
          const batch = rows(n, seed);
          const expected = db
            .insertInto("expiry_watch")
            .values(batch)
            .onConflict((oc) => oc.columns(["expires_at", "upload_id"]).doNothing())
            .compile();
          const cachedBefore = cache.has(n);
          const got = compileWatchInsert(db, batch, cache);
          assert.equal(got.sql, expected.sql, `${n} rows`);
          assert.deepEqual(got.parameters, expected.parameters, `${n} rows, ${cachedBefore ? "cached" : "first"}`);
          assert.equal(cache.has(n), true);
        }
      }
    });
  }

  it("keeps at most 64 row counts", () => {
    const db = compilerOnly("sqlite");
    const cache = new Map<number, string>();
    for (let n = 1; n <= 100; n++) compileWatchInsert(db, rows(n, 0), cache);
    assert.ok(cache.size <= 64, `${cache.size}`);
    assert.equal(compileWatchInsert(db, rows(100, 1), cache).parameters.length, 400);
  });
});
