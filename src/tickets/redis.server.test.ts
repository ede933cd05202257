import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { startRedis, type BackendServer } from "../../test/helpers/backends.js";
import { makeServices, type Harness } from "../../test/helpers/services.js";
import { cancelUpload } from "../domain/cancel.js";
import { issueUpload } from "../domain/issue.js";
import type { Principal } from "../domain/principal.js";
import { reconcileStaging } from "../domain/reconcile.js";
import { RedisTicketStore, WATCH_HOLD_MS } from "./redis.js";
import { describeSharedTicketStore, watchedTicket } from "./ticket-store.conformance.js";
import { TOMBSTONE_MS } from "./ticket-store.js";

let server: BackendServer;
describeSharedTicketStore(
  "redis (a real redis-server)",
  async () => [(server = await startRedis())],
  () => new RedisTicketStore({ url: server.url }),
);

const ticket = watchedTicket;

describe("Redis tickets keep their expiry watches (issue 19)", () => {
  let redis: BackendServer;
  let store: RedisTicketStore;
  let raw: Redis;
  before(async () => {
    redis = await startRedis();
    store = new RedisTicketStore({ url: redis.url, prefix: "w:" });
    raw = new Redis(redis.url);
  });
  after(async () => {
    raw.disconnect();
    await store.close();
    await redis.stop();
  });

  const claim = { claimMs: 60_000 };

  it("lists a watched ticket once it is due, with its state, and keeps it until its watch is settled", async () => {
    const now = Date.now();
    const [unused, used, cancelled, inFlight, future] = [
      ticket("upl_unused", now + 5000),
      ticket("upl_used", now + 5100),
      ticket("upl_cancelled", now + 5200),
      ticket("upl_inflight", now + 5300),
      ticket("upl_future", now + 60_000),
    ];
    await Promise.all([unused, used, cancelled, inFlight, future].map((t) => store.issueWatched(t)));
    await store.issue(ticket("upl_unwatched", now + 100));
    await assert.rejects(store.issueWatched(ticket("upl_unused", now + 500)), /already exists/);
    assert.equal((await store.consume(used.id, null)).ok, true);
    assert.equal(await store.revoke(cancelled.id), true);
    const held = await store.claim(inFlight.id, { leaseMs: 3_600_000 });
    assert.ok(held.ok);

    assert.deepEqual(await store.dueWatches(now, 10, claim), [], "none before its expiry");
    // Held for its watch, far past the tombstone; an unwatched ticket is not.
    assert.ok((await raw.pttl("w:t:upl_unused")) > WATCH_HOLD_MS - 60_000);
    assert.ok((await raw.pttl("w:t:upl_unwatched")) <= TOMBSTONE_MS + 100);
    assert.deepEqual((await store.dueWatches(now + 10_000, 1, claim)).map((d) => d.id), [unused.id], "at most `limit`, soonest first");
    assert.deepEqual(await store.dueWatches(now + 10_000, 10, claim), [
      { id: used.id, ticket: { ticket: used, state: "consumed" } },
      { id: cancelled.id, ticket: { ticket: cancelled, state: "revoked" } },
      { id: inFlight.id, ticket: { ticket: inFlight, state: "claimed" } },
    ]);
    assert.deepEqual(await store.dueWatches(now + 10_000, 10, claim), [], "claimed: not given out again");

    await store.settleWatches([unused.id, used.id, cancelled.id, inFlight.id]);
    await store.settleWatches([unused.id]); // twice: harmless
    // Settled: kept a tombstone past expiry (or the lease, if later), as unwatched tickets are.
    const ttl = await raw.pttl("w:t:upl_unused");
    assert.ok(ttl > 0 && ttl <= 5000 + TOMBSTONE_MS + 200, `pttl ${ttl}`);
    const leased = await raw.pttl("w:t:upl_inflight");
    assert.ok(leased > 3_600_000 + TOMBSTONE_MS - 60_000, `pttl ${leased}`);
    assert.deepEqual(await store.get(used.id), { ticket: used, state: "consumed" });
    assert.deepEqual(await store.dueWatches(now + 120_000, 10, claim), [{ id: future.id, ticket: { ticket: future, state: "issued" } }]);
    await store.settleWatches([future.id]);
  });

  it("gives a claimed watch to no other instance until its claim lapses, and none once settled", async () => {
    const peer = new RedisTicketStore({ url: redis.url, prefix: "w:" });
    try {
      const now = Date.now();
      const [a, b] = [ticket("upl_claim_a", now + 5000), ticket("upl_claim_b", now + 5000)];
      await Promise.all([a, b].map((t) => store.issueWatched(t)));
      const mine = await store.dueWatches(now + 10_000, 10, { claimMs: 300 });
      assert.deepEqual(mine.map((d) => d.id).sort(), [a.id, b.id]);
      assert.deepEqual(await peer.dueWatches(now + 10_000, 10, { claimMs: 300 }), [], "claimed by the first");
      await store.settleWatches([a.id]); // b is left unsettled, as by an instance that died
      await new Promise((r) => setTimeout(r, 400));
      assert.deepEqual((await peer.dueWatches(now + 10_000, 10, claim)).map((d) => d.id), [b.id], "its claim lapsed: taken again");
      await peer.settleWatches([b.id]);
      await new Promise((r) => setTimeout(r, 400));
      assert.deepEqual(await store.dueWatches(now + 10_000, 10, claim), []);
    } finally {
      await peer.close();
    }
  });

  it("lists a watch whose ticket is gone with no ticket", async () => {
    const now = Date.now();
    await store.issueWatched(ticket("upl_gone", now + 50));
    await raw.del("w:t:upl_gone");
    assert.deepEqual(await store.dueWatches(now + 100, 10, claim), [{ id: "upl_gone", ticket: undefined }]);
    await store.settleWatches(["upl_gone"]);
    assert.equal(await raw.exists("w:t:upl_gone"), 0, "settling does not bring it back");
  });
});

describe("upload.expired with Redis tickets: the sweep hands the watches on to the metadata store", () => {
  const principal: Principal = { kind: "key", keyId: "test" };
  const request = { filename: "a.png", contentType: "image/png", size: 10, expiresIn: 1 };
  let redis: BackendServer;
  const harnesses: Harness[] = [];
  const harness = async (prefix: string) => {
    const h = await makeServices({ tickets: new RedisTicketStore({ url: redis.url, prefix }), env: { SLUICE_EXPIRY_GRACE: "0", SLUICE_TICKET_LEASE: "1", SLUICE_RECONCILE_INTERVAL: "1" } });
    harnesses.push(h);
    let metadataWatches = 0;
    const watchExpiry = h.services.metadata.watchExpiry.bind(h.services.metadata);
    h.services.metadata.watchExpiry = (w) => (metadataWatches++, watchExpiry(w));
    return { h, s: h.services, watches: () => metadataWatches };
  };
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const h of harnesses) await h.close();
    await redis?.stop();
  });

  it("reports the unused upload once, and neither the used, the cancelled nor the one in flight; issuance writes no metadata", async () => {
    const { h, s, watches } = await harness("a:");
    const [unused, used, cancelled, inFlight] = [await issueUpload(s, principal, request), await issueUpload(s, principal, request), await issueUpload(s, principal, request), await issueUpload(s, principal, request)];
    assert.equal(watches(), 0, "the watches are in Redis, beside the tickets");
    assert.equal((await s.tickets.consume(used.ticket.id, null)).ok, true);
    assert.equal((await cancelUpload(s, cancelled.ticket.id)).state, "cancelled");
    assert.ok((await s.tickets.claim(inFlight.ticket.id, { leaseMs: 3_600_000 })).ok, "a gateway upload still streaming");

    // Past expiry, but not yet half a grace (max of lease, two sweeps: 2 s) after it: not moved.
    const expiry = unused.ticket.expiresAt;
    assert.equal((await reconcileStaging(h.services, { now: expiry + 500 })).expired, 0);
    assert.equal(watches(), 0);
    // Half a grace after it: moved (the unused one and the one in flight); a grace after: the
    // unused one is reported, and the one in flight waits for its bytes or its lease.
    assert.equal((await reconcileStaging(h.services, { now: expiry + 1500 })).expired, 0);
    assert.equal(watches(), 2);
    assert.equal((await reconcileStaging(h.services, { now: expiry + 2500 })).expired, 1);
    assert.equal((await reconcileStaging(h.services, { now: expiry + 3500 })).expired, 0, "once");
    assert.equal(watches(), 2, "settled: not moved again");
    const { events } = await s.metadata.readEvents({ limit: 10 });
    assert.deepEqual(
      events.map((e) => [e.uploadId, e.type, e.data.filename, e.data.metadata]),
      [[unused.ticket.id, "upload.expired", "a.png", {}]],
    );
  });

  it("a watch that cannot be written holds up neither the others nor the sweep, and is moved once its claim lapses", async () => {
    const { h, s } = await harness("b:");
    const [failing, fine] = [await issueUpload(s, principal, request), await issueUpload(s, principal, request)];
    const watchExpiry = s.metadata.watchExpiry.bind(s.metadata);
    s.metadata.watchExpiry = (w) => (w.uploadId === failing.ticket.id ? Promise.reject(new Error("database unreachable")) : watchExpiry(w));
    const expiry = Math.max(failing.ticket.expiresAt, fine.ticket.expiresAt);
    assert.equal((await reconcileStaging(h.services, { now: expiry + 1500 })).expired, 0);
    assert.equal((await reconcileStaging(h.services, { now: expiry + 2500 })).expired, 1, "the other one is reported");
    s.metadata.watchExpiry = watchExpiry;
    // Still claimed by the failed sweep (5 minutes): found again once that lapses. Here the
    // claim is lapsed by hand, as time passing would.
    assert.equal((await reconcileStaging(h.services, { now: expiry + 3500 })).expired, 0);
    const raw = new Redis(redis.url);
    try {
      assert.equal(await raw.zadd("b:expiring:moving", "XX", "CH", 0, failing.ticket.id), 1);
    } finally {
      raw.disconnect();
    }
    assert.equal((await reconcileStaging(h.services, { now: expiry + 4500 })).expired, 1, "moved, and due at once");
    assert.equal((await reconcileStaging(h.services, { now: expiry + 5500 })).expired, 0);
    const { events } = await s.metadata.readEvents({ limit: 10 });
    assert.deepEqual(events.map((e) => e.uploadId).sort(), [failing.ticket.id, fine.ticket.id].sort());
  });
});
