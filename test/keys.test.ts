/** API keys: created, scoped, revoked, and the limits a scope sets, through HTTP on a real server. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PNG, uploadRequest } from "./helpers/fixtures.js";
import { startServer, waitForFinal, type TestServer } from "./helpers/server.js";

let server: TestServer;
before(async () => {
  server = await startServer({ SLUICE_RATE_LIMIT: "1000/min", SLUICE_RATE_LIMIT_IP: "off" });
});
after(() => server?.stop());

async function newKey(scope?: Record<string, unknown>) {
  const res = await server.api("POST", "/v1/keys", { name: "tenant", ...(scope && { scope }) });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const key = res.body.key as string;
  const as = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(server.url + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined && { "content-type": "application/json" }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
    const parsed: any = text ? JSON.parse(text) : undefined;
    return { status: r.status, headers: r.headers, body: parsed };
  };
  return { id: res.body.id as string, key, record: res.body, as };
}

const put = (issued: { upload: { url: string; headers: Record<string, string> } }, body: Buffer = PNG) =>
  fetch(issued.upload.url, { method: "PUT", headers: issued.upload.headers, body: new Uint8Array(body) }).then((r) => r.status);

describe("scoped API keys", () => {
  it("stores the key hashed and shows the scope, never the key, in listings", async () => {
    const k = await newKey({ allowedTypes: ["image/*"], maxSize: 1000, keyPrefix: "tenant-a/", rateLimit: "5/min", bytesPerDay: 5000, openTickets: 2 });
    assert.deepEqual(k.record.scope, { allowedTypes: ["image/*"], maxSize: 1000, keyPrefix: "tenant-a/", rateLimit: "5/min", bytesPerDay: 5000, openTickets: 2 });
    const listed = await server.api("GET", "/v1/keys");
    const mine = (listed.body.items as { id: string; scope: unknown }[]).find((i) => i.id === k.id);
    assert.deepEqual(mine?.scope, k.record.scope);
    assert.ok(!JSON.stringify(listed.body).includes(k.key));
  });

  it("refuses bad scopes with 400 naming the field", async () => {
    for (const [scope, field] of [
      [{ keyPrefix: "../escape/" }, "keyPrefix"],
      [{ keyPrefix: "no-slash" }, "keyPrefix"],
      [{ keyPrefix: "a/upl_x/" }, "keyPrefix"],
      [{ allowedTypes: ["images"] }, "allowedTypes"],
      [{ rateLimit: "off" }, "rateLimit"],
      [{ maxSize: -1 }, "maxSize"],
      [{ unknown: 1 }, "scope"],
    ] as const) {
      const res = await server.api("POST", "/v1/keys", { name: "x", scope });
      assert.equal(res.status, 400, JSON.stringify(scope));
      assert.match(res.body.error.message, new RegExp(field), JSON.stringify(res.body));
    }
  });

  it("narrows types and size, and puts every upload under the key prefix", async () => {
    const k = await newKey({ allowedTypes: ["image/png"], maxSize: 1000, keyPrefix: "tenant-b/photos/" });
    const type = await k.as("POST", "/v1/uploads", uploadRequest(PNG, { contentType: "text/plain", filename: "a.txt" }));
    assert.equal(type.status, 415);
    assert.match(type.body.error.message, /this key/);
    const size = await k.as("POST", "/v1/uploads", uploadRequest(PNG, { size: 1001 }));
    assert.equal(size.status, 413);
    const ok = await k.as("POST", "/v1/uploads", uploadRequest(PNG));
    assert.equal(ok.status, 201);
    assert.match(ok.body.key, /^tenant-b\/photos\/upl_[A-Za-z0-9_-]+\/cat\.png$/);
    assert.equal(await put(ok.body), 200);
    assert.equal((await waitForFinal(server, ok.body.id)).state, "archived");
    assert.equal((await k.as("GET", `/v1/uploads/${ok.body.id}`)).body.state, "archived");
  });

  it("shows a prefixed key only the files under its prefix, and others' as unknown", async () => {
    const a = await newKey({ keyPrefix: "tenant-c/" });
    const b = await newKey({ keyPrefix: "tenant-d/" });
    const mine = await a.as("POST", "/v1/uploads", uploadRequest(PNG));
    const theirs = await b.as("POST", "/v1/uploads", uploadRequest(PNG));
    for (const u of [mine, theirs]) assert.equal(await put(u.body), 200);
    const fileA = (await waitForFinal(server, mine.body.id)).fileId!;
    const fileB = (await waitForFinal(server, theirs.body.id)).fileId!;
    const listed = (await a.as("GET", "/v1/files?limit=100")).body.items as { id: string }[];
    assert.ok(listed.some((f) => f.id === fileA));
    assert.ok(!listed.some((f) => f.id === fileB));
    assert.equal((await a.as("GET", `/v1/files/${fileB}`)).status, 404);
    assert.equal((await a.as("GET", `/v1/files/${fileB}/download`)).status, 404);
    assert.equal((await a.as("DELETE", `/v1/files/${fileB}`)).status, 404);
    assert.equal((await a.as("GET", `/v1/uploads/${theirs.body.id}`)).status, 404);
    assert.equal((await a.as("POST", `/v1/uploads/${theirs.body.id}/complete`)).status, 404);
    assert.equal((await a.as("DELETE", `/v1/uploads/${theirs.body.id}`)).status, 404);
    // The full key sees both.
    const all = (await server.api("GET", "/v1/files?limit=100")).body.items as { id: string }[];
    assert.ok(all.some((f) => f.id === fileA) && all.some((f) => f.id === fileB));
  });

  it("treats key prefixes as exact namespaces: t/ does not reach t/b/, nor t/b/ reach t/, nor t/ reach tb/", async () => {
    const parent = await newKey({ keyPrefix: "nest/" });
    const child = await newKey({ keyPrefix: "nest/b/" });
    const sibling = await newKey({ keyPrefix: "nestb/" });
    const keys = [parent, child, sibling];
    const uploads = await Promise.all(keys.map((k) => k.as("POST", "/v1/uploads", uploadRequest(PNG))));
    for (const u of uploads) assert.equal(await put(u.body), 200);
    const files = await Promise.all(uploads.map(async (u) => (await waitForFinal(server, u.body.id)).fileId!));
    for (const [i, k] of keys.entries()) {
      const listed = ((await k.as("GET", "/v1/files?limit=1000")).body.items as { id: string }[]).map((f) => f.id);
      assert.deepEqual(listed.filter((id) => files.includes(id)), [files[i]], `${k.record.scope.keyPrefix} lists only its own`);
      for (const [j, fileId] of files.entries()) {
        const expected = i === j ? 200 : 404;
        const what = `${k.record.scope.keyPrefix} on ${keys[j]!.record.scope.keyPrefix}'s file`;
        assert.equal((await k.as("GET", `/v1/files/${fileId}`)).status, expected, what);
        assert.equal((await k.as("GET", `/v1/files/${fileId}/download`)).status, expected, what);
        assert.equal((await k.as("GET", `/v1/uploads/${uploads[j]!.body.id}`)).status, expected, what);
        if (i !== j) {
          assert.equal((await k.as("DELETE", `/v1/files/${fileId}`)).status, 404, what);
          assert.equal((await k.as("POST", `/v1/uploads/${uploads[j]!.body.id}/complete`)).status, 404, what);
        }
      }
    }
  });

  it("lets only a full key manage keys", async () => {
    const k = await newKey({ maxSize: 10 });
    assert.equal((await k.as("POST", "/v1/keys", { name: "escalate" })).status, 403);
    assert.equal((await k.as("GET", "/v1/keys")).status, 403);
    assert.equal((await k.as("DELETE", `/v1/keys/${k.id}`)).status, 403);
    const full = await newKey();
    assert.equal((await full.as("GET", "/v1/keys")).status, 200);
  });

  it("applies the key's own rate instead of the service's", async () => {
    const k = await newKey({ rateLimit: "2/min" });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await k.as("POST", "/v1/uploads", uploadRequest(PNG))).status);
    assert.deepEqual(statuses, [201, 201, 429]);
    assert.equal((await server.api("POST", "/v1/uploads", uploadRequest(PNG))).status, 201, "other keys are not affected");
  });

  it("counts bytes issued per day", async () => {
    const k = await newKey({ bytesPerDay: 250 });
    assert.equal((await k.as("POST", "/v1/uploads", uploadRequest(PNG, { size: 200 }))).status, 201);
    const over = await k.as("POST", "/v1/uploads", uploadRequest(PNG, { size: 100 }));
    assert.equal(over.status, 429);
    assert.equal(over.body.error.code, "quota_exceeded");
    const retryAfter = Number(over.headers.get("retry-after"));
    assert.ok(retryAfter > 86_000 && retryAfter <= 86_400, `Retry-After ${retryAfter}`);
    assert.equal((await k.as("POST", "/v1/uploads", uploadRequest(PNG, { size: 50 }))).status, 201, "what fits still goes");
  });

  it("limits open uploads, and frees a slot when one arrives or is cancelled", async () => {
    const k = await newKey({ openTickets: 2 });
    const first = await k.as("POST", "/v1/uploads", uploadRequest(PNG));
    const second = await k.as("POST", "/v1/uploads", uploadRequest(PNG));
    assert.deepEqual([first.status, second.status], [201, 201]);
    const third = await k.as("POST", "/v1/uploads", uploadRequest(PNG));
    assert.equal(third.status, 429);
    assert.equal(third.body.error.code, "quota_exceeded");
    assert.equal(await put(first.body), 200);
    assert.equal((await k.as("POST", "/v1/uploads", uploadRequest(PNG))).status, 201, "an arrival frees its slot");
    assert.equal((await k.as("POST", "/v1/uploads", uploadRequest(PNG))).status, 429);
    assert.equal((await k.as("DELETE", `/v1/uploads/${second.body.id}`)).status, 200);
    assert.equal((await k.as("POST", "/v1/uploads", uploadRequest(PNG))).status, 201, "a cancellation frees its slot");
  });

  it("refuses a revoked key", async () => {
    const k = await newKey();
    assert.equal((await k.as("GET", "/v1/files")).status, 200);
    assert.equal((await server.api("DELETE", `/v1/keys/${k.id}`)).status, 204);
    let status = 0;
    for (const started = Date.now(); Date.now() - started < 5000; ) {
      status = (await k.as("GET", "/v1/files")).status;
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 401);
  });
});

describe("revoking a key ends what it issued", () => {
  const revoke = async (k: { id: string }) => assert.equal((await server.api("DELETE", `/v1/keys/${k.id}`)).status, 204);

  it("refuses its gateway upload URL with 410 key_revoked and shows the upload cancelled; other keys' URLs go on", async () => {
    const k = await newKey();
    const other = await newKey();
    const mine = await k.as("POST", "/v1/uploads", uploadRequest(PNG));
    const theirs = await other.as("POST", "/v1/uploads", uploadRequest(PNG));
    await revoke(k);
    const res = await fetch(mine.body.upload.url, { method: "PUT", headers: mine.body.upload.headers, body: new Uint8Array(PNG) });
    assert.equal(res.status, 410);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "key_revoked");
    assert.equal((await server.api("GET", `/v1/uploads/${mine.body.id}`)).body.state, "cancelled");
    assert.equal(await put(theirs.body), 200, "another key's upload is untouched");
    assert.equal((await waitForFinal(server, theirs.body.id)).state, "archived");
  });

  it("refuses its multipart part URLs", async () => {
    const k = await newKey();
    const issued = await k.as("POST", "/v1/uploads", uploadRequest(PNG, { size: 100 * 1024 ** 2 }));
    assert.ok(issued.body.multipart, JSON.stringify(issued.body));
    assert.equal((await server.api("POST", `/v1/uploads/${issued.body.id}/parts`, { partNumbers: [1] })).status, 200);
    await revoke(k);
    const parts = await server.api("POST", `/v1/uploads/${issued.body.id}/parts`, { partNumbers: [1] });
    assert.equal(parts.status, 410, JSON.stringify(parts.body));
    assert.equal(parts.body.error.code, "key_revoked");
    assert.equal((await server.api("GET", `/v1/uploads/${issued.body.id}`)).body.state, "cancelled");
  });

  it("refuses its download URLs, one-time or not, for GET and HEAD", async () => {
    const k = await newKey();
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(PNG));
    assert.equal(await put(issued.body), 200);
    const { fileId } = await waitForFinal(server, issued.body.id);
    const urls = [(await k.as("GET", `/v1/files/${fileId}/download`)).body.url as string, (await k.as("GET", `/v1/files/${fileId}/download?once=true`)).body.url as string];
    const kept = (await server.api("GET", `/v1/files/${fileId}/download`)).body.url as string;
    for (const url of urls) assert.equal((await fetch(url, { method: "HEAD" })).status, 200);
    await revoke(k);
    for (const url of urls) {
      assert.equal((await fetch(url, { method: "HEAD" })).status, 410);
      const res = await fetch(url);
      assert.equal(res.status, 410);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "key_revoked");
    }
    const res = await fetch(kept);
    assert.equal(res.status, 200, "a URL another key asked for still works");
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), PNG);
    // The key's id is signed into the URL: taking it out or swapping it breaks the signature.
    for (const by of [null, "env:00000000"]) {
      const forged = new URL(urls[0]!);
      if (by === null) forged.searchParams.delete("by");
      else forged.searchParams.set("by", by);
      assert.equal((await fetch(forged)).status, 403);
    }
  });
});

describe("rate limit per client address", () => {
  it("counts each address apart, reading X-Forwarded-For only as far as SLUICE_TRUST_PROXY says", async () => {
    const proxied = await startServer({ SLUICE_RATE_LIMIT: "off", SLUICE_RATE_LIMIT_IP: "2/min", SLUICE_TRUST_PROXY: "1" });
    try {
      const from = (xff: string) => proxied.api("POST", "/v1/uploads", uploadRequest(PNG), { "x-forwarded-for": xff }).then((r) => r.status);
      // One proxy: the client is the last entry; what the client wrote left of it is not believed.
      assert.deepEqual([await from("203.0.113.7"), await from("9.9.9.9, 203.0.113.7"), await from("203.0.113.7")], [201, 201, 429]);
      assert.equal(await from("198.51.100.1"), 201, "another address has its own count");
    } finally {
      await proxied.stop();
    }
    const direct = await startServer({ SLUICE_RATE_LIMIT: "off", SLUICE_RATE_LIMIT_IP: "1/min" });
    try {
      const from = (xff: string) => direct.api("POST", "/v1/uploads", uploadRequest(PNG), { "x-forwarded-for": xff }).then((r) => r.status);
      // No trusted proxy: the socket's address counts, whatever the header says.
      assert.deepEqual([await from("1.1.1.1"), await from("2.2.2.2")], [201, 429]);
    } finally {
      await direct.stop();
    }
  });
});
