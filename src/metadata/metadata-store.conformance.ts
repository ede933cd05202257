/** The behaviour every MetadataStore must have; runs unchanged against each SQL backend. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { newId } from "../internal/crypto.js";
import { isWithinKeyPrefix } from "../domain/scopes.js";
import { SluiceError } from "../errors.js";
import type { EventData, EventType, NewEvent, SluiceEvent } from "../events/types.js";
import type { CopyProgress, MetadataStore, UploadRecord } from "./metadata-store.js";

export interface MetadataStoreFixture {
  store: MetadataStore;
  /** A second connection to the same database, as another instance would have. */
  peer: MetadataStore;
  /**
   * Where writers run in parallel (PostgreSQL): a transaction on a connection of its own that
   * has already written (so it holds its transaction id), and writes an event when told, then
   * commits when told: a writer that is slow between its statements.
   */
  openWriter?: () => Promise<{ writeEvent(uploadId: string): Promise<void>; commit(): Promise<void> }>;
  close(): Promise<void>;
}

let clock = 1_800_000_000_000;
export function upload(overrides: Partial<UploadRecord> = {}): UploadRecord {
  const id = newId("upl");
  const now = ++clock;
  return {
    id,
    state: "uploaded",
    key: `${id}/file.bin`,
    filename: "file.bin",
    declaredType: "application/octet-stream",
    contentType: null,
    size: 3,
    sha256: null,
    receivedSha256: null,
    metadata: { owner: "ünïcode ✓" },
    reason: null,
    apiKeyId: null,
    attempts: 0,
    nextAttemptAt: null,
    leaseOwner: null,
    leaseUntil: null,
    expiresAt: now + 300_000,
    createdAt: now,
    updatedAt: now,
    uploadedAt: null,
    archivedAt: null,
    deletedAt: null,
    ...overrides,
  };
}

/** An event about `r`, as the domain builds one (the data's shape is what matters here, not its truth). */
export function eventFor(r: UploadRecord, type: EventType, createdAt = r.updatedAt): NewEvent {
  const state = type === "file.deleted" ? "deleted" : (type.slice("upload.".length) as EventData["state"]);
  const data: EventData = {
    uploadId: r.id,
    fileId: `file_${r.id.slice(4)}`,
    key: r.key,
    filename: r.filename,
    size: r.size,
    declaredContentType: r.declaredType,
    contentType: r.contentType,
    sha256: r.sha256,
    metadata: r.metadata,
    apiKeyId: r.apiKeyId,
    state,
  };
  return { type, uploadId: r.id, createdAt, data };
}

/** Every event of one upload, following the cursor to the end. */
export async function eventsOf(store: MetadataStore, uploadId: string): Promise<SluiceEvent[]> {
  return (await readAll(store, { uploadId })).events;
}

async function readAll(store: MetadataStore, filter: { uploadId?: string; keyPrefix?: string; types?: EventType[] }, after?: string, limit = 1000) {
  const events: SluiceEvent[] = [];
  let cursor = after;
  for (;;) {
    const page = await store.readEvents({ ...filter, limit, ...(cursor !== undefined && { after: cursor }) });
    events.push(...page.events);
    if (page.events.length < limit) return { events, cursor: page.cursor };
    cursor = page.cursor;
  }
}

export function describeMetadataStore(name: string, open: () => Promise<MetadataStoreFixture>) {
  describe(`MetadataStore conformance: ${name}`, () => {
    let fx: MetadataStoreFixture;
    let store: MetadataStore;
    before(async () => {
      fx = await open();
      store = fx.store;
      // Two instances starting at once both migrate; then again (idempotent).
      await Promise.all([store.migrate(), fx.peer.migrate()]);
      await store.migrate();
    });
    after(async () => fx.close());

    it("round-trips an upload record exactly", async () => {
      const r = upload({ sha256: "ab".repeat(32), size: 5 * 1024 ** 4 });
      await store.insertUpload(r);
      assert.deepEqual(await store.getUpload(r.id), r);
      assert.equal(await store.getUpload(newId("upl")), undefined);
    });

    it("inserts idempotently: a second insert of the same upload keeps the first", async () => {
      const r = upload();
      assert.equal(await store.insertUpload(r), true, "the first insert says it inserted");
      assert.equal(await store.insertUpload({ ...r, filename: "second.bin" }), false, "the second says the record was there");
      assert.equal((await store.getUpload(r.id))?.filename, "file.bin");
    });

    it("group-commits concurrent inserts, and a duplicate among them harms none of the others", async () => {
      const existing = upload();
      await store.insertUpload(existing);
      const fresh = Array.from({ length: 40 }, () => upload());
      const inserted = await Promise.all([...fresh.map((r) => store.insertUpload(r)), store.insertUpload({ ...existing, filename: "dup" })]);
      assert.deepEqual(inserted, [...fresh.map(() => true), false]);
      for (const r of fresh) assert.deepEqual(await store.getUpload(r.id), r);
      assert.equal((await store.getUpload(existing.id))?.filename, "file.bin");
    });

    it("applies conditional updates only from the named states", async () => {
      const r = upload();
      await store.insertUpload(r);
      assert.equal(await store.updateUpload(r.id, { state: "processing", attempts: 5 }, { states: ["uploaded"] }), true);
      assert.equal(await store.updateUpload(r.id, { state: "processing" }, { states: ["uploaded"] }), false);
      const got = await store.getUpload(r.id);
      assert.equal(got?.state, "processing");
      assert.equal(got?.attempts, 5);
      assert.deepEqual(got?.metadata, r.metadata);
    });

    it("lets exactly one of several owners hold a processing lease, until it lapses", async () => {
      const r = upload({ state: "uploaded" });
      await store.insertUpload(r);
      const now = Date.now();
      const results = await Promise.all(
        ["w1", "w2", "w3", "w4"].map((owner) => store.acquireProcessingLease({ id: r.id, owner, now, leaseMs: 1000 })),
      );
      const winners = results.filter((x) => x !== undefined);
      assert.equal(winners.length, 1);
      assert.equal(winners[0]!.state, "processing", "taking the lease marks the upload processing");
      assert.equal((await store.getUpload(r.id))?.state, "processing");
      const owner = winners[0]!.leaseOwner!;
      assert.equal(await store.updateUpload(r.id, { state: "processing" }, { leaseOwner: "someone-else" }), false);
      assert.equal(await store.updateUpload(r.id, { state: "processing" }, { leaseOwner: owner }), true);
      assert.deepEqual(await store.findDueForProcessing({ now, limit: 100 }).then((ids) => ids.includes(r.id)), false);
      const later = now + 1001;
      assert.ok((await store.findDueForProcessing({ now: later, limit: 100 })).includes(r.id));
      assert.equal((await store.acquireProcessingLease({ id: r.id, owner: "w9", now: later, leaseMs: 1000 }))?.leaseOwner, "w9");
    });

    it("keeps a resumable copy's progress: written under the lease, read back exactly (by the next holder too), cleared", async () => {
      const r = upload({ state: "uploaded", size: 5 * 1024 ** 4 });
      await store.insertUpload(r);
      assert.equal((await store.getUpload(r.id))?.copyProgress ?? null, null, "none until a copy begins");
      const now = Date.now();
      assert.ok(await store.acquireProcessingLease({ id: r.id, owner: "w1", now, leaseMs: 1000 }));
      // A 5 TiB object's copy at its largest: 1,024 parts of 5 GiB (a few tens of KB as JSON).
      const progress: CopyProgress = {
        multipartUploadId: "2~" + "x".repeat(60),
        targetBucket: "archive",
        sourceETag: '"0123456789abcdef0123456789abcdef-1024"',
        size: r.size,
        partSize: 5 * 1024 ** 3,
        parts: Array.from({ length: 1024 }, (_, i) => ({ n: i + 1, etag: `"${createHash("md5").update(String(i)).digest("hex")}"` })),
        startedAt: now,
        invocations: 7,
        verdict: { accept: true, contentType: "video/mp4" },
      };
      assert.equal(await store.updateUpload(r.id, { copyProgress: progress }, { leaseOwner: "someone-else" }), false, "only the lease holder records progress");
      assert.equal(await store.updateUpload(r.id, { copyProgress: progress }, { leaseOwner: "w1", states: ["processing"] }), true);
      assert.deepEqual((await fx.peer.getUpload(r.id))?.copyProgress, progress, "another instance reads it as written");
      assert.ok(await store.updateUpload(r.id, { leaseOwner: null, leaseUntil: null, nextAttemptAt: now }, { leaseOwner: "w1" }));
      assert.ok((await store.findDueForProcessing({ now, limit: 1000 })).includes(r.id), "a released job is due at once");
      const next = await fx.peer.acquireProcessingLease({ id: r.id, owner: "w2", now, leaseMs: 1000 });
      assert.deepEqual(next?.copyProgress, progress, "the next holder gets it with the lease");
      assert.equal(await store.updateUpload(r.id, { copyProgress: null, state: "archived" }, { leaseOwner: "w2" }), true);
      assert.equal((await store.getUpload(r.id))?.copyProgress ?? null, null, "cleared with the outcome");
    });

    it("clears a job's next attempt when a worker takes it: once its lease lapses, the sweep re-drives it at once", async () => {
      const now = Date.now();
      const r = upload({ state: "uploaded", nextAttemptAt: now + 60_000 });
      await store.insertUpload(r);
      assert.equal((await store.findDueForProcessing({ now, limit: 100 })).includes(r.id), false, "not due before its next attempt");
      const taken = await store.acquireProcessingLease({ id: r.id, owner: "w1", now, leaseMs: 1000 });
      assert.equal(taken?.nextAttemptAt, null);
      assert.ok((await store.findDueForProcessing({ now: now + 1001, limit: 100 })).includes(r.id));
    });

    it("gives a job to exactly one of two instances' workers, and the other sees the winner's writes", async () => {
      const jobs = Array.from({ length: 20 }, () => upload({ state: "uploaded" }));
      for (const r of jobs) await store.insertUpload(r);
      const now = Date.now();
      for (const r of jobs) {
        const results = await Promise.all(
          [store, fx.peer, store, fx.peer].map((db, i) => db.acquireProcessingLease({ id: r.id, owner: `instance-${i}`, now, leaseMs: 60_000 })),
        );
        assert.equal(results.filter((x) => x !== undefined).length, 1, `one holder for ${r.id}`);
      }
      const first = jobs[0]!;
      const holder = (await fx.peer.getUpload(first.id))!.leaseOwner!;
      assert.equal(await store.updateUpload(first.id, { state: "archived" }, { leaseOwner: holder }), true);
      assert.equal((await fx.peer.getUpload(first.id))?.state, "archived");
    });

    it("never leases an upload that is not waiting for processing", async () => {
      const r = upload({ state: "archived" });
      await store.insertUpload(r);
      assert.equal(await store.acquireProcessingLease({ id: r.id, owner: "w", now: Date.now(), leaseMs: 1000 }), undefined);
    });

    it("lists files newest first, page by page, by state, without deleted ones", async () => {
      const made: UploadRecord[] = [];
      for (let i = 0; i < 5; i++) made.push(upload({ state: i === 4 ? "rejected" : "archived", metadata: { set: "list" } }));
      made.push(upload({ state: "archived", deletedAt: 1 }));
      made.push(upload({ state: "uploaded", deletedAt: 2 }));
      for (const r of made) await store.insertUpload(r);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listFiles({ limit: 2, ...(cursor && { cursor }) });
        assert.ok(page.items.length <= 2);
        seen.push(...page.items.map((f) => f.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      const expected = made.slice(0, 5).map((r) => r.id).reverse();
      assert.deepEqual(seen.filter((id) => expected.includes(id)), expected);
      assert.ok(!seen.includes(made[5]!.id) && !seen.includes(made[6]!.id));
      const rejected = await store.listFiles({ limit: 100, state: "rejected" });
      assert.ok(rejected.items.every((f) => f.state === "rejected"));
      assert.ok(rejected.items.some((f) => f.id === made[4]!.id));
    });

    it("lists by key prefix exactly as domain/scopes.ts decides: no parent, child or sibling namespace", async () => {
      const tenant = `t${newId("p").slice(2, 10).replace(/[^A-Za-z0-9]/g, "x")}`;
      const prefixes = [`${tenant}/`, `${tenant}/b/`, `${tenant}b/`, `${tenant}/b_/`, ""];
      const made = prefixes.map((prefix) => {
        const r = upload({ state: "archived" });
        return { ...r, key: `${prefix}${r.key}` };
      });
      for (const r of made) await store.insertUpload(r);
      for (const prefix of prefixes.filter((p) => p !== "")) {
        const listed = (await store.listFiles({ limit: 1000, keyPrefix: prefix })).items.map((f) => f.id);
        const expected = made.filter((r) => isWithinKeyPrefix(prefix, r.key)).map((r) => r.id);
        assert.equal(expected.length, 1, prefix);
        assert.deepEqual(listed.filter((id) => made.some((r) => r.id === id)), expected, prefix);
        assert.ok(listed.length === expected.length, `${prefix} lists nothing else`);
      }
    });

    it("stores API keys by hash and revokes them once", async () => {
      const k = { id: newId("key"), name: "ci", hash: "cd".repeat(32), prefix: "sk_abcd", createdAt: 1, revokedAt: null, scope: null };
      await store.insertApiKey(k);
      assert.deepEqual(await store.findApiKeyByHash(k.hash), k);
      assert.deepEqual(await store.getApiKey(k.id), k);
      const scoped = {
        ...k,
        id: newId("key"),
        hash: "ef".repeat(32),
        scope: { allowedTypes: ["image/*"], maxSize: 10 * 1024 ** 2, keyPrefix: "tenant-a/", rateLimit: { points: 5, durationSeconds: 60 }, bytesPerDay: 1e9, openTickets: 3 },
      };
      await store.insertApiKey(scoped);
      assert.deepEqual(await store.findApiKeyByHash(scoped.hash), scoped);
      assert.ok((await store.listApiKeys()).some((x) => x.id === k.id));
      assert.equal(await store.revokeApiKey(k.id, 2), true);
      assert.equal(await store.revokeApiKey(k.id, 3), false);
      assert.equal((await store.findApiKeyByHash(k.hash))?.revokedAt, 2);
      assert.deepEqual(await store.getApiKey(scoped.id), scoped);
      assert.equal((await store.getApiKey(k.id))?.revokedAt, 2, "a revoked key is still found by id");
      assert.equal(await store.getApiKey(newId("key")), undefined);
    });

    it("keeps the first value written for a setting", async () => {
      const name = newId("setting");
      const [a, b] = await Promise.all([store.getOrInitSetting(name, "first"), store.getOrInitSetting(name, "second")]);
      assert.equal(a, b);
      assert.equal(await store.getOrInitSetting(name, "third"), a);
    });

    it("replaces a setting only from the value it still holds, once among concurrent writers", async () => {
      const name = newId("setting");
      assert.equal(await store.replaceSetting(name, "", "x"), false, "no such setting");
      await store.getOrInitSetting(name, "c1");
      const wins = await Promise.all([store.replaceSetting(name, "c1", "c2a"), store.replaceSetting(name, "c1", "c2b"), store.replaceSetting(name, "c1", "c2c")]);
      assert.equal(wins.filter(Boolean).length, 1);
      const now = await store.getOrInitSetting(name, "unused");
      assert.equal(now, ["c2a", "c2b", "c2c"][wins.indexOf(true)]);
      assert.equal(await store.replaceSetting(name, "c1", "c3"), false, "a stale expected value");
    });

    describe("events (the outbox)", () => {
      it("writes an insert's event only if the record went in, with seq 1, an evt_ id and the data as given", async () => {
        const r = upload({ state: "rejected", reason: "key_revoked: the key was revoked" });
        const e = eventFor(r, "upload.rejected");
        assert.equal(await store.insertUpload(r, e), true);
        assert.equal(await store.insertUpload(r, eventFor(r, "upload.rejected")), false);
        const events = await eventsOf(store, r.id);
        assert.equal(events.length, 1, "the second insert wrote no event");
        const [got] = events;
        assert.match(got!.id, /^evt_[A-Za-z0-9_-]{16,}$/);
        assert.deepEqual({ ...got, id: "" }, { id: "", type: "upload.rejected", uploadId: r.id, seq: 1, createdAt: r.updatedAt, data: e.data });
      });

      it("group-commits events with their inserts: a batch's events go in, a duplicate's does not", async () => {
        const existing = upload();
        await store.insertUpload(existing);
        const fresh = Array.from({ length: 30 }, (_, i) => upload({ state: i % 2 === 0 ? "rejected" : "uploaded" }));
        const inserted = await Promise.all([
          ...fresh.map((r) => store.insertUpload(r, r.state === "rejected" ? eventFor(r, "upload.rejected") : undefined)),
          store.insertUpload(existing, eventFor(existing, "upload.rejected")),
        ]);
        assert.deepEqual(inserted, [...fresh.map(() => true), false]);
        for (const r of fresh) {
          const events = await eventsOf(store, r.id);
          assert.deepEqual(events.map((e) => [e.type, e.seq]), r.state === "rejected" ? [["upload.rejected", 1]] : []);
        }
        assert.deepEqual(await eventsOf(store, existing.id), []);
      });

      it("writes an update's event only if the update applied, numbering each upload's events 1, 2, …", async () => {
        const r = upload();
        await store.insertUpload(r);
        assert.equal(await store.updateUpload(r.id, { state: "archived" }, { states: ["processing"] }, eventFor(r, "upload.archived")), false);
        assert.deepEqual(await eventsOf(store, r.id), [], "a refused update writes no event");
        assert.equal(await store.updateUpload(r.id, { state: "archived" }, { states: ["uploaded"] }, eventFor(r, "upload.archived")), true);
        assert.equal(await store.updateUpload(r.id, { deletedAt: 5 }, { notDeleted: true }, eventFor(r, "file.deleted")), true);
        assert.equal(await store.updateUpload(r.id, { deletedAt: 6 }, { notDeleted: true }, eventFor(r, "file.deleted")), false, "deleting twice applies once");
        const events = await eventsOf(store, r.id);
        assert.deepEqual(events.map((e) => [e.type, e.seq]), [["upload.archived", 1], ["file.deleted", 2]]);
        assert.equal((await store.getUpload(r.id))?.deletedAt, 5);
        assert.equal(await store.updateUpload(newId("upl"), { state: "archived" }, {}, eventFor(r, "upload.archived")), false, "no row, no event");
      });

      it("two concurrent updates of one upload from two instances, both with events: seq 1 and 2, no error", async () => {
        for (let round = 0; round < 5; round++) {
          const r = upload();
          await store.insertUpload(r);
          const results = await Promise.all([
            store.updateUpload(r.id, { attempts: 1 }, {}, eventFor(r, "upload.failed")),
            fx.peer.updateUpload(r.id, { attempts: 2 }, {}, eventFor(r, "upload.failed")),
          ]);
          assert.deepEqual(results, [true, true]);
          assert.deepEqual((await eventsOf(store, r.id)).map((e) => e.seq), [1, 2]);
        }
      });

      it("reads the feed in commit order, page by page, and a page's cursor goes on where it stopped", async () => {
        const tenant = `f${newId("p").slice(2, 10).replace(/[^A-Za-z0-9]/g, "x")}/`;
        const start = await store.readEvents({ limit: 1, keyPrefix: tenant });
        assert.deepEqual(start.events, []);
        const made = Array.from({ length: 7 }, () => {
          const r = upload({ state: "rejected" });
          return { ...r, key: `${tenant}${r.key}` };
        });
        for (const r of made) await (r === made[3] ? fx.peer : store).insertUpload(r, eventFor(r, "upload.rejected"));
        const seen: string[] = [];
        let cursor = start.cursor;
        for (;;) {
          const page = await store.readEvents({ limit: 3, after: cursor, keyPrefix: tenant });
          seen.push(...page.events.map((e) => e.uploadId));
          if (page.events.length === 0) {
            assert.equal(page.cursor, cursor, "an empty page gives the same cursor back");
            break;
          }
          cursor = page.cursor;
        }
        assert.deepEqual(seen, made.map((r) => r.id));
        const again = await store.readEvents({ limit: 100, after: cursor, keyPrefix: tenant });
        assert.deepEqual(again.events, []);
        const later = { ...upload({ state: "rejected" }), key: `${tenant}later/x` };
        await store.insertUpload({ ...later, key: `${tenant}${later.id}/x` }, eventFor({ ...later, key: `${tenant}${later.id}/x` }, "upload.rejected"));
        assert.deepEqual((await store.readEvents({ limit: 100, after: cursor, keyPrefix: tenant })).events.map((e) => e.uploadId), [later.id]);
        // The whole feed, unfiltered, holds them in the same order.
        const all = (await readAll(store, {})).events.map((e) => e.uploadId).filter((id) => seen.includes(id));
        assert.deepEqual(all, seen);
      });

      it("filters the feed by upload, by type, and by key prefix exactly as domain/scopes.ts decides", async () => {
        const tenant = `t${newId("p").slice(2, 10).replace(/[^A-Za-z0-9]/g, "x")}`;
        const prefixes = [`${tenant}/`, `${tenant}/b/`, `${tenant}b/`];
        const made = prefixes.map((prefix) => {
          const r = upload({ state: "uploaded" });
          return { ...r, key: `${prefix}${r.key}` };
        });
        for (const r of made) {
          await store.insertUpload(r);
          await store.updateUpload(r.id, { state: "archived" }, {}, eventFor(r, "upload.archived"));
          await store.updateUpload(r.id, { deletedAt: 1 }, { notDeleted: true }, eventFor(r, "file.deleted"));
        }
        for (const prefix of prefixes) {
          const got = (await readAll(store, { keyPrefix: prefix })).events;
          const expected = made.filter((r) => isWithinKeyPrefix(prefix, r.key));
          assert.equal(expected.length, 1);
          assert.deepEqual(got.map((e) => [e.uploadId, e.type]), [[expected[0]!.id, "upload.archived"], [expected[0]!.id, "file.deleted"]], prefix);
        }
        const deleted = (await readAll(store, { keyPrefix: prefixes[0]!, types: ["file.deleted"] })).events;
        assert.deepEqual(deleted.map((e) => e.type), ["file.deleted"]);
        assert.deepEqual((await readAll(store, { uploadId: made[1]!.id, types: ["upload.archived", "upload.expired"] })).events.map((e) => e.seq), [1]);
      });

      it("a reader concurrent with writers never skips an event that commits after a later one", async (t) => {
        if (!fx.openWriter) {
          // Declared by the fixture, not guessed: SQLite has one writer at a time (its suite has no hook).
          assert.equal(name.startsWith("sqlite"), true, "only a single-writer store may leave this out");
          t.diagnostic("one writer at a time: positions commit in order");
          return;
        }
        const tenant = `h${newId("p").slice(2, 10).replace(/[^A-Za-z0-9]/g, "x")}/`;
        const early = { ...upload(), key: "" };
        const late = upload({ state: "rejected" });
        Object.assign(late, { key: `${tenant}${late.id}/x` });
        const start = (await store.readEvents({ limit: 100 })).cursor;
        const held = await fx.openWriter();
        await held.writeEvent(early.id);
        await store.insertUpload(late, eventFor(late, "upload.rejected"));
        const first = await store.readEvents({ limit: 100, after: start });
        assert.ok(!first.events.some((e) => e.uploadId === late.id), "the later event is not shown while an earlier position may still commit");
        await held.commit();
        const rest = (await readAll(store, {}, first.cursor)).events.map((e) => e.uploadId);
        const order = [...first.events.map((e) => e.uploadId), ...rest].filter((id) => id === early.id || id === late.id);
        assert.deepEqual(order, [early.id, late.id], "both, once each, the held one first (its transaction is older)");
      });

      it("a reader never skips an event of a younger transaction that took an earlier position and commits last", async (t) => {
        if (!fx.openWriter) {
          assert.equal(name.startsWith("sqlite"), true, "only a single-writer store may leave this out");
          t.diagnostic("one writer at a time: positions commit in order");
          return;
        }
        // Ordering by position alone, below the oldest running transaction, would show `older`
        // (committed, position 2) and then skip `younger` (position 1, committed after).
        const [older, younger] = [newId("upl"), newId("upl")];
        const start = (await store.readEvents({ limit: 100 })).cursor;
        const a = await fx.openWriter();
        const b = await fx.openWriter();
        await b.writeEvent(younger);
        await a.writeEvent(older);
        await a.commit();
        const first = await store.readEvents({ limit: 100, after: start });
        await b.commit();
        const rest = (await readAll(store, {}, first.cursor)).events;
        const order = [...first.events, ...rest].map((e) => e.uploadId).filter((id) => id === older || id === younger);
        assert.deepEqual(order, [older, younger], "both, once each");
      });

      it("refuses a cursor it did not give out with invalid_cursor (400)", async () => {
        const valid = (await store.readEvents({ limit: 1 })).cursor;
        for (const bad of ["", "x", "ev1.", "ev1.!!", `ev1.${Buffer.from("1.x").toString("base64url")}`, `ev1.${Buffer.from("99999999999999999.1").toString("base64url")}`, valid.slice(0, -1) + "*"]) {
          await assert.rejects(store.readEvents({ limit: 1, after: bad }), (err: unknown) => err instanceof SluiceError && err.code === "invalid_cursor" && err.status === 400, bad);
        }
      });

      it("reports a watched upload expired once it is past expiry and grace with no record, once, even with two sweeps at once", async () => {
        const now = 1_900_000_000_000 + Math.floor(Math.random() * 1e9);
        const unused = upload({ state: "issued", expiresAt: now - 10_000 });
        const arrived = upload({ state: "issued", expiresAt: now - 10_000 });
        const cancelled = upload({ state: "issued", expiresAt: now - 10_000 });
        const inGrace = upload({ state: "issued", expiresAt: now - 1000 });
        const expiredData = (r: UploadRecord): EventData => ({ ...eventFor(r, "upload.expired").data, fileId: undefined, state: "expired" });
        await Promise.all([unused, arrived, cancelled, inGrace].map((r) => store.watchExpiry({ uploadId: r.id, expiresAt: r.expiresAt, data: expiredData(r) })));
        await store.watchExpiry({ uploadId: unused.id, expiresAt: unused.expiresAt, data: expiredData(unused) }); // watched again: no second report
        await store.watchExpiry({ uploadId: unused.id, expiresAt: now - 5000, data: expiredData(unused) }); // even at another expiry
        await store.insertUpload({ ...arrived, state: "uploaded" });
        await store.unwatchExpiry({ uploadId: cancelled.id, expiresAt: cancelled.expiresAt });
        const counts = await Promise.all([store.expireDue({ now, graceMs: 5000, limit: 100 }), fx.peer.expireDue({ now, graceMs: 5000, limit: 100 })]);
        assert.equal(counts[0] + counts[1], 1, `one report in all (${counts.join(", ")})`);
        const events = await eventsOf(store, unused.id);
        assert.equal(events.length, 1);
        const { data } = JSON.parse(JSON.stringify(events[0])) as SluiceEvent;
        assert.deepEqual({ type: events[0]!.type, seq: events[0]!.seq, createdAt: events[0]!.createdAt, data }, { type: "upload.expired", seq: 1, createdAt: now, data: JSON.parse(JSON.stringify(expiredData(unused))) as EventData });
        for (const r of [arrived, cancelled, inGrace]) assert.deepEqual(await eventsOf(store, r.id), [], r === inGrace ? "still within its grace" : "not an unused upload");
        assert.equal(await store.expireDue({ now, graceMs: 5000, limit: 100 }), 0, "nothing twice");
        assert.equal(await store.expireDue({ now: now + 5000, graceMs: 5000, limit: 100 }), 1, "the one in grace, once its grace is over");
        assert.equal(await store.expireDue({ now: now + 1e10, graceMs: 0, limit: 100 }), 0, "the arrived upload's watch was dropped, not reported");
      });

      it("group-commits watches issued at once", async () => {
        const now = 2_100_000_000_000 + Math.floor(Math.random() * 1e9);
        const many = Array.from({ length: 300 }, () => upload({ state: "issued", expiresAt: now }));
        await Promise.all(many.map((r) => store.watchExpiry({ uploadId: r.id, expiresAt: r.expiresAt, data: { ...eventFor(r, "upload.expired").data, state: "expired" } })));
        let reported = 0;
        for (let n = -1; n !== 0; reported += n) n = await store.expireDue({ now: now + 1, graceMs: 0, limit: 128 });
        assert.ok(reported >= many.length);
        for (const r of many.slice(0, 5)) assert.deepEqual((await eventsOf(store, r.id)).map((e) => e.type), ["upload.expired"]);
      });

      it("deletes events older than the retention, and the feed reads on past them", async () => {
        const r = upload();
        await store.insertUpload(r);
        await store.updateUpload(r.id, { attempts: 1 }, {}, eventFor(r, "upload.failed", 1000));
        await store.updateUpload(r.id, { attempts: 2 }, {}, eventFor(r, "upload.failed", Date.now()));
        assert.ok((await store.deleteEventsBefore(2000)) >= 1);
        assert.deepEqual((await eventsOf(store, r.id)).map((e) => e.seq), [2]);
      });
    });

    it("answers ping", async () => {
      await store.ping();
    });
  });
}
