/** The behaviour every MetadataStore must have; runs unchanged against each SQL backend. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newId } from "../internal/crypto.js";
import { isWithinKeyPrefix } from "../domain/scopes.js";
import type { MetadataStore, UploadRecord } from "./metadata-store.js";

export interface MetadataStoreFixture {
  store: MetadataStore;
  /** A second connection to the same database, as another instance would have. */
  peer: MetadataStore;
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

    it("answers ping", async () => {
      await store.ping();
    });
  });
}
