/**
 * The outbox through the real service (the built `dist/`, as `npm start` runs it): each event
 * type is written once, with its payload, by the flow that causes it; read back through the
 * metadata store's feed (`readEvents`) from the server's own database. The ×5 duplicated and
 * reordered storage events run against a real S3 server (Ceph RGW), in AWS's event format.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { EventType, SluiceEvent } from "../src/events/types.js";
import { createMetadataStore } from "../src/metadata/factory.js";
import type { MetadataStore } from "../src/metadata/metadata-store.js";
import { HTML, PNG, awsS3Event, sha256, uploadRequest } from "./helpers/fixtures.js";
import { startSluiceOnRgw, type SluiceOnRgw } from "./helpers/rgw.js";
import { eventually, startServer, waitForFinal, type TestServer } from "./helpers/server.js";

interface Issued {
  id: string;
  key: string;
  upload: { method: string; url: string; headers: Record<string, string> };
}

async function issue(server: TestServer, body: Uint8Array, overrides: Record<string, unknown> = {}): Promise<Issued> {
  const r = await server.api("POST", "/v1/uploads", uploadRequest(body, overrides));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body as Issued;
}

async function put(issued: Issued, body: Uint8Array) {
  const r = await fetch(issued.upload.url, { method: "PUT", headers: issued.upload.headers, body: new Uint8Array(body) });
  assert.ok(r.ok, `${r.status} ${await r.text()}`);
}

/** Every event the server's store holds, in feed order, followed page by page. */
async function feed(store: MetadataStore, filter: { uploadId?: string; types?: EventType[] } = {}): Promise<SluiceEvent[]> {
  const events: SluiceEvent[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.readEvents({ limit: 50, ...filter, ...(after !== undefined && { after }) });
    events.push(...page.events);
    if (page.events.length === 0) return events;
    after = page.cursor;
  }
}

describe("events through the real service (fs storage, gateway uploads)", () => {
  let server: TestServer;
  let store: MetadataStore;
  let processorDir: string;

  before(async () => {
    processorDir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-events-proc-"));
    const processor = path.join(processorDir, "flaky.mjs");
    await fs.writeFile(processor, `export default async function ({ file }) { if (file.metadata.verdict === "crash") throw new Error("scanner unavailable"); }`);
    server = await startServer({
      SLUICE_PROCESSORS: processor,
      SLUICE_MAX_ATTEMPTS: "2",
      // Unused uploads are reported expired within seconds: no grace beyond one lease and two sweeps.
      SLUICE_EXPIRY_GRACE: "0",
      SLUICE_TICKET_LEASE: "1",
      SLUICE_RECONCILE_INTERVAL: "1",
    });
    store = await createMetadataStore({ kind: "sqlite", path: path.join(server.dataDir, "sluice.db") });
  });
  after(async () => {
    await store?.close();
    await server?.stop();
    await fs.rm(processorDir, { recursive: true, force: true });
  });

  it("upload.archived, once, with the record: id, key, size, detected type, sha256, metadata", async () => {
    // sha256 is known where it was promised (and checked), or hashed in transit: here, promised.
    const issued = await issue(server, PNG, { metadata: { album: "holidays" }, sha256: sha256(PNG) });
    await put(issued, PNG);
    const final = await waitForFinal(server, issued.id);
    assert.equal(final.state, "archived");
    const events = await feed(store, { uploadId: issued.id });
    assert.equal(events.length, 1, JSON.stringify(events));
    const [e] = events;
    assert.match(e!.id, /^evt_/);
    assert.equal(e!.type, "upload.archived");
    assert.equal(e!.seq, 1);
    assert.ok(Math.abs(e!.createdAt - Date.now()) < 60_000);
    const { apiKeyId, ...data } = e!.data;
    assert.equal(typeof apiKeyId, "string", "the issuing key's id");
    assert.deepEqual(data, {
      uploadId: issued.id,
      fileId: final.fileId,
      key: issued.key,
      filename: "cat.png",
      size: PNG.length,
      declaredContentType: "image/png",
      contentType: "image/png",
      sha256: sha256(PNG),
      metadata: { album: "holidays" },
      state: "archived",
    });
  });

  it("upload.rejected, once, with the reason (content that is not the declared type)", async () => {
    const issued = await issue(server, HTML);
    await put(issued, HTML);
    const final = await waitForFinal(server, issued.id);
    assert.equal(final.state, "rejected");
    const events = await feed(store, { uploadId: issued.id });
    assert.deepEqual(
      events.map((e) => [e.type, e.seq, e.data.state, e.data.reason, e.data.sha256]),
      [["upload.rejected", 1, "rejected", final.reason, null]],
      "no sha256 promised, none hashed: null",
    );
    assert.match(events[0]!.data.reason!, /^[a-z_]+: /, "`<code>: <text>`");
  });

  it("upload.failed, once, when processing keeps failing (the attempts in between write none)", async () => {
    const issued = await issue(server, PNG, { metadata: { verdict: "crash" } });
    await put(issued, PNG);
    const final = await waitForFinal(server, issued.id, 20_000);
    assert.equal(final.state, "failed");
    const events = await feed(store, { uploadId: issued.id });
    assert.deepEqual(
      events.map((e) => [e.type, e.seq, e.data.state, e.data.reason]),
      [["upload.failed", 1, "failed", final.reason]],
    );
    assert.match(events[0]!.data.reason!, /^failed after 2 attempts: scanner unavailable/);
  });

  it("upload.expired, once, for an upload issued and never used; none for one cancelled or used", async () => {
    const unused = await issue(server, PNG, { expiresIn: 1, metadata: { kind: "unused" } });
    const cancelled = await issue(server, PNG, { expiresIn: 1 });
    assert.equal((await server.api("DELETE", `/v1/uploads/${cancelled.id}`)).status, 200);
    const used = await issue(server, PNG, { expiresIn: 1 });
    await put(used, PNG);
    // Memory tickets journal their watches in files of 10 s of expiry, each read once all of it
    // is due: reported 10-14 s after issuance here.
    await eventually(async () => assert.equal((await feed(store, { uploadId: unused.id })).length, 1), 30_000);
    const [e] = await feed(store, { uploadId: unused.id });
    const { apiKeyId, ...data } = e!.data;
    assert.equal(typeof apiKeyId, "string");
    assert.deepEqual([e!.type, e!.seq], ["upload.expired", 1]);
    assert.deepEqual(data, {
      uploadId: unused.id,
      key: unused.key,
      filename: "cat.png",
      size: PNG.length,
      declaredContentType: "image/png",
      contentType: null,
      sha256: null,
      metadata: { kind: "unused" },
      state: "expired",
    });
    // A few more sweeps: still once, and nothing for the others.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await feed(store, { uploadId: unused.id })).length, 1);
    assert.deepEqual(await feed(store, { uploadId: cancelled.id }), []);
    assert.deepEqual((await feed(store, { uploadId: used.id })).map((x) => x.type), ["upload.archived"]);
  });

  it("upload.expired for an upload issued just before the server crashed (SIGKILL) and never used: the restarted server reports it", async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-crash-"));
    const env = { SLUICE_EXPIRY_GRACE: "0", SLUICE_TICKET_LEASE: "1", SLUICE_RECONCILE_INTERVAL: "1" };
    let restarted: TestServer | undefined;
    let crashStore: MetadataStore | undefined;
    try {
      const crashing = await startServer(env, { dataDir, keep: true });
      const unused = await issue(crashing, PNG, { expiresIn: 1, metadata: { kind: "crash" } });
      const exited = new Promise((resolve) => crashing.process.once("exit", (_code, signal) => resolve(signal)));
      crashing.process.kill("SIGKILL");
      assert.equal(await exited, "SIGKILL");
      // Its ticket died with it (memory); its watch is in the journal.
      const journal = await fs.readdir(path.join(dataDir, "expiry-watches"));
      assert.equal(journal.length, 1);
      assert.match(await fs.readFile(path.join(dataDir, "expiry-watches", journal[0]!), "utf8"), new RegExp(`"id":"${unused.id}"`));
      restarted = await startServer(env, { dataDir, keep: true });
      // The same URL on the restarted server's port.
      const url = new URL(unused.upload.url);
      const again = `${restarted.url}${url.pathname}${url.search}`;
      assert.equal((await fetch(again, { method: "PUT", headers: unused.upload.headers, body: new Uint8Array(PNG) })).status, 410, "the URL died with its ticket");
      crashStore = await createMetadataStore({ kind: "sqlite", path: path.join(dataDir, "sluice.db") });
      const reader = crashStore;
      await eventually(async () => assert.equal((await feed(reader, { uploadId: unused.id })).length, 1), 30_000);
      const [e] = await feed(reader, { uploadId: unused.id });
      assert.deepEqual([e!.type, e!.data.metadata], ["upload.expired", { kind: "crash" }]);
      await eventually(async () => assert.deepEqual(await fs.readdir(path.join(dataDir, "expiry-watches")), []), 5_000);
    } finally {
      await crashStore?.close();
      await restarted?.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });

  it("file.deleted once, for two deletes at once and a third after", async () => {
    const issued = await issue(server, PNG);
    await put(issued, PNG);
    const { fileId } = await waitForFinal(server, issued.id);
    const statuses = await Promise.all([1, 2].map(() => server.api("DELETE", `/v1/files/${fileId}`)));
    assert.ok(statuses.every((r) => r.status === 204 || r.status === 404), JSON.stringify(statuses.map((r) => r.status)));
    assert.equal((await server.api("DELETE", `/v1/files/${fileId}`)).status, 404);
    const events = await feed(store, { uploadId: issued.id });
    assert.deepEqual(
      events.map((e) => [e.type, e.seq, e.data.state]),
      [
        ["upload.archived", 1, "archived"],
        ["file.deleted", 2, "deleted"],
      ],
    );
  });
});

describe("storage events duplicated ×5 and reordered, on a real S3 server (Ceph RGW)", () => {
  const EVENTS_SECRET = "events-secret-for-the-outbox-tests-0123";
  let sluice: SluiceOnRgw;
  let store: MetadataStore;

  before(async () => {
    sluice = await startSluiceOnRgw({ SLUICE_EVENTS_SECRET: EVENTS_SECRET, SLUICE_UPLOAD_MODE: "direct" });
    store = await createMetadataStore({ kind: "sqlite", path: path.join(sluice.server.dataDir, "sluice.db") });
  });
  after(async () => {
    await store?.close();
    await sluice?.close();
  });

  it("100 uploads, each reported five times in a shuffled order: exactly one upload.archived per upload", async () => {
    const { server, staging } = sluice;
    const uploads = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const body = Buffer.concat([PNG, randomBytes(i)]);
        const issued = await issue(server, body, { filename: `cat-${i}.png` });
        return { issued, body };
      }),
    );
    for (let i = 0; i < uploads.length; i += 10) await Promise.all(uploads.slice(i, i + 10).map(({ issued, body }) => put(issued, body)));
    const reports = uploads.flatMap(({ issued, body }) => Array.from({ length: 5 }, () => awsS3Event(staging, issued.key, body.length)));
    // Fisher–Yates, so that an upload's copies come early, late, and beside each other's.
    for (let i = reports.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [reports[i], reports[j]] = [reports[j]!, reports[i]!];
    }
    for (let i = 0; i < reports.length; i += 20) {
      await Promise.all(
        reports.slice(i, i + 20).map(async (event) => {
          const r = await fetch(`${server.url}/v1/events/s3`, {
            method: "POST",
            headers: { authorization: `Bearer ${EVENTS_SECRET}`, "content-type": "application/json" },
            body: JSON.stringify(event),
          });
          assert.equal(r.status, 200, await r.text());
        }),
      );
    }
    for (const { issued } of uploads) assert.equal((await waitForFinal(server, issued.id, 30_000)).state, "archived");
    const ids = new Set(uploads.map((u) => u.issued.id));
    const events = (await feed(store)).filter((e) => ids.has(e.uploadId));
    const perUpload = new Map<string, SluiceEvent[]>();
    for (const e of events) perUpload.set(e.uploadId, [...(perUpload.get(e.uploadId) ?? []), e]);
    assert.equal(perUpload.size, 100);
    for (const [id, list] of perUpload) assert.deepEqual(list.map((e) => [e.type, e.seq]), [["upload.archived", 1]], id);
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, "every event id unique");
  });
});
