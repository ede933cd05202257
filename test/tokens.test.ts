/** Browser upload tokens, minted and used through HTTP on a real server. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { PNG, uploadRequest } from "./helpers/fixtures.js";
import { startServer, waitForFinal, type TestServer } from "./helpers/server.js";

const MiB = 1024 ** 2;
let server: TestServer;
before(async () => {
  server = await startServer({ SLUICE_RATE_LIMIT: "1000/min", SLUICE_RATE_LIMIT_IP: "off", SLUICE_MULTIPART_THRESHOLD: String(5 * MiB), SLUICE_PART_SIZE: String(5 * MiB) });
});
after(() => server?.stop());

/** A JSON call with any bearer credential. */
async function call(credential: string, method: string, path: string, body?: unknown) {
  const r = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${credential}`, ...(body !== undefined && { "content-type": "application/json" }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
  const parsed: any = text ? JSON.parse(text) : undefined;
  return { status: r.status, body: parsed };
}

async function mint(key: string, request: Record<string, unknown> = {}) {
  const res = await call(key, "POST", "/v1/tokens", request);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { token: string; id: string; expiresAt: string; expiresIn: number; keyPrefix?: string; metadata: Record<string, string> };
}

async function newKey(scope?: Record<string, unknown>) {
  const res = await server.api("POST", "/v1/keys", { name: "app", ...(scope && { scope }) });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { id: res.body.id as string, key: res.body.key as string };
}

const put = (issued: { upload: { url: string; headers: Record<string, string> } }, body: Uint8Array = PNG) =>
  fetch(issued.upload.url, { method: "PUT", headers: issued.upload.headers, body: new Uint8Array(body) }).then((r) => r.status);

describe("browser upload tokens", () => {
  it("are minted by a key with a clamped lifetime, and issue, upload and read their own uploads with the app's fixed metadata", async () => {
    const before = Date.now();
    const t = await mint(server.key, { expiresIn: 999999, metadata: { userId: "u_1" } });
    assert.match(t.token, /^sut_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    assert.equal(t.expiresIn, 3600, "a longer lifetime is clamped to an hour");
    assert.ok(Math.abs(Date.parse(t.expiresAt) - (before + 3600_000)) < 5000);
    const issued = await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG, { metadata: { album: "cats" } }));
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    assert.equal(await put(issued.body), 200);
    const status = await call(t.token, "GET", `/v1/uploads/${issued.body.id}`);
    assert.equal(status.status, 200);
    assert.equal((await waitForFinal(server, issued.body.id)).state, "archived");
    const file = await server.api("GET", `/v1/files/${(await waitForFinal(server, issued.body.id)).fileId}`);
    assert.deepEqual(file.body.metadata, { album: "cats", userId: "u_1", "sluice-token": t.id }, "the app sees who uploaded it, and through which token");
    assert.ok(!JSON.stringify(server.logs).includes(t.token), "the token is never logged");
  });

  it("refuse a browser's change to fixed metadata, and take the same value", async () => {
    const t = await mint(server.key, { metadata: { userId: "u_2" } });
    const changed = await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG, { metadata: { userId: "u_1" } }));
    assert.equal(changed.status, 403);
    assert.equal(changed.body.error.code, "metadata_fixed");
    const forged = await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG, { metadata: { "sluice-token": "tok_other" } }));
    assert.equal(forged.body.error.code, "metadata_fixed");
    assert.equal((await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG, { metadata: { userId: "u_2" } }))).status, 201);
  });

  it("send parts and complete a multipart upload of their own", async () => {
    const t = await mint(server.key);
    const data = randomBytes(6 * MiB);
    const issued = await call(t.token, "POST", "/v1/uploads", { filename: "big.bin", contentType: "application/octet-stream", size: data.length });
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    assert.equal(issued.body.multipart.partCount, 2);
    const urls = await call(t.token, "POST", `/v1/uploads/${issued.body.id}/parts`, { partNumbers: [1, 2] });
    assert.equal(urls.status, 200, JSON.stringify(urls.body));
    const parts = [];
    for (const p of urls.body.parts as { partNumber: number; url: string }[]) {
      const chunk = data.subarray((p.partNumber - 1) * 5 * MiB, p.partNumber * 5 * MiB);
      const res = await fetch(p.url, { method: "PUT", body: new Uint8Array(chunk) });
      assert.equal(res.status, 200);
      parts.push({ partNumber: p.partNumber, etag: res.headers.get("etag")! });
    }
    assert.equal((await call(t.token, "GET", `/v1/uploads/${issued.body.id}/parts`)).status, 200);
    const done = await call(t.token, "POST", `/v1/uploads/${issued.body.id}/complete`, { parts });
    assert.equal(done.status, 200, JSON.stringify(done.body));
  });

  it("read only their own uploads: another token's or the key's read as unknown", async () => {
    const mine = await mint(server.key);
    const theirs = await mint(server.key);
    const byKey = await server.api("POST", "/v1/uploads", uploadRequest(PNG));
    const byOther = await call(theirs.token, "POST", "/v1/uploads", uploadRequest(PNG));
    for (const id of [byKey.body.id, byOther.body.id]) {
      const res = await call(mine.token, "GET", `/v1/uploads/${id}`);
      assert.equal(res.status, 404, id);
      assert.equal((await call(mine.token, "POST", `/v1/uploads/${id}/complete`)).status, 404);
    }
    assert.equal((await call(theirs.token, "GET", `/v1/uploads/${byOther.body.id}`)).status, 200);
  });

  it("are refused, default deny, everywhere but issuing, parts, complete and status: 403 token_not_allowed", async () => {
    const t = await mint(server.key);
    const own = await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG));
    for (const [method, path, body] of [
      ["GET", "/v1/files"],
      ["GET", "/v1/files/fil_AAAAAAAAAAAAAAAAAAAAAA"],
      ["DELETE", "/v1/files/fil_AAAAAAAAAAAAAAAAAAAAAA"],
      ["GET", "/v1/files/fil_AAAAAAAAAAAAAAAAAAAAAA/download"],
      ["DELETE", `/v1/uploads/${own.body.id}`],
      ["POST", `/v1/uploads/${own.body.id}/retry`],
      ["GET", "/v1/keys"],
      ["POST", "/v1/keys", { name: "mine" }],
      ["POST", "/v1/tokens", {}],
      ["GET", "/v1/no-such-route"],
    ] as const) {
      const res = await call(t.token, method, path, body);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.body.error.code, "token_not_allowed", `${method} ${path}`);
    }
  });

  it("count their uploads (maxUploads) and refuse past it with 403 token_used_up; a refused request does not count", async () => {
    const t = await mint(server.key, { maxUploads: 2, allowedTypes: ["image/png"] });
    assert.equal((await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG, { contentType: "text/plain", filename: "a.txt" }))).status, 415);
    assert.equal((await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG))).status, 201);
    assert.equal((await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG))).status, 201);
    const third = await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG));
    assert.equal(third.status, 403);
    assert.equal(third.body.error.code, "token_used_up");
  });

  it("lie within the minting key's scope, and narrow it", async () => {
    const k = await newKey({ keyPrefix: "tenant-a/", allowedTypes: ["image/*"], maxSize: 10_000 });
    for (const request of [{ keyPrefix: "tenant-b/" }, { allowedTypes: ["text/plain"] }, { allowedTypes: ["*/*"] }, { maxSize: 20_000 }]) {
      const res = await call(k.key, "POST", "/v1/tokens", request);
      assert.equal(res.status, 403, JSON.stringify(request));
      assert.equal(res.body.error.code, "token_scope_exceeded");
    }
    const t = await mint(k.key, { allowedTypes: ["image/png"], maxSize: 100 });
    assert.equal(t.keyPrefix, "tenant-a/");
    const issued = await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG));
    assert.equal(issued.status, 201);
    assert.match(issued.body.key, /^tenant-a\/upl_/);
    assert.equal((await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG, { contentType: "image/jpeg", filename: "a.jpg" }))).status, 415);
    assert.equal((await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG, { size: 101 }))).status, 413);
    // The key still sees what its tokens uploaded: the same prefix.
    assert.equal((await call(k.key, "GET", `/v1/uploads/${issued.body.id}`)).status, 200);
    const bad = await call(server.key, "POST", "/v1/tokens", { expiresIn: 0, keyPrefix: "../" });
    assert.equal(bad.status, 400);
  });

  it("stop working when the minting key is revoked, when tampered with, and when expired: 401", async () => {
    const k = await newKey();
    const t = await mint(k.key);
    const shortLived = await mint(server.key, { expiresIn: 1 });
    assert.equal((await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG))).status, 201);
    const [payload, signature] = t.token.slice(4).split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as { meta: Record<string, string> };
    claims.meta = { userId: "admin" };
    const tampered = `sut_${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${signature}`;
    assert.equal((await call(tampered, "POST", "/v1/uploads", uploadRequest(PNG))).status, 401);
    assert.equal((await call("sut_garbage", "POST", "/v1/uploads", uploadRequest(PNG))).status, 401);
    assert.equal((await server.api("DELETE", `/v1/keys/${k.id}`)).status, 204);
    const revoked = await call(t.token, "POST", "/v1/uploads", uploadRequest(PNG));
    assert.equal(revoked.status, 401);
    assert.match(revoked.body.error.message, /revoked/);
    await new Promise((r) => setTimeout(r, 1100));
    const expired = await call(shortLived.token, "POST", "/v1/uploads", uploadRequest(PNG));
    assert.equal(expired.status, 401);
    assert.match(expired.body.error.message, /expired/);
  });
});
