/**
 * Downloads served through Sluice (the fs store, one-time URLs): HEAD answers without spending
 * or opening anything, and a one-time URL serves its bytes in full once, however slow its reader.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { PNG, uploadRequest } from "./helpers/fixtures.js";
import { startServer, waitForFinal, type TestServer } from "./helpers/server.js";

/** The lease every claim gets here (SLUICE_TICKET_LEASE): short, so that a slow reader outlasts several. */
const LEASE_MS = 1000;
/** SLUICE_DOWNLOAD_IDLE_TIMEOUT: above the second-long pauses TCP makes in a steady slow read. */
const IDLE_MS = 3000;

let server: TestServer;
before(async () => {
  server = await startServer({ SLUICE_ALLOWED_TYPES: "image/*,application/octet-stream", SLUICE_MAX_SIZE: String(64 * 1024 ** 2), SLUICE_TICKET_LEASE: String(LEASE_MS / 1000), SLUICE_DOWNLOAD_IDLE_TIMEOUT: String(IDLE_MS / 1000) });
});
after(async () => server.stop());

async function archived(data: Buffer, request: Record<string, unknown>): Promise<string> {
  const issued = await server.api("POST", "/v1/uploads", { ...request, size: data.byteLength });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  const put = await fetch(issued.body.upload.url, { method: "PUT", headers: issued.body.upload.headers, body: new Uint8Array(data) });
  assert.equal(put.status, 200, await put.text());
  const final = await waitForFinal(server, issued.body.id, 30_000);
  assert.equal(final.state, "archived", JSON.stringify(final));
  return final.fileId!;
}

async function downloadUrl(fileId: string, once: boolean): Promise<string> {
  const res = await server.api("GET", `/v1/files/${fileId}/download${once ? "?once=true" : ""}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.url as string;
}

/** Open file descriptors of the server process (sockets, files, pipes). */
async function openFds(): Promise<number> {
  return (await fs.readdir(`/proc/${server.process.pid}/fd`)).length;
}

async function statusOf(url: string, method = "GET"): Promise<number> {
  const res = await fetch(url, { method });
  await res.arrayBuffer();
  return res.status;
}

describe("HEAD on a download URL", () => {
  it("answers the headers without spending a one-time URL, which then serves its bytes once", async () => {
    const fileId = await archived(PNG, uploadRequest(PNG, { filename: "head cat.png" }));
    const url = await downloadUrl(fileId, true);
    for (let i = 0; i < 3; i++) {
      const head = await fetch(url, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), String(PNG.byteLength));
      assert.equal(head.headers.get("content-type"), "image/png");
      assert.match(head.headers.get("content-disposition")!, /^attachment; filename="head_cat\.png"/);
      assert.equal(head.headers.get("x-content-type-options"), "nosniff");
      assert.equal((await head.arrayBuffer()).byteLength, 0);
    }
    const get = await fetch(url);
    assert.equal(get.status, 200);
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), PNG);
    assert.equal(await statusOf(url), 410, "the GET spent it");
    assert.equal(await statusOf(url, "HEAD"), 410, "HEAD tells it is spent, too");
  });

  it("opens nothing: 50 HEADs leave the server's open file descriptors as they were", async () => {
    const fileId = await archived(PNG, uploadRequest(PNG));
    const urls = [await downloadUrl(fileId, false), await downloadUrl(fileId, true)];
    for (const url of urls) assert.equal(await statusOf(url, "HEAD"), 200); // warm: the keep-alive socket exists
    const before = await openFds();
    for (let i = 0; i < 50; i++) {
      for (const url of urls) assert.equal(await statusOf(url, "HEAD"), 200);
    }
    const afterwards = await openFds();
    assert.ok(afterwards - before <= 2, `open descriptors grew from ${before} to ${afterwards} over 100 HEADs`);
  });
});

/**
 * Reads a response slowly: `chunkPause` ms after every chunk, or not at all once `stallAfter`
 * bytes have come (until `resume` is called). Resolves with what arrived and how it ended.
 */
function slowGet(url: string, options: { chunkPause: number; stallAfter?: number }) {
  let resume: () => void = () => undefined;
  let reading: () => void = () => undefined;
  const firstBytes = new Promise<void>((resolve) => (reading = resolve));
  const done = new Promise<{ status: number; bytes: Buffer; complete: boolean; ms: number }>((resolve, reject) => {
    const started = Date.now();
    const req = http.get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let stalled = false;
      res.on("data", (chunk: Buffer) => {
        reading();
        chunks.push(chunk);
        received += chunk.byteLength;
        res.pause();
        if (options.stallAfter !== undefined && received >= options.stallAfter && !stalled) {
          stalled = true;
          resume = () => res.resume();
          return;
        }
        setTimeout(() => res.resume(), options.chunkPause);
      });
      const finish = (complete: boolean) => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks), complete, ms: Date.now() - started });
      res.on("end", () => finish(res.complete));
      res.on("aborted", () => finish(false));
      res.on("error", () => finish(false));
      res.on("close", () => finish(res.complete));
    });
    req.on("error", reject);
  });
  return { done, firstBytes, resume: () => resume() };
}

describe("a one-time download slower than its lease", () => {
  it("serves its bytes once, in full, to the slow reader; others get 409 while it reads and 410 after", async () => {
    const data = randomBytes(12 * 1024 ** 2);
    const fileId = await archived(data, { filename: "big.bin", contentType: "application/octet-stream" });
    const url = await downloadUrl(fileId, true);
    const first = slowGet(url, { chunkPause: 40 });
    await first.firstBytes;
    const started = Date.now();
    let reading = true;
    const tries: { status: number; at: number }[] = [];
    const others = (async () => {
      while (reading) {
        tries.push({ status: await statusOf(url), at: Date.now() - started });
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const result = await first.done;
    reading = false;
    await others;
    assert.equal(result.status, 200);
    assert.ok(result.complete, `the slow reader's response was cut off after ${result.bytes.byteLength} bytes, ${result.ms} ms: ${JSON.stringify(server.logs.filter((l) => l.msg === "one-time download dropped").slice(-5))}`);
    assert.ok(result.bytes.equals(data), "the slow reader got other bytes");
    // 409 while Sluice still sends (the claim renewed lease after lease), then 410 once the last
    // bytes have left (the reader may still be draining its socket); never a second 200.
    const statuses = tries.map((t) => t.status).join(",");
    assert.match(statuses, /^(409,)*409(,410)*$/, `others got ${statuses} while the first read`);
    const lastInUse = Math.max(...tries.filter((t) => t.status === 409).map((t) => t.at));
    assert.ok(lastInUse > 3 * LEASE_MS, `the claim was held for ${lastInUse} ms only: not several leases, so this proved nothing`);
    assert.equal(await statusOf(url), 410);
  });

  it("drops a reader that takes nothing for the idle timeout, never sends it the rest, and frees the URL", async () => {
    const data = randomBytes(12 * 1024 ** 2);
    const fileId = await archived(data, { filename: "stall.bin", contentType: "application/octet-stream" });
    const url = await downloadUrl(fileId, true);
    const first = slowGet(url, { chunkPause: 0, stallAfter: 64 * 1024 });
    await first.firstBytes;
    // The stalled reader holds the claim until the idle timeout; then another client gets it all.
    let second: Buffer | undefined;
    const deadline = Date.now() + IDLE_MS + 5 * LEASE_MS;
    while (!second && Date.now() < deadline) {
      const res = await fetch(url);
      if (res.status === 200) second = Buffer.from(await res.arrayBuffer());
      else {
        assert.equal(res.status, 409);
        await res.arrayBuffer();
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.ok(second?.equals(data), "no other client got the file once the stalled reader was dropped");
    first.resume();
    const stalled = await first.done;
    assert.equal(stalled.complete, false, `the stalled reader got the whole file too (${stalled.bytes.byteLength} bytes): served twice`);
    assert.ok(stalled.bytes.byteLength < data.byteLength);
    assert.equal(await statusOf(url), 410);
  });
});
