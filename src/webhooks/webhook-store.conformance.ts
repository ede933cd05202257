/** The behaviour every WebhookStore must have; runs unchanged against SQLite and PostgreSQL. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { SluiceEvent } from "../events/types.js";
import { newId } from "../internal/crypto.js";
import type { WebhookRecord, WebhookStore } from "./store.js";

export interface WebhookStoreFixture {
  store: WebhookStore;
  /** A second connection to the same database, as another instance would have. */
  peer: WebhookStore;
  close(): Promise<void>;
}

const T0 = 1_900_000_000_000;

export function webhook(overrides: Partial<WebhookRecord> = {}): WebhookRecord {
  return {
    id: newId("wh"),
    url: "https://hooks.example.com/sluice",
    eventTypes: null,
    keyPrefix: null,
    ownerKeyId: "key_full",
    secretSealed: "sealed",
    previousSecretSealed: null,
    previousSecretUntil: null,
    cursor: null,
    pausedAt: null,
    pausedReason: null,
    lastSuccessAt: null,
    consecutiveFailures: 0,
    createdAt: T0,
    ...overrides,
  };
}

export function event(uploadId: string, seq: number, createdAt = T0 + seq): SluiceEvent {
  return {
    id: newId("evt"),
    type: "upload.archived",
    uploadId,
    seq,
    createdAt,
    data: {
      uploadId,
      key: `${uploadId}/a.txt`,
      filename: "a.txt",
      size: 1,
      declaredContentType: "text/plain",
      contentType: "text/plain",
      sha256: null,
      metadata: { note: "ünïcode ✓" },
      apiKeyId: null,
      state: "archived",
    },
  };
}

export function describeWebhookStore(name: string, open: () => Promise<WebhookStoreFixture>) {
  describe(`WebhookStore conformance: ${name}`, () => {
    let fx: WebhookStoreFixture;
    let store: WebhookStore;
    before(async () => {
      fx = await open();
      store = fx.store;
      await Promise.all([store.migrate(), fx.peer.migrate()]);
    });
    after(async () => fx.close());

    it("round-trips a webhook, lists by owner, updates and deletes it", async () => {
      const w = webhook({ eventTypes: ["upload.archived", "file.deleted"], keyPrefix: "t/", ownerKeyId: newId("key") });
      await store.insertWebhook(w);
      assert.deepEqual(await store.getWebhook(w.id), w);
      assert.deepEqual(await store.listWebhooks({ ownerKeyId: w.ownerKeyId }), [w]);
      assert.equal(await store.updateWebhook(w.id, { previousSecretSealed: "old", previousSecretUntil: T0 + 5, secretSealed: "new" }), true);
      const after = await store.getWebhook(w.id);
      assert.deepEqual([after?.secretSealed, after?.previousSecretSealed, after?.previousSecretUntil], ["new", "old", T0 + 5]);
      assert.equal(await store.deleteWebhook(w.id), true);
      assert.equal(await store.getWebhook(w.id), undefined);
      assert.equal(await store.deleteWebhook(w.id), false);
    });

    it("fans out once per cursor: the second instance with the same cursor writes nothing, and a delivery is made once per event", async () => {
      const w = webhook();
      await store.insertWebhook(w);
      const up = newId("upl");
      const events = [event(up, 1), event(up, 2)];
      // One after the other: two SQLite connections in one process cannot wait on each other's
      // transaction (the driver is synchronous); across processes the lock serializes them alike.
      assert.equal(await store.enqueueDeliveries({ webhookId: w.id, fromCursor: null, toCursor: "c1", events, now: T0, giveUpAt: T0 + 1000 }), true);
      assert.equal(await fx.peer.enqueueDeliveries({ webhookId: w.id, fromCursor: null, toCursor: "c1", events, now: T0, giveUpAt: T0 + 1000 }), false);
      assert.equal((await store.getWebhook(w.id))?.cursor, "c1");
      // The same events again under a new cursor (a feed that repeats) make no second delivery.
      assert.equal(await store.enqueueDeliveries({ webhookId: w.id, fromCursor: "c1", toCursor: "c2", events, now: T0, giveUpAt: T0 + 1000 }), true);
      const d = await store.getDelivery(w.id, events[0]!.id);
      assert.equal(d?.state, "pending");
      assert.deepEqual(d?.event, events[0]);
      await store.deleteWebhook(w.id);
    });

    it("leases a delivery to one instance at a time, in seq order per upload, and lets a lapsed lease be taken", async () => {
      const w = webhook();
      await store.insertWebhook(w);
      const up = newId("upl");
      const events = [event(up, 1), event(up, 2), event(newId("upl"), 1)];
      await store.enqueueDeliveries({ webhookId: w.id, fromCursor: null, toCursor: "c", events, now: T0, giveUpAt: T0 + 10_000 });
      const [mine, theirs] = await Promise.all([
        store.leaseDueDeliveries({ owner: "a", now: T0, leaseMs: 1000, limit: 10 }),
        fx.peer.leaseDueDeliveries({ owner: "b", now: T0, leaseMs: 1000, limit: 10 }),
      ]);
      const leased = [...mine, ...theirs].filter((d) => d.webhookId === w.id).map((d) => d.eventId).sort();
      // Seq 2 of the first upload waits for seq 1; each of the others is held by exactly one.
      assert.deepEqual(leased, [events[0]!.id, events[2]!.id].sort());
      // Nobody else gets them while leased; after the lease lapses, another instance does.
      assert.deepEqual((await store.leaseDueDeliveries({ owner: "c", now: T0 + 999, leaseMs: 1000, limit: 10 })).filter((d) => d.webhookId === w.id), []);
      const again = (await fx.peer.leaseDueDeliveries({ owner: "c", now: T0 + 1000, leaseMs: 1000, limit: 10 })).filter((d) => d.webhookId === w.id);
      assert.equal(again.length, 2);
      // The old holder can no longer record (its lease was taken over); the new one can.
      const first = again.find((d) => d.eventId === events[0]!.id)!;
      const holder = mine.some((d) => d.eventId === first.eventId) ? "a" : "b";
      const attempt = { webhookId: w.id, eventId: first.eventId, attempt: 1, at: T0 + 1001, status: 200, latencyMs: 3, responseHead: "ok", error: null };
      assert.equal(await store.recordAttempt({ owner: holder, attempt, outcome: { state: "delivered" } }), false);
      assert.equal(await store.recordAttempt({ owner: "c", attempt: { ...attempt, attempt: 2 }, outcome: { state: "delivered" } }), true);
      // Now seq 2 of that upload is due.
      const next = (await store.leaseDueDeliveries({ owner: "a", now: T0 + 1002, leaseMs: 1000, limit: 10 })).filter((d) => d.webhookId === w.id);
      assert.deepEqual(next.map((d) => d.eventId), [events[1]!.id]);
      await store.deleteWebhook(w.id);
    });

    it("records attempts (newest first, paged), retries, dead, and the webhook's failure count", async () => {
      const w = webhook();
      await store.insertWebhook(w);
      const [e] = [event(newId("upl"), 1)];
      await store.enqueueDeliveries({ webhookId: w.id, fromCursor: null, toCursor: "c", events: [e], now: T0, giveUpAt: T0 + 100 });
      for (let i = 1; i <= 3; i++) {
        const [d] = (await store.leaseDueDeliveries({ owner: "a", now: T0 + i * 10, leaseMs: 5, limit: 100 })).filter((x) => x.webhookId === w.id);
        assert.equal(d?.attempts, i - 1);
        const outcome = i < 3 ? { state: "pending" as const, nextAttemptAt: T0 + i * 10 + 5 } : { state: "dead" as const };
        await store.recordAttempt({ owner: "a", attempt: { webhookId: w.id, eventId: e.id, attempt: i, at: T0 + i * 10, status: 500, latencyMs: i, responseHead: "x".repeat(1024), error: "HTTP 500" }, outcome });
      }
      assert.equal((await store.getDelivery(w.id, e.id))?.state, "dead");
      assert.equal((await store.getWebhook(w.id))?.consecutiveFailures, 3);
      const page1 = await store.listAttempts(w.id, { limit: 2 });
      assert.deepEqual(page1.map((a) => a.attempt), [3, 2]);
      assert.equal(page1[0]!.responseHead?.length, 1024);
      const last = page1[1]!;
      assert.deepEqual((await store.listAttempts(w.id, { limit: 2, before: { at: last.at, eventId: last.eventId, attempt: last.attempt } })).map((a) => a.attempt), [1]);
      // Redelivery makes a dead delivery pending again, due now.
      assert.equal(await store.redeliver(w.id, { eventId: e.id }, { now: T0 + 500, giveUpAt: T0 + 1000 }), 1);
      const d = await store.getDelivery(w.id, e.id);
      assert.deepEqual([d?.state, d?.nextAttemptAt, d?.giveUpAt, d?.attempts], ["pending", T0 + 500, T0 + 1000, 3]);
      assert.equal(await store.redeliver(w.id, { since: T0, until: T0 + 1 }, { now: T0, giveUpAt: T0 }), 0);
      assert.equal(await store.redeliver(w.id, { since: T0, until: T0 + 2 }, { now: T0 + 500, giveUpAt: T0 + 1000 }), 1);
      await store.deleteWebhook(w.id);
    });

    it("a paused webhook's deliveries are not leased; resume makes them due with a fresh window", async () => {
      const w = webhook();
      await store.insertWebhook(w);
      const e = event(newId("upl"), 1);
      await store.enqueueDeliveries({ webhookId: w.id, fromCursor: null, toCursor: "c", events: [e], now: T0, giveUpAt: T0 + 10 });
      assert.equal(await store.pauseWebhook(w.id, { now: T0, reason: "kept failing" }), true);
      assert.equal(await store.pauseWebhook(w.id, { now: T0, reason: "again" }), false);
      assert.equal((await store.getWebhook(w.id))?.pausedReason, "kept failing");
      assert.deepEqual((await store.leaseDueDeliveries({ owner: "a", now: T0 + 1, leaseMs: 5, limit: 100 })).filter((x) => x.webhookId === w.id), []);
      assert.equal(await store.resumeWebhook(w.id, { now: T0 + 50, giveUpAt: T0 + 5000 }), true);
      const [d] = (await store.leaseDueDeliveries({ owner: "a", now: T0 + 50, leaseMs: 5, limit: 100 })).filter((x) => x.webhookId === w.id);
      assert.deepEqual([d?.eventId, d?.giveUpAt], [e.id, T0 + 5000]);
      const resumed = await store.getWebhook(w.id);
      assert.deepEqual([resumed?.pausedAt, resumed?.pausedReason, resumed?.consecutiveFailures], [null, null, 0]);
      await store.deleteWebhook(w.id);
    });
  });
}
