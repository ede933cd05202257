/** Sluice on a real S3 server (Ceph RGW), uploads streamed through the gateway. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { SluiceNodeClient } from "@sluice/client/node";
import { HTML, PNG, sha256, uploadRequest } from "./helpers/fixtures.js";
import { keysIn, startSluiceOnRgw, type SluiceOnRgw } from "./helpers/rgw.js";
import { stalledRequest, within } from "./helpers/raw-http.js";
import { eventually, waitForFinal, type TestServer } from "./helpers/server.js";

let sluice: SluiceOnRgw;
let s3: S3Client;
let server: TestServer;
let staging: string;
let archive: string;

before(async () => {
  sluice = await startSluiceOnRgw({ SLUICE_UPLOAD_MODE: "gateway", SLUICE_BODY_IDLE_TIMEOUT: "2", SLUICE_MULTIPART_THRESHOLD: String(4 * 1024 * 1024), SLUICE_PART_SIZE: String(5 * 1024 * 1024) });
  ({ s3, server, staging, archive } = sluice);
});
after(() => sluice?.close());

const keysOf = (Bucket: string) => keysIn(s3, Bucket);

describe("on S3 (RGW), through the gateway", () => {
  it("creates its buckets and reports the object store ready", async () => {
    const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { backends: Record<string, string> };
    assert.equal(ready.backends["object store"], "up");
    assert.deepEqual(await keysOf(staging), []);
    assert.deepEqual(await keysOf(archive), []);
  });

  it("starts with no warning on Node 22 and later; on Node 20, with the AWS SDK's that it needs 22 from 2027", () => {
    const warnings = server.stderr().split("\n").filter((line) => line.includes("Warning"));
    if (Number(process.versions.node.split(".")[0]) >= 22) assert.deepEqual(warnings, []);
    else assert.ok(warnings.some((line) => line.includes("NodeVersionSupportWarning")), server.stderr());
  });

  it("streams an upload to staging, archives it by server-side copy, and empties staging", async () => {
    const body = randomBytes(3 * 1024 * 1024);
    body.set(PNG, 0); // a PNG signature up front, so the sniffer sees a PNG
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(body, { contentType: "image/png", sha256: sha256(body) }));
    assert.equal(issued.status, 201);
    const put = await fetch(issued.body.upload.url, { method: "PUT", headers: issued.body.upload.headers, body: new Uint8Array(body) });
    assert.equal(put.status, 200);
    const final = await waitForFinal(server, issued.body.id);
    assert.equal(final.state, "archived", final.reason);
    await eventually(async () => assert.deepEqual(await keysOf(staging), []));
    assert.deepEqual(await keysOf(archive), [issued.body.key]);
    const stored = await s3.send(new GetObjectCommand({ Bucket: archive, Key: issued.body.key }));
    assert.equal(sha256(await stored.Body!.transformToByteArray()), sha256(body));

    const second = await fetch(issued.body.upload.url, { method: "PUT", headers: issued.body.upload.headers, body: new Uint8Array(body) });
    assert.equal(second.status, 410);

    const download = await server.api("GET", `/v1/files/${final.fileId}/download`);
    const bytes = Buffer.from(await (await fetch(download.body.url)).arrayBuffer());
    assert.equal(sha256(bytes), sha256(body));
  });

  it("rejects a spoofed type after a ranged read, and removes it from staging", async () => {
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(HTML, { filename: "cat.png" }));
    await fetch(issued.body.upload.url, { method: "PUT", headers: issued.body.upload.headers, body: new Uint8Array(HTML) });
    const final = await waitForFinal(server, issued.body.id);
    assert.equal(final.state, "rejected");
    assert.match(final.reason!, /^type_mismatch/);
    await eventually(async () => assert.deepEqual(await keysOf(staging), []));
    assert.ok(!(await keysOf(archive)).includes(issued.body.key));
  });

  it("streams the parts of a multipart upload through Sluice to storage's UploadPart, and assembles them", async () => {
    const body = randomBytes(11 * 1024 * 1024);
    const client = new SluiceNodeClient({ baseUrl: server.url, apiKey: server.key });
    const result = await client.upload({ name: "parts.bin", type: "application/octet-stream", data: body }, { concurrency: 2, checksum: true });
    assert.deepEqual(result.multipart, { partSize: 5 * 1024 * 1024, partCount: 3 });
    const final = await waitForFinal(server, result.id);
    assert.equal(final.state, "archived", final.reason);
    const stored = await s3.send(new GetObjectCommand({ Bucket: archive, Key: result.key }));
    assert.equal(sha256(Buffer.from(await stored.Body!.transformToByteArray())), sha256(body));
    const file = await client.getFile(final.fileId!);
    assert.equal(file.sha256, sha256(body), "the SHA-256 computed while sending was recorded and verified");
  });

  it("drops a PUT that stops sending after the body-idle timeout, aborts it at storage, and frees its URL for a retry at once", async () => {
    const body = randomBytes(1024 * 1024);
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(body, { filename: "stall.bin", contentType: "application/octet-stream" }));
    assert.equal(issued.status, 201);
    const { url, headers } = issued.body.upload as { url: string; headers: Record<string, string> };
    const stalled = stalledRequest(url, { method: "PUT", headers: { ...headers, "content-length": String(body.byteLength) }, firstBytes: body.subarray(0, 128 * 1024) });
    try {
      const answer = await within(stalled.answer, 8000, null);
      assert.equal(answer?.status, 408, "answered within 8 s of the stall");
      assert.equal(answer.body.error?.code, "body_timeout");
    } finally {
      stalled.destroy();
    }
    assert.ok(!(await keysOf(staging)).includes(issued.body.key), "nothing was stored for the dropped body");
    const retried = await fetch(url, { method: "PUT", headers, body: new Uint8Array(body) });
    assert.equal(retried.status, 200, await retried.clone().text());
    const final = await waitForFinal(server, issued.body.id);
    assert.equal(final.state, "archived", final.reason);
    const stored = await s3.send(new GetObjectCommand({ Bucket: archive, Key: issued.body.key }));
    assert.equal(sha256(await stored.Body!.transformToByteArray()), sha256(body));
  });
});
