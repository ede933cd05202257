import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { PNG, sha256, uploadRequest } from "./helpers/fixtures.js";
import { filesUnder, startServer, waitForFinal, type TestServer } from "./helpers/server.js";

let server: TestServer;
let processorDir: string;
before(async () => {
  processorDir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-proc-"));
  const processor = path.join(processorDir, "policy.mjs");
  await fs.writeFile(
    processor,
    `export default async function ({ file, read }) {
      if (file.metadata.verdict === "reject") return { reject: "policy says no" };
      if (file.metadata.verdict === "crash") throw new Error("scanner unavailable");
      if (file.metadata.verdict === "read") {
        const text = await new Response(await read()).text();
        if (text.includes("EICAR")) return { reject: "virus found" };
      }
    }`,
  );
  server = await startServer({ SLUICE_PROCESSORS: processor, SLUICE_MAX_ATTEMPTS: "2" });
});
after(async () => {
  await server.stop();
  await fs.rm(processorDir, { recursive: true, force: true });
});

async function issue(body: Uint8Array, overrides: Record<string, unknown> = {}) {
  const res = await server.api("POST", "/v1/uploads", uploadRequest(body, { filename: "data.bin", contentType: "application/octet-stream", ...overrides }));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string; key: string; upload: { url: string; headers: Record<string, string> } };
}

async function put(url: string, body: Uint8Array | string, headers: Record<string, string>) {
  const res = await fetch(url, { method: "PUT", headers, body: typeof body === "string" ? body : new Uint8Array(body) });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
}

/**
 * What this upload left in staging, and any half-written upload (`put_*` temporary file).
 * Earlier tests' files may still be being archived in the background (`copy_*` files): those
 * are not this upload's, and uploads in this file run one at a time.
 */
async function leftovers(id: string) {
  const staging = (await filesUnder(`${server.dataDir}/objects/staging`)).filter((k) => k.startsWith(`${id}/`));
  const partial = (await filesUnder(`${server.dataDir}/objects/.tmp`)).filter((f) => f.startsWith("put_"));
  return [...staging, ...partial];
}

describe("the upload URL", () => {
  it("refuses a tampered signature with 403 before touching any store", async () => {
    const t = await issue(PNG);
    const url = new URL(t.upload.url);
    url.searchParams.set("signature", url.searchParams.get("signature")!.replace(/^./, (c) => (c === "A" ? "B" : "A")));
    const res = await put(url.toString(), PNG, t.upload.headers);
    assert.equal(res.status, 403);
    assert.equal(res.body.error?.code, "invalid_signature");
    // The ticket was not claimed: the real URL still works.
    assert.equal((await put(t.upload.url, PNG, t.upload.headers)).status, 200);
  });

  it("refuses an altered expiry or another upload's id", async () => {
    const a = await issue(PNG);
    const b = await issue(PNG);
    const later = new URL(a.upload.url);
    later.searchParams.set("expires", String(Number(later.searchParams.get("expires")) + 1000));
    assert.equal((await put(later.toString(), PNG, a.upload.headers)).status, 403);
    const swapped = a.upload.url.replace(a.id, b.id);
    assert.equal((await put(swapped, PNG, a.upload.headers)).status, 403);
    const unsigned = new URL(a.upload.url);
    unsigned.searchParams.delete("signature");
    assert.equal((await put(unsigned.toString(), PNG, a.upload.headers)).status, 403);
  });

  it("refuses an expired URL with 410", async () => {
    const t = await issue(PNG, { expiresIn: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    const res = await put(t.upload.url, PNG, t.upload.headers);
    assert.equal(res.status, 410);
    assert.equal(res.body.error?.code, "expired");
    assert.deepEqual(await leftovers(t.id), []);
  });

  it("works once: a second use in sequence gets 410 and changes nothing", async () => {
    const t = await issue(PNG);
    assert.equal((await put(t.upload.url, PNG, t.upload.headers)).status, 200);
    const other = randomBytes(PNG.byteLength);
    const again = await put(t.upload.url, other, t.upload.headers);
    assert.equal(again.status, 410);
    assert.equal(again.body.error?.code, "already_used");
    const final = await waitForFinal(server, t.id);
    assert.equal(final.state, "archived");
    assert.deepEqual(await fs.readFile(path.join(server.dataDir, "objects/archive", t.key)), PNG);
  });

  it("lets exactly one of 50 concurrent uses win; the others get 409 or 410; one object is stored", async () => {
    const body = randomBytes(512 * 1024);
    const t = await issue(body);
    const results = await Promise.all(Array.from({ length: 50 }, () => put(t.upload.url, body, t.upload.headers)));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, JSON.stringify(statuses));
    // Whether any of them overlapped the winner (409) or came after it (410) is up to timing;
    // the next test makes the overlap certain.
    assert.ok(statuses.every((s) => s === 200 || s === 409 || s === 410), JSON.stringify(statuses));
    const final = await waitForFinal(server, t.id);
    assert.equal(final.state, "archived");
    const archived = (await filesUnder(`${server.dataDir}/objects/archive`)).filter((k) => k.startsWith(t.id));
    assert.deepEqual(archived, [t.key]);
    assert.equal(sha256(await fs.readFile(path.join(server.dataDir, "objects/archive", t.key))), sha256(body));
    const rows = (await server.api("GET", "/v1/files?limit=1000")).body.items.filter((f: { uploadId: string }) => f.uploadId === t.id);
    assert.equal(rows.length, 1);
  });

  it("answers 409 to every use while another is still sending, and lets that one finish", async () => {
    const body = randomBytes(256 * 1024);
    const t = await issue(body);
    const url = new URL(t.upload.url);
    // Send the headers and half the body, then hold the rest back.
    const slow = http.request(url, { method: "PUT", headers: { ...t.upload.headers, "content-length": String(body.byteLength) } });
    const slowResponse = new Promise<{ status: number; body: string }>((resolve, reject) => {
      slow.on("response", (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      slow.on("error", reject);
    });
    slow.write(body.subarray(0, body.byteLength / 2));
    const deadline = Date.now() + 10_000;
    while ((await server.api("GET", `/v1/uploads/${t.id}`)).body.state !== "uploading") {
      assert.ok(Date.now() < deadline, "the first request never claimed the ticket");
      await new Promise((r) => setTimeout(r, 20));
    }
    const during = await Promise.all(Array.from({ length: 20 }, () => put(t.upload.url, body, t.upload.headers)));
    assert.deepEqual(
      during.map((r) => `${r.status} ${r.body.error?.code}`),
      Array.from({ length: 20 }, () => "409 upload_in_progress"),
    );
    slow.end(body.subarray(body.byteLength / 2));
    assert.equal((await slowResponse).status, 200);
    const later = await put(t.upload.url, body, t.upload.headers);
    assert.equal(`${later.status} ${later.body.error?.code}`, "410 already_used");
    const final = await waitForFinal(server, t.id);
    assert.equal(final.state, "archived");
    assert.equal(sha256(await fs.readFile(path.join(server.dataDir, "objects/archive", t.key))), sha256(body));
  });
});

describe("the body", () => {
  it("refuses a body longer than declared with 413 and keeps the URL usable", async () => {
    const t = await issue(PNG);
    const long = Buffer.concat([PNG, Buffer.from("extra")]);
    const res = await put(t.upload.url, long, t.upload.headers);
    assert.equal(res.status, 413);
    assert.equal(res.body.error?.code, "too_large");
    assert.deepEqual(await leftovers(t.id), []);
    assert.equal((await put(t.upload.url, PNG, t.upload.headers)).status, 200);
  });

  it("cuts off a chunked body that runs past the declared size with 413", async () => {
    const t = await issue(PNG);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(PNG);
        c.enqueue(new Uint8Array(10_000));
        c.close();
      },
    });
    const res = await fetch(t.upload.url, { method: "PUT", headers: t.upload.headers, body: stream, duplex: "half" } as RequestInit);
    assert.equal(res.status, 413);
    assert.deepEqual(await leftovers(t.id), []);
    assert.equal((await put(t.upload.url, PNG, t.upload.headers)).status, 200);
  });

  it("refuses a body shorter than declared with 400 and keeps the URL usable", async () => {
    const t = await issue(PNG);
    const res = await put(t.upload.url, PNG.subarray(0, 10), t.upload.headers);
    assert.equal(res.status, 400);
    assert.equal(res.body.error?.code, "length_mismatch");
    assert.deepEqual(await leftovers(t.id), []);
    assert.equal((await put(t.upload.url, PNG, t.upload.headers)).status, 200);
  });

  it("refuses a Content-Type other than the declared one", async () => {
    const t = await issue(PNG, { contentType: "image/png" });
    const res = await put(t.upload.url, PNG, { "content-type": "image/gif" });
    assert.equal(res.status, 400);
    assert.equal(res.body.error?.code, "content_type_mismatch");
    assert.equal((await put(t.upload.url, PNG, t.upload.headers)).status, 200);
  });

  it("leaves no partial file when the client disconnects mid-upload, and the URL still works", async () => {
    const body = randomBytes(4 * 1024 * 1024);
    const t = await issue(body);
    const url = new URL(t.upload.url);
    const req = http.request(url, { method: "PUT", headers: { ...t.upload.headers, "content-length": body.byteLength } });
    req.on("error", () => undefined);
    req.write(body.subarray(0, 1024 * 1024));
    // Wait until the server is streaming it.
    for (let i = 0; i < 100; i++) {
      if ((await server.api("GET", `/v1/uploads/${t.id}`)).body.state === "uploading") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal((await server.api("GET", `/v1/uploads/${t.id}`)).body.state, "uploading");
    req.destroy();
    for (let i = 0; i < 100; i++) {
      if ((await server.api("GET", `/v1/uploads/${t.id}`)).body.state === "issued") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal((await server.api("GET", `/v1/uploads/${t.id}`)).body.state, "issued");
    assert.deepEqual(await leftovers(t.id), []);
    assert.equal((await put(t.upload.url, body, t.upload.headers)).status, 200);
    assert.equal((await waitForFinal(server, t.id)).state, "archived");
    assert.equal(sha256(await fs.readFile(path.join(server.dataDir, "objects/archive", t.key))), sha256(body));
  });
});

describe("processors", () => {
  it("archives what the processor accepts", async () => {
    const t = await issue(PNG, { metadata: { verdict: "read" } });
    await put(t.upload.url, PNG, t.upload.headers);
    assert.equal((await waitForFinal(server, t.id)).state, "archived");
  });

  it("rejects with the processor's reason", async () => {
    const t = await issue(PNG, { metadata: { verdict: "reject" } });
    await put(t.upload.url, PNG, t.upload.headers);
    const final = await waitForFinal(server, t.id);
    assert.equal(final.state, "rejected");
    assert.equal(final.reason, "processor policy.mjs: policy says no");
  });

  it("lets a processor read the bytes", async () => {
    const eicar = Buffer.from("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    const t = await issue(eicar, { filename: "eicar.txt", contentType: "text/plain", metadata: { verdict: "read" } });
    await put(t.upload.url, eicar, t.upload.headers);
    const final = await waitForFinal(server, t.id);
    assert.equal(final.state, "rejected");
    assert.equal(final.reason, "processor policy.mjs: virus found");
  });

  it("retries a crashing processor with backoff, then marks the upload failed, keeping the bytes", async () => {
    const t = await issue(PNG, { metadata: { verdict: "crash" } });
    await put(t.upload.url, PNG, t.upload.headers);
    const final = await waitForFinal(server, t.id, 20_000);
    assert.equal(final.state, "failed");
    assert.match(final.reason!, /^failed after 2 attempts: scanner unavailable/);
    assert.ok((await filesUnder(`${server.dataDir}/objects/staging`)).includes(t.key), "a failed file stays in staging for an operator");
  });
});
