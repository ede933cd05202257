import assert from "node:assert/strict";
import { once } from "node:events";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { openSqlite } from "../src/internal/sqlite.js";
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

      const db = await openSqlite(path.join(dataDir, "sluice.db"), { readonly: true });
      const rows = db.database.prepare("select hash, prefix from api_keys").all([]) as { hash: string; prefix: string }[];
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

  it("on a busy port, stops with one line and stores no key; the next start on a free port prints one", async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-test-"));
    const busy = net.createServer();
    busy.listen(0, "127.0.0.1");
    await once(busy, "listening");
    const port = (busy.address() as net.AddressInfo).port;
    try {
      await assert.rejects(startServer({ SLUICE_API_KEYS: "", PORT: String(port) }, { dataDir, keep: true }), (err: Error) => {
        assert.match(err.message, new RegExp(`sluice: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another process \\(set PORT to a free one\\)\n`));
        assert.ok(!err.message.includes("sk_"), err.message);
        return true;
      });
      const db = await openSqlite(path.join(dataDir, "sluice.db"), { readonly: true });
      const [count] = db.database.prepare("select count(*) as n from api_keys").all([]) as { n: number }[];
      db.close();
      assert.equal(count?.n, 0, "no key was stored by the start that could not listen");

      const next = await startServer({ SLUICE_API_KEYS: "" }, { dataDir, keep: true });
      const key = /API key \(shown once, keep it\): (sk_\S+)/.exec(next.stderr())?.[1];
      await next.stop();
      assert.ok(key, next.stderr());
    } finally {
      busy.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });

  it("prints the address it listens on, and the public URL apart when it differs", async () => {
    const plain = await startServer({ SLUICE_API_KEYS: "" });
    const port = new URL(plain.url).port;
    await plain.stop();
    assert.match(plain.stderr(), new RegExp(`^ {2}Sluice is listening on http://127\\.0\\.0\\.1:${port}\n {2}API key`));
    assert.ok(!plain.stderr().includes("Public URL"), plain.stderr());

    const proxied = await startServer({ SLUICE_API_KEYS: "", SLUICE_PUBLIC_URL: "https://uploads.example.com/sluice" });
    await proxied.stop();
    const lines = proxied.stderr().split("\n");
    assert.equal(lines[0], `  Sluice is listening on http://127.0.0.1:${new URL(proxied.url).port}`);
    assert.equal(lines[1], "  Public URL: https://uploads.example.com/sluice");
    assert.match(lines[3] ?? "", /^ {2}Web uploader: https:\/\/uploads\.example\.com\/sluice\/#key=sk_/);
  });

  it("stops with one clear line naming a bad variable", async () => {
    await assert.rejects(startServer({ SLUICE_MAX_SIZE: "lots" }), /sluice: Invalid SLUICE_MAX_SIZE: expected a size in bytes\n/);
  });
});
