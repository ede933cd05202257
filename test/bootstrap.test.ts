import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { sha256 } from "./helpers/fixtures.js";
import { startServer } from "./helpers/server.js";

describe("the first start", () => {
  it("creates an API key, prints it once, stores only its hash, and never prints it again", async () => {
    const first = await startServer({ SLUICE_API_KEYS: "" }, { keep: true });
    let dataDir = first.dataDir;
    try {
      const key = /API key \(shown once, keep it\): (sk_[A-Za-z0-9_-]{43})/.exec(first.stderr())?.[1];
      assert.ok(key, first.stderr());
      assert.ok(first.stderr().includes(`/#key=${key}`), "a ready-to-open link to the web page is printed");
      assert.ok(!JSON.stringify(first.logs).includes(key), "the key is not in the JSON logs");
      const ok = await fetch(`${first.url}/v1/files`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(ok.status, 200);
      await first.stop();

      const db = new Database(path.join(dataDir, "sluice.db"), { readonly: true });
      const rows = db.prepare("select hash, prefix from api_keys").all() as { hash: string; prefix: string }[];
      db.close();
      assert.deepEqual(rows, [{ hash: sha256(Buffer.from(key)), prefix: key.slice(0, 10) }]);
      const raw = await fs.readFile(path.join(dataDir, "sluice.db"));
      assert.ok(!raw.includes(Buffer.from(key)), "the key itself is nowhere in the database file");

      const second = await startServer({ SLUICE_API_KEYS: "" }, { dataDir, keep: true });
      dataDir = second.dataDir;
      assert.ok(!second.stderr().includes("sk_"), second.stderr());
      assert.equal((await fetch(`${second.url}/v1/files`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
      await second.stop();
    } finally {
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });

  it("stops with one clear line naming a bad variable", async () => {
    await assert.rejects(startServer({ SLUICE_MAX_SIZE: "lots" }), /sluice: Invalid SLUICE_MAX_SIZE: expected a size in bytes\n/);
  });
});
