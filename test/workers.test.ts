/**
 * The Cloudflare Workers build (dist/workers/index.mjs, built here from the source) under the
 * real Workers runtime, workerd, through Miniflare: configured as `wrangler.json` configures
 * it (compatibility date and flags, the D1 binding), storing objects in a real RGW. Uploads
 * are streamed through the Worker's gateway into the bucket; metadata is read back from D1.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Miniflare } from "miniflare";
import { PNG, awsS3Event } from "./helpers/fixtures.js";
import { keysIn, removeBuckets, s3ClientFor, sluiceS3Env, useRgw, type Rgw } from "./helpers/rgw.js";
import { ROOT } from "./helpers/server.js";

const KEY = "sk_workers_test_0123456789abcdef";
const EVENTS_SECRET = "workers-events-secret-0123456789";
const BUNDLE = path.join(ROOT, "dist/workers/index.mjs");

interface WranglerConfig {
  compatibility_date: string;
  compatibility_flags: string[];
  d1_databases: { binding: string }[];
  main: string;
}

let rgw: Rgw;
let s3: S3Client;
let staging: string;
let archive: string;
let wrangler: WranglerConfig;
const workers: Miniflare[] = [];

/** A Worker as wrangler.json deploys it, with these settings (vars) on top of the test's. */
async function startWorker(vars: Record<string, string> = {}): Promise<Miniflare> {
  const mf = new Miniflare({
    modules: [{ type: "ESModule", path: BUNDLE }],
    compatibilityDate: wrangler.compatibility_date,
    compatibilityFlags: wrangler.compatibility_flags,
    d1Databases: wrangler.d1_databases.map((d) => d.binding),
    bindings: sluiceS3Env(rgw, {
      SLUICE_STAGING_BUCKET: staging,
      SLUICE_ARCHIVE_BUCKET: archive,
      SLUICE_API_KEYS: KEY,
      SLUICE_EVENTS_SECRET: EVENTS_SECRET,
      SLUICE_PUBLIC_URL: "https://sluice.example.workers.dev",
      SLUICE_LOG_LEVEL: "warn",
      ...vars,
    }),
  });
  workers.push(mf);
  await mf.ready;
  return mf;
}

const json = (body: unknown) => {
  const text = JSON.stringify(body);
  return { body: text, headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) } };
};

interface Issued {
  id: string;
  key: string;
  upload: { method: string; url: string; headers: Record<string, string> };
}

async function issue(mf: Miniflare, body: Record<string, unknown>): Promise<Issued> {
  const r = await mf.dispatchFetch("https://sluice.example.workers.dev/v1/uploads", { method: "POST", ...json(body) });
  assert.equal(r.status, 201, await r.clone().text());
  return (await r.json()) as Issued;
}

async function state(mf: Miniflare, id: string): Promise<{ state: string; fileId?: string; reason?: string }> {
  const r = await mf.dispatchFetch(`https://sluice.example.workers.dev/v1/uploads/${id}`, { headers: { authorization: `Bearer ${KEY}` } });
  assert.equal(r.status, 200);
  return (await r.json()) as { state: string; fileId?: string };
}

/** The upload's final state; processing runs after the response (`waitUntil`), so it may take a moment. */
async function finalState(mf: Miniflare, id: string) {
  for (let i = 0; i < 200; i++) {
    const s = await state(mf, id);
    if (s.state === "archived" || s.state === "rejected" || s.state === "failed") return s;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`upload ${id} did not finish`);
}

/** Miniflare's fetch takes undici's stream type, the same Web stream under another declaration. */
type WorkerBody = NonNullable<Parameters<Miniflare["dispatchFetch"]>[1]>["body"];

/** `data` as a stream the client produces in 64 KiB chunks (never one buffer the size of the body). */
function streamOf(data: Uint8Array): WorkerBody {
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= data.length) return controller.close();
      controller.enqueue(data.subarray(sent, sent + 65536));
      sent += 65536;
    },
  });
  return stream as unknown as WorkerBody;
}

before(async () => {
  wrangler = JSON.parse(await fs.readFile(path.join(ROOT, "wrangler.json"), "utf8")) as WranglerConfig;
  assert.equal(path.resolve(ROOT, wrangler.main), BUNDLE);
  await promisify(execFile)(process.execPath, [path.join(ROOT, "scripts/build-workers.mjs")], { cwd: ROOT });
  rgw = await useRgw();
  s3 = s3ClientFor(rgw);
  const suffix = randomBytes(4).toString("hex");
  staging = `wstaging-${suffix}`;
  archive = `warchive-${suffix}`;
  // The Worker does not create buckets (the operator does, as for Lambda); the test does here.
  const { S3ObjectStore } = await import("../src/storage/s3.js");
  await new S3ObjectStore({ client: s3 }).prepare([staging, archive]);
});

after(async () => {
  await Promise.all(workers.map((mf) => mf.dispose()));
  await removeBuckets(s3, [staging, archive]);
  await rgw.stop();
});

describe("Sluice on the Workers runtime (workerd, Miniflare)", () => {
  let mf: Miniflare;
  before(async () => {
    mf = await startWorker({ SLUICE_UPLOAD_MODE: "gateway" });
  });

  it("streams an 8 MiB upload through the Worker into the bucket, archives it and records it in D1", async () => {
    const size = 8 * 1024 * 1024;
    const data = randomBytes(size);
    const sha256 = createHash("sha256").update(data).digest("hex");
    const issued = await issue(mf, { filename: "big.bin", contentType: "application/octet-stream", size, sha256 });
    assert.match(issued.upload.url, /^https:\/\/sluice\.example\.workers\.dev\/v1\/uploads\/upl_[^/]+\/content\?/);
    const put = await mf.dispatchFetch(issued.upload.url, {
      method: "PUT",
      headers: { ...issued.upload.headers, "content-length": String(size) },
      body: streamOf(data),
      duplex: "half",
    });
    assert.equal(put.status, 200, await put.clone().text());
    const done = await finalState(mf, issued.id);
    assert.equal(done.state, "archived", done.reason);

    const archived = await s3.send(new GetObjectCommand({ Bucket: archive, Key: issued.key }));
    const bytes = await archived.Body!.transformToByteArray();
    assert.equal(bytes.length, size);
    assert.equal(createHash("sha256").update(bytes).digest("hex"), sha256);
    assert.deepEqual(await keysIn(s3, staging), []);

    // The metadata, read from the Worker's D1 database itself.
    const db = await mf.getD1Database("DB");
    const row = await db
      .prepare("SELECT state, size, sha256, received_sha256, content_type, archived_at IS NOT NULL AS archived FROM uploads WHERE id = ?")
      .bind(issued.id)
      .first<{ state: string; size: number; sha256: string; received_sha256: string; content_type: string; archived: number }>();
    // received_sha256: what the Worker's gateway hashed as the bytes streamed through it.
    assert.deepEqual(row, { state: "archived", size, sha256, received_sha256: sha256, content_type: "application/octet-stream", archived: 1 });
    // Its event, written with the outcome in one D1 batch, and the expiry watch issuance wrote.
    const events = await db.prepare("SELECT type, seq, key, data FROM events WHERE upload_id = ?").bind(issued.id).all<{ type: string; seq: number; key: string; data: string }>();
    assert.deepEqual(
      events.results.map((e) => ({ ...e, data: JSON.parse(e.data) as Record<string, unknown> })),
      [
        {
          type: "upload.archived",
          seq: 1,
          key: issued.key,
          data: {
            uploadId: issued.id,
            fileId: done.fileId,
            key: issued.key,
            filename: "big.bin",
            size,
            declaredContentType: "application/octet-stream",
            contentType: "application/octet-stream",
            sha256,
            metadata: {},
            apiKeyId: (await db.prepare("SELECT api_key_id FROM uploads WHERE id = ?").bind(issued.id).first<{ api_key_id: string }>())!.api_key_id,
            state: "archived",
          },
        },
      ],
    );
    assert.equal((await db.prepare("SELECT count(*) AS n FROM expiry_watch WHERE upload_id = ?").bind(issued.id).first<{ n: number }>())?.n, 1);
    const file = await mf.dispatchFetch(`https://sluice.example.workers.dev/v1/files/${done.fileId}`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(file.status, 200);
    assert.equal(((await file.json()) as { sha256: string }).sha256, sha256);
  });

  it("refuses a body of another size than the ticket's, and keeps nothing", async () => {
    const issued = await issue(mf, { filename: "short.png", contentType: "image/png", size: PNG.length + 10 });
    const put = await mf.dispatchFetch(issued.upload.url, { method: "PUT", headers: { ...issued.upload.headers, "content-length": String(PNG.length) }, body: PNG });
    assert.equal(put.status, 400, await put.clone().text());
    assert.equal(((await put.json()) as { error: { code: string } }).error.code, "length_mismatch");
    assert.deepEqual(await keysIn(s3, staging), []);
    assert.equal((await state(mf, issued.id)).state, "issued");
  });

  it("lets exactly one of 12 concurrent uploads to one URL through (the claim in D1)", async () => {
    const issued = await issue(mf, { filename: "once.png", contentType: "image/png", size: PNG.length });
    const statuses = await Promise.all(
      Array.from({ length: 12 }, () =>
        mf
          .dispatchFetch(issued.upload.url, { method: "PUT", headers: { ...issued.upload.headers, "content-length": String(PNG.length) }, body: PNG })
          .then(async (r) => (await r.arrayBuffer(), r.status)),
      ),
    );
    assert.equal(statuses.filter((s) => s === 200).length, 1, String(statuses));
    assert.ok(statuses.every((s) => s === 200 || s === 409 || s === 410), String(statuses));
    assert.equal((await finalState(mf, issued.id)).state, "archived");
    const archivedKeys = (await keysIn(s3, archive)).filter((k) => k.startsWith(`${issued.id}/`));
    assert.deepEqual(archivedKeys, [issued.key]);
  });

  it("answers bad input with a JSON error", async () => {
    const r = await mf.dispatchFetch("https://sluice.example.workers.dev/v1/uploads", { method: "POST", ...json({ filename: "", size: -1 }) });
    assert.equal(r.status, 400);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, "invalid_request");
    const anonymous = await mf.dispatchFetch("https://sluice.example.workers.dev/v1/files");
    assert.equal(anonymous.status, 401);
  });
});

describe("direct uploads to the bucket, with the Worker told by events or finding them on its schedule", () => {
  let mf: Miniflare;
  before(async () => {
    mf = await startWorker({ SLUICE_UPLOAD_MODE: "direct" });
  });

  it("issues a presigned URL, and archives the object when the storage event arrives (twice)", async () => {
    const issued = await issue(mf, { filename: "direct.png", contentType: "image/png", size: PNG.length });
    assert.ok(issued.upload.url.startsWith(rgw.endpoint), issued.upload.url);
    const put = await fetch(issued.upload.url, { method: "PUT", headers: issued.upload.headers, body: PNG });
    assert.equal(put.status, 200);
    const event = JSON.stringify(awsS3Event(staging, issued.key, PNG.length));
    for (let i = 0; i < 2; i++) {
      const r = await mf.dispatchFetch("https://sluice.example.workers.dev/v1/events/s3", {
        method: "POST",
        headers: { authorization: `Bearer ${EVENTS_SECRET}`, "content-type": "application/json", "content-length": String(Buffer.byteLength(event)) },
        body: event,
      });
      assert.equal(r.status, 200, await r.clone().text());
    }
    assert.equal((await finalState(mf, issued.id)).state, "archived");
    assert.deepEqual((await keysIn(s3, archive)).filter((k) => k.startsWith(`${issued.id}/`)), [issued.key]);
    const db = await mf.getD1Database("DB");
    const events = await db.prepare("SELECT type, seq FROM events WHERE upload_id = ?").bind(issued.id).all<{ type: string; seq: number }>();
    assert.deepEqual(events.results, [{ type: "upload.archived", seq: 1 }], "one event for two storage events");
  });

  it("archives an upload whose event never came, on the Cron Trigger's sweep", async () => {
    const issued = await issue(mf, { filename: "silent.png", contentType: "image/png", size: PNG.length });
    await s3.send(new PutObjectCommand({ Bucket: staging, Key: issued.key, Body: PNG, ContentType: "image/png" }));
    assert.equal((await state(mf, issued.id)).state, "issued");
    const worker = await mf.getWorker();
    await worker.scheduled({ cron: "*/5 * * * *", scheduledTime: new Date() });
    assert.equal((await finalState(mf, issued.id)).state, "archived");
  });
});

describe("a Worker with a bad setting", () => {
  it("answers 503 with a JSON error naming the setting, not the value", async () => {
    const mf = await startWorker({ SLUICE_URL_TTL: "not-a-number" });
    const r = await mf.dispatchFetch("https://sluice.example.workers.dev/v1/uploads", { method: "POST", ...json({ filename: "a.png", contentType: "image/png", size: 1 }) });
    assert.equal(r.status, 503);
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "unavailable");
    assert.match(body.error.message, /SLUICE_URL_TTL/);
    assert.doesNotMatch(body.error.message, /not-a-number/);
  });

  it("refuses a ticket store it cannot reach (tickets live in D1 there), rather than ignoring the setting", async () => {
    const mf = await startWorker({ SLUICE_TICKETS: "redis://10.0.0.1:6379" });
    const r = await mf.dispatchFetch("https://sluice.example.workers.dev/healthz");
    assert.equal(r.status, 503);
    assert.match(((await r.json()) as { error: { message: string } }).error.message, /^Invalid SLUICE_TICKETS: a Worker keeps tickets and metadata in its D1 binding/);
  });
});
