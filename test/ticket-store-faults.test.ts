/**
 * A real Redis killed in the middle of a gateway upload and started again (with its append-only
 * file, as production Redis runs): the client is told 503, but the record says the bytes
 * arrived, so they stay and end archived (never `failed` for good with its bytes stranded, as
 * before), and a retry on the same URL is refused as a second use.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { PNG, sha256, uploadRequest } from "./helpers/fixtures.js";
import { startRedis, type BackendServer } from "./helpers/backends.js";
import { eventually, startServer, waitForFinal, type TestServer } from "./helpers/server.js";

let redis: BackendServer;
let server: TestServer;

before(async () => {
  redis = await startRedis({ persistent: true });
  // One processing attempt, and a sweep every second: a failed arrival is `failed` within seconds.
  server = await startServer({ SLUICE_TICKETS: redis.url, SLUICE_TICKET_LEASE: "4", SLUICE_MAX_ATTEMPTS: "1", SLUICE_RECONCILE_INTERVAL: "1" });
});
after(async () => {
  await server?.stop();
  await redis?.stop();
});

/** A PUT whose body is sent in two halves, with `between` run after the first. */
function putInHalves(url: string, headers: Record<string, string>, body: Buffer, between: () => Promise<void>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "PUT", headers: { ...headers, "content-length": String(body.byteLength) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    const half = Math.floor(body.byteLength / 2);
    req.write(body.subarray(0, half), () => {
      // Let the first half reach storage before the ticket store goes away.
      setTimeout(() => {
        between().then(() => req.end(body.subarray(half)), reject);
      }, 200);
    });
  });
}

const put = (url: string, headers: Record<string, string>, body: Buffer) => fetch(url, { method: "PUT", headers, body: new Uint8Array(body) });

describe("the ticket store killed mid-upload, then restarted", () => {
  it("answers 503, keeps the recorded bytes, archives them, and refuses a retry as a second use", async () => {
    const body = Buffer.concat([PNG, randomBytes(256 * 1024)]);
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(body));
    assert.equal(issued.status, 201);
    const { url, headers } = issued.body.upload as { url: string; headers: Record<string, string> };

    const first = await putInHalves(url, headers, body, () => redis.halt());
    assert.equal(first.status, 503, first.body);
    assert.equal((JSON.parse(first.body) as { error: { code: string } }).error.code, "backend_unavailable");
    await redis.resume();
    await eventually(async () => assert.equal((await server.api("GET", "/readyz")).status, 200), 15_000);
    // The sweep processes the recorded bytes once the failed attempt's claim lease (4 s) has passed.
    const final = await waitForFinal(server, issued.body.id, 30_000);
    assert.equal(final.state, "archived", final.reason);
    const download = await server.api("GET", `/v1/files/${final.fileId}/download`);
    const bytes = Buffer.from(await (await fetch(download.body.url as string)).arrayBuffer());
    assert.equal(sha256(bytes), sha256(body));
    // The URL is spent: a retry is refused (the ticket survived in the append-only file).
    const retry = await put(url, headers, body);
    assert.equal(retry.status, 410);
    assert.equal(((await retry.json()) as { error: { code: string } }).error.code, "already_used");
  });
});
