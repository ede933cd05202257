/**
 * Direct uploads to a real S3 server (Ceph RGW): presigned PUT and POST, what storage itself
 * enforces, arrival by the client's complete call and by S3 events in RGW's own format, and
 * presigned downloads.
 */
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { HTML, PNG, sha256, uploadRequest } from "./helpers/fixtures.js";
import { type Rgw, keysIn, startSluiceOnRgw, type SluiceOnRgw } from "./helpers/rgw.js";
import { ROOT, eventually, waitForFinal, type TestServer } from "./helpers/server.js";

let sluice: SluiceOnRgw;
let rgw: Rgw;
let s3: S3Client;
let server: TestServer;
let staging: string;
let archive: string;
const EVENTS_SECRET = "events-secret-for-the-direct-tests-0123";

let gateDir: string;

before(async () => {
  gateDir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-gate-"));
  sluice = await startSluiceOnRgw({ SLUICE_EVENTS_SECRET: EVENTS_SECRET, SLUICE_PROCESSORS: path.join(ROOT, "test/fixtures/gate-processor.mjs"), SLUICE_TEST_GATE_DIR: gateDir });
  ({ rgw, s3, server, staging, archive } = sluice);
});
after(async () => {
  await sluice?.close();
  await fs.rm(gateDir, { recursive: true, force: true });
});

const keysOf = (Bucket: string) => keysIn(s3, Bucket);
const bytesOf = async (Bucket: string, Key: string) => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToByteArray());

/** A PNG of `size` bytes: the signature up front, random after. */
function png(size = 64 * 1024): Buffer {
  const body = randomBytes(size);
  body.set(PNG, 0);
  return body;
}

async function issue(body: Buffer, overrides: Record<string, unknown> = {}) {
  const issued = await server.api("POST", "/v1/uploads", uploadRequest(body, overrides));
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  return issued.body as { id: string; key: string; upload: { method: string; url: string; headers: Record<string, string>; fields?: Record<string, string> } };
}

const put = (url: string, headers: Record<string, string>, body: Buffer) => fetch(url, { method: "PUT", headers, body: new Uint8Array(body) });

/** An S3 event exactly as RGW 16 pushes it (`eventSource: "ceph:s3"`), for the keys given. */
function rgwEvent(keys: string[], eventName = "ObjectCreated:Put", bucket = staging) {
  return {
    Records: keys.map((key) => ({
      eventVersion: "2.2",
      eventSource: "ceph:s3",
      awsRegion: "",
      eventTime: new Date().toISOString(),
      eventName,
      userIdentity: { principalId: "tester" },
      requestParameters: { sourceIPAddress: "" },
      responseElements: { "x-amz-request-id": "d4355a3e.4136.1", "x-amz-id-2": "1028-default-default" },
      s3: {
        s3SchemaVersion: "1.0",
        configurationId: "sluice",
        bucket: { name: bucket, ownerIdentity: { principalId: "tester" }, arn: `arn:aws:s3:::${bucket}`, id: "d4355a3e.4138.1" },
        // S3 events form-encode keys: a space is "+".
        object: { key: encodeURIComponent(key).replace(/%20/g, "+"), size: 1, eTag: "7b8b965a", versionId: "", sequencer: "D4A3026B92DD2D3B", metadata: [], tags: [] },
      },
      eventId: "1795335124.992861.7b8b965a",
      opaqueData: "",
    })),
  };
}

async function sendEvent(event: unknown, auth: Record<string, string> = { authorization: `Bearer ${EVENTS_SECRET}` }) {
  const res = await fetch(`${server.url}/v1/events/s3`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify(event) });
  return { status: res.status, body: (await res.json()) as { results?: { key: string; outcome: string }[]; error?: { code: string } } };
}

describe("direct uploads to S3 (RGW)", () => {
  it("issues a presigned PUT at storage that binds type, length and If-None-Match", async () => {
    const body = png();
    const issued = await issue(body, { sha256: sha256(body) });
    const url = new URL(issued.upload.url);
    assert.equal(url.origin, rgw.endpoint);
    assert.equal(url.pathname, `/${staging}/${issued.key}`);
    assert.deepEqual(url.searchParams.get("X-Amz-SignedHeaders")?.split(";"), ["content-length", "content-type", "host", "if-none-match", "x-amz-checksum-sha256"]);
    assert.equal(issued.upload.headers["if-none-match"], "*");
    assert.equal(issued.upload.headers["content-type"], "image/png");

    assert.equal((await put(issued.upload.url, issued.upload.headers, body)).status, 200);
    // A second PUT while the object is in staging: storage refuses it, and the first body stays.
    assert.equal((await put(issued.upload.url, issued.upload.headers, png())).status, 412);
    assert.equal(sha256(await bytesOf(staging, issued.key)), sha256(body));

    const completed = await server.api("POST", `/v1/uploads/${issued.id}/complete`);
    assert.equal(completed.status, 200);
    const final = await waitForFinal(server, issued.id);
    assert.equal(final.state, "archived", final.reason);
    assert.equal(sha256(await bytesOf(archive, issued.key)), sha256(body));
    // Staging holds the object while the URL lives: storage itself refuses the URL's reuse.
    assert.equal((await put(issued.upload.url, issued.upload.headers, body)).status, 412);
    assert.ok((await keysOf(staging)).includes(issued.key));

    // Downloads are presigned GETs on the archive, answered with a safe Content-Disposition.
    const download = await server.api("GET", `/v1/files/${final.fileId}/download`);
    assert.equal(new URL(download.body.url).origin, rgw.endpoint);
    const res = await fetch(download.body.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-disposition"), `attachment; filename="cat.png"; filename*=UTF-8''cat.png`);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(body));
  });

  it("lets storage refuse a tampered URL, an expired one, another type and another length, storing nothing", async () => {
    const body = png(4096);
    const issued = await issue(body);
    const tampered = issued.upload.url.replace(/X-Amz-Signature=([0-9a-f])/, (_m, c: string) => `X-Amz-Signature=${c === "0" ? "1" : "0"}`);
    assert.equal((await put(tampered, issued.upload.headers, body)).status, 403);
    const otherKey = issued.upload.url.replace(issued.key.split("/")[0]!, "upl_AAAAAAAAAAAAAAAAAAAAAA");
    assert.equal((await put(otherKey, issued.upload.headers, body)).status, 403);
    assert.equal((await put(issued.upload.url, { ...issued.upload.headers, "content-type": "text/html" }, body)).status, 403);
    assert.equal((await put(issued.upload.url, issued.upload.headers, body.subarray(0, 4000))).status, 403);
    assert.equal((await put(issued.upload.url, issued.upload.headers, Buffer.concat([body, body]))).status, 403);

    const short = await issue(body, { expiresIn: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal((await put(short.upload.url, short.upload.headers, body)).status, 403);
    const status = await server.api("GET", `/v1/uploads/${short.id}`);
    assert.equal(status.body.state, "expired");

    const keys = await keysOf(staging);
    assert.ok(!keys.includes(issued.key) && !keys.includes(short.key), `nothing stored, found ${keys.join(", ")}`);
    // The URL is still good for its one real upload.
    assert.equal((await put(issued.upload.url, issued.upload.headers, body)).status, 200);
  });

  it("accepts bytes stored before the URL expired, when complete comes after", async () => {
    const body = png(4096);
    const issued = await issue(body, { expiresIn: 2 });
    assert.equal((await put(issued.upload.url, issued.upload.headers, body)).status, 200);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await server.api("GET", `/v1/uploads/${issued.id}`)).body.state, "expired", "the ticket alone says expired");
    const completed = await server.api("POST", `/v1/uploads/${issued.id}/complete`);
    assert.equal(completed.status, 200, JSON.stringify(completed.body));
    assert.equal((await waitForFinal(server, issued.id)).state, "archived");
    // Nothing stored, and past expiry: complete says so.
    const never = await issue(body, { expiresIn: 1 });
    await new Promise((r) => setTimeout(r, 1500));
    const late = await server.api("POST", `/v1/uploads/${never.id}/complete`);
    assert.equal(late.status, 410);
    assert.equal(late.body.error.code, "expired");
  });

  it("never archives bytes whose SHA-256 differs from the promised one", async (t) => {
    const promised = png(8192);
    const sent = png(8192);
    const issued = await issue(promised, { sha256: sha256(promised) });
    const res = await put(issued.upload.url, issued.upload.headers, sent);
    t.diagnostic(`storage answered ${res.status} to bytes that do not match x-amz-checksum-sha256`);
    // Storage that checks x-amz-checksum-sha256 refuses the bytes (400 BadDigest); storage that
    // does not (RGW 16) stores them, and then the pipeline's own streamed hash rejects them.
    if (res.status === 200) {
      await server.api("POST", `/v1/uploads/${issued.id}/complete`);
      const final = await waitForFinal(server, issued.id);
      assert.equal(final.state, "rejected");
      assert.match(final.reason!, /^checksum_mismatch/);
    } else {
      assert.equal(res.status, 400);
    }
    assert.ok(!(await keysOf(archive)).includes(issued.key));
  });

  it("records arrival from RGW-format events, every record, duplicates and out of order alike", async () => {
    const bodies = [png(), png()];
    const uploads = [await issue(bodies[0]!, { filename: "two words.png" }), await issue(bodies[1]!)];
    assert.ok(uploads[0]!.key.endsWith("/two_words.png"));
    for (const [i, u] of uploads.entries()) assert.equal((await put(u.upload.url, u.upload.headers, bodies[i]!)).status, 200);

    // A removal first (ignored), the second upload's creation before the first's, and every
    // record of an event handled.
    const early = await sendEvent(rgwEvent([uploads[0]!.key], "ObjectRemoved:Delete"));
    assert.deepEqual(early.body.results?.map((r) => r.outcome), ["ignored"]);
    const first = await sendEvent(rgwEvent([uploads[1]!.key, uploads[0]!.key]));
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.results?.map((r) => r.outcome), ["recorded", "recorded"]);
    // The same event four more times, at once: harmless.
    const repeats = await Promise.all([1, 2, 3, 4].map(() => sendEvent(rgwEvent([uploads[1]!.key, uploads[0]!.key]))));
    for (const r of repeats) assert.equal(r.status, 200);

    for (const [i, u] of uploads.entries()) {
      const final = await waitForFinal(server, u.id);
      assert.equal(final.state, "archived", final.reason);
      assert.equal(sha256(await bytesOf(archive, u.key)), sha256(bodies[i]!));
    }
    // Late duplicates after archiving find the object held for its URL's life, and nothing to do.
    const late = await sendEvent(rgwEvent([uploads[0]!.key]));
    assert.deepEqual(late.body.results?.map((r) => r.outcome), ["held"]);
    const files = await server.api("GET", "/v1/files?limit=100");
    for (const u of uploads) assert.equal(files.body.items.filter((f: { uploadId: string }) => f.uploadId === u.id).length, 1);
  });

  it("lets storage refuse every reuse of a PUT URL after its file was archived, for as long as the URL lives", async () => {
    const body = png();
    const issued = await issue(body);
    assert.equal((await put(issued.upload.url, issued.upload.headers, body)).status, 200);
    await sendEvent(rgwEvent([issued.key]));
    assert.equal((await waitForFinal(server, issued.id)).state, "archived");
    // The same bytes again, and other bytes: storage answers 412 to both, since staging still holds the key.
    assert.equal((await put(issued.upload.url, issued.upload.headers, body)).status, 412);
    assert.equal((await put(issued.upload.url, issued.upload.headers, png())).status, 412);
    const event = await sendEvent(rgwEvent([issued.key]));
    assert.deepEqual(event.body.results?.map((r) => r.outcome), ["held"]);
    assert.equal(sha256(await bytesOf(staging, issued.key)), sha256(body), "what staging holds is the first upload");
    assert.equal(sha256(await bytesOf(archive, issued.key)), sha256(body));
    assert.equal((await server.api("GET", `/v1/uploads/${issued.id}`)).body.state, "archived");
  });

  it("removes an object no upload owns, and ignores other buckets", async () => {
    const stray = "upl_AAAAAAAAAAAAAAAAAAAAAA/stray file.bin";
    await s3.send(new PutObjectCommand({ Bucket: staging, Key: stray, Body: "x" }));
    await s3.send(new PutObjectCommand({ Bucket: staging, Key: "not-an-upload.txt", Body: "x" }));
    const event = await sendEvent(rgwEvent([stray, "not-an-upload.txt"]));
    assert.deepEqual(event.body.results?.map((r) => [r.key, r.outcome]), [
      [stray, "removed"],
      ["not-an-upload.txt", "removed"],
    ]);
    assert.deepEqual((await keysOf(staging)).filter((k) => k === stray || k === "not-an-upload.txt"), []);
    const other = await sendEvent(rgwEvent(["upl_x/y"], "ObjectCreated:Put", archive));
    assert.deepEqual(other.body.results?.map((r) => r.outcome), ["ignored"]);
  });

  it("skips a traversal-shaped key: 400 invalid_key alone, 200 beside a good record, which is handled", async () => {
    const alone = await sendEvent(rgwEvent(["../../etc/passwd"]));
    assert.equal(alone.status, 400, JSON.stringify(alone.body));
    assert.equal(alone.body.error?.code, "invalid_key");
    const stray = "upl_BBBBBBBBBBBBBBBBBBBBBB/stray.bin";
    await s3.send(new PutObjectCommand({ Bucket: staging, Key: stray, Body: "x" }));
    const batch = await sendEvent(rgwEvent(["../../etc/passwd", stray]));
    assert.equal(batch.status, 200, JSON.stringify(batch.body));
    assert.deepEqual(batch.body.results?.map((r) => [r.key, r.outcome]), [
      ["../../etc/passwd", "invalid_key"],
      [stray, "removed"],
    ]);
  });

  it("authenticates events by bearer token, Basic password or HMAC of the body", async () => {
    const event = rgwEvent([]);
    const body = JSON.stringify(event);
    assert.equal((await sendEvent(event, {})).status, 401);
    assert.equal((await sendEvent(event, { authorization: "Bearer wrong-secret" })).status, 401);
    assert.equal((await sendEvent(event, { "x-sluice-signature": `sha256=${"0".repeat(64)}` })).status, 401);
    assert.equal((await sendEvent(event, { authorization: `Basic ${Buffer.from(`rgw:${EVENTS_SECRET}`).toString("base64")}` })).status, 200);
    const hmac = createHmac("sha256", EVENTS_SECRET).update(body).digest("hex");
    assert.equal((await sendEvent(event, { "x-sluice-signature": `sha256=${hmac}` })).status, 200);
    // RGW: the secret as every record's opaqueData, and no header at all.
    const withOpaque = (values: string[]) => ({ Records: values.map((opaqueData) => ({ ...rgwEvent(["upl_x/none"]).Records[0], opaqueData })) });
    assert.equal((await sendEvent(withOpaque([EVENTS_SECRET, EVENTS_SECRET]), {})).status, 200);
    assert.equal((await sendEvent(withOpaque([EVENTS_SECRET, "wrong"]), {})).status, 401);
    assert.equal((await sendEvent(withOpaque([EVENTS_SECRET]), { authorization: "Bearer wrong-secret" })).status, 401);
    const bad = await sendEvent({ Records: [{ nope: true }] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error?.code, "invalid_request");
  });

  it("issues a POST policy for browser forms that fixes the key, the type and the length", async () => {
    const body = png(10_000);
    const issued = await issue(body, { method: "POST" });
    assert.equal(issued.upload.method, "POST");
    const form = (fields: Record<string, string>, file: Buffer, type = "image/png") => {
      const data = new FormData();
      for (const [k, v] of Object.entries(fields)) data.append(k, v);
      data.append("file", new Blob([new Uint8Array(file)], { type }), "cat.png");
      return fetch(issued.upload.url, { method: "POST", body: data });
    };
    const fields = issued.upload.fields!;
    assert.equal(fields.key, issued.key);
    assert.equal((await form({ ...fields, "Content-Type": "text/html" }, body)).status, 403);
    assert.equal((await form(fields, Buffer.concat([body, Buffer.from("more")]))).status, 400);
    assert.equal((await form({ ...fields, key: `${issued.key}.evil` }, body)).status, 403);
    assert.deepEqual((await keysOf(staging)).filter((k) => k?.startsWith(issued.id)), []);
    const ok = await form(fields, body);
    assert.ok(ok.status === 204 || ok.status === 201 || ok.status === 200, `status ${ok.status}`);
    await server.api("POST", `/v1/uploads/${issued.id}/complete`);
    assert.equal((await waitForFinal(server, issued.id)).state, "archived");
    assert.equal(sha256(await bytesOf(archive, issued.key)), sha256(body));
  });

  it("archives exactly the bytes it checked when a POST form is sent again while the first file is being checked", async () => {
    const body = png(10_000);
    const issued = await issue(body, { method: "POST", metadata: { gate: "yes" } });
    const post = (file: Buffer) => {
      const data = new FormData();
      for (const [k, v] of Object.entries(issued.upload.fields!)) data.append(k, v);
      data.append("file", new Blob([new Uint8Array(file)], { type: "image/png" }), "cat.png");
      return fetch(issued.upload.url, { method: "POST", body: data });
    };
    assert.ok((await post(body)).ok);
    assert.equal((await server.api("POST", `/v1/uploads/${issued.id}/complete`)).status, 200);
    await eventually(() => fs.access(path.join(gateDir, `${issued.id}.checking`)), 10_000);

    // A POST policy cannot carry If-None-Match: storage takes the second form over the first.
    const swapped = Buffer.alloc(body.byteLength, 0x20);
    swapped.set(HTML);
    assert.ok((await post(swapped)).ok, "storage accepted the form again");
    await fs.writeFile(path.join(gateDir, `${issued.id}.go`), "");

    const final = await waitForFinal(server, issued.id);
    assert.equal(final.state, "rejected", "the replaced bytes were checked again, and refused");
    assert.match(final.reason!, /^type_mismatch/);
    assert.ok(!(await keysOf(archive)).includes(issued.key), "the HTML never reached the archive");
  });

  it("rejects a spoofed type after a ranged read, and holds it in staging only while its URL lives", async () => {
    const issued = await issue(HTML, { filename: "cat.png" });
    assert.equal((await put(issued.upload.url, issued.upload.headers, HTML)).status, 200);
    await sendEvent(rgwEvent([issued.key]));
    const final = await waitForFinal(server, issued.id);
    assert.equal(final.state, "rejected");
    assert.match(final.reason!, /^type_mismatch/);
    assert.ok(!(await keysOf(archive)).includes(issued.key));
    assert.deepEqual((await sendEvent(rgwEvent([issued.key]))).body.results?.map((r) => r.outcome), ["held"]);
  });
});
