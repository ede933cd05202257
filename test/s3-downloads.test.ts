/**
 * Downloads and key revocation on a real S3 server (Ceph RGW): what a presigned GET can make
 * storage answer, SLUICE_DOWNLOAD_MODE=proxy for the headers it cannot, and direct uploads of
 * a key revoked while its presigned URL was out.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { HTML, PNG, sha256, uploadRequest } from "./helpers/fixtures.js";
import { type Rgw, keysIn, removeBuckets, s3ClientFor, sluiceS3Env, useRgw } from "./helpers/rgw.js";
import { eventually, startServer, waitForFinal, type TestServer } from "./helpers/server.js";

let rgw: Rgw;
let s3: S3Client;
const suffix = randomBytes(4).toString("hex");
const buckets = { presigned: { staging: `staging-p-${suffix}`, archive: `archive-p-${suffix}` }, proxy: { staging: `staging-x-${suffix}`, archive: `archive-x-${suffix}` } };
let presigned: TestServer;
let proxy: TestServer;

before(async () => {
  rgw = await useRgw();
  s3 = s3ClientFor(rgw);
  const env = (b: { staging: string; archive: string }, extra: Record<string, string> = {}) => sluiceS3Env(rgw, { SLUICE_STAGING_BUCKET: b.staging, SLUICE_ARCHIVE_BUCKET: b.archive, ...extra });
  [presigned, proxy] = await Promise.all([startServer(env(buckets.presigned)), startServer(env(buckets.proxy, { SLUICE_DOWNLOAD_MODE: "proxy" }))]);
});
after(async () => {
  await Promise.all([presigned?.stop(), proxy?.stop()]);
  if (s3) await removeBuckets(s3, [...Object.values(buckets.presigned), ...Object.values(buckets.proxy)]);
  s3?.destroy();
  await rgw?.stop();
});

/** A PNG of some size: the signature up front, random after. */
function png(size = 32 * 1024): Buffer {
  const body = randomBytes(size);
  body.set(PNG, 0);
  return body;
}

/** Uploads straight to staging with the key given (the server's own by default) and says so with complete. */
async function uploadDirect(server: TestServer, body: Buffer, key = server.key): Promise<{ id: string; key: string; state: string; reason?: string; fileId?: string }> {
  const issued = await server.api("POST", "/v1/uploads", uploadRequest(body, { filename: "page.png" }), { authorization: `Bearer ${key}` });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  return { id: issued.body.id, key: issued.body.key, ...(await finish(server, issued.body, body)) };
}

async function finish(server: TestServer, issued: { id: string; upload: { url: string; headers: Record<string, string> } }, body: Buffer) {
  const put = await fetch(issued.upload.url, { method: "PUT", headers: issued.upload.headers, body: new Uint8Array(body) });
  assert.equal(put.status, 200, await put.text());
  assert.equal((await server.api("POST", `/v1/uploads/${issued.id}/complete`)).status, 200);
  return waitForFinal(server, issued.id);
}

describe("presigned downloads (SLUICE_DOWNLOAD_MODE=presigned, the default)", () => {
  it("make storage answer with the recorded type, an attachment disposition and no-store, even for an object stored as text/html", async () => {
    const body = png();
    const up = await uploadDirect(presigned, body);
    assert.equal(up.state, "archived", up.reason);
    // The archive object now claims to be HTML, holding HTML: what storage would serve by itself.
    await s3.send(new PutObjectCommand({ Bucket: buckets.presigned.archive, Key: up.key, Body: HTML, ContentType: "text/html" }));
    const { url } = (await presigned.api("GET", `/v1/files/${up.fileId}/download`)).body as { url: string };
    assert.equal(new URL(url).origin, rgw.endpoint, "straight from storage");
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "image/png");
    assert.equal(res.headers.get("content-disposition"), `attachment; filename="page.png"; filename*=UTF-8''page.png`);
    assert.equal(res.headers.get("cache-control"), "private, no-store");
    await res.arrayBuffer();
  });
});

describe("proxied downloads (SLUICE_DOWNLOAD_MODE=proxy)", () => {
  it("serve the bytes through Sluice with nosniff and a sandbox CSP, for GET and HEAD", async () => {
    const body = png();
    const up = await uploadDirect(proxy, body);
    assert.equal(up.state, "archived", up.reason);
    const { url } = (await proxy.api("GET", `/v1/files/${up.fileId}/download`)).body as { url: string };
    assert.equal(new URL(url).origin, proxy.url, "through Sluice, not storage");
    for (const method of ["HEAD", "GET"]) {
      const res = await fetch(url, { method });
      assert.equal(res.status, 200, method);
      assert.equal(res.headers.get("content-type"), "image/png");
      assert.equal(res.headers.get("content-length"), String(body.byteLength));
      assert.match(res.headers.get("content-disposition")!, /^attachment; /);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(res.headers.get("content-security-policy"), "sandbox; default-src 'none'");
      const bytes = Buffer.from(await res.arrayBuffer());
      if (method === "GET") assert.equal(sha256(bytes), sha256(body));
    }
    assert.equal((await fetch(url)).status, 200, "not one-time unless asked");
  });
});

describe("a key revoked while its presigned upload URL is out", () => {
  it("cannot stop storage taking the PUT, but the bytes are removed at arrival and never archived", async () => {
    const made = await presigned.api("POST", "/v1/keys", { name: "to-revoke" });
    assert.equal(made.status, 201);
    const body = png();
    const issued = await presigned.api("POST", "/v1/uploads", uploadRequest(body), { authorization: `Bearer ${made.body.key}` });
    assert.equal(issued.status, 201);
    assert.equal((await presigned.api("DELETE", `/v1/keys/${made.body.id}`)).status, 204);
    const final = await finish(presigned, issued.body, body);
    assert.equal(final.state, "rejected");
    assert.match(final.reason ?? "", /API key .* revoked/);
    await eventually(async () => assert.ok(!(await keysIn(s3, buckets.presigned.staging)).includes(issued.body.key), "left in staging"));
    assert.ok(!(await keysIn(s3, buckets.presigned.archive)).includes(issued.body.key), "archived");
  });
});
