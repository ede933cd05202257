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
import { describeSharedTicketStore } from "./ticket-store.conformance.js";
import { TOMBSTONE_MS, type Ticket } from "./ticket-store.js";

let server: BackendServer;
describeSharedTicketStore(
  "redis (a real redis-server)",
  async () => [(server = await startRedis())],
  () => new RedisTicketStore({ url: server.url }),
);

const ticket = (id: string, expiresAt: number): Ticket => ({
  id,
  kind: "upload",
  key: `${id}/a.png`,
  filename: "a.png",
  contentType: "image/png",
  size: 10,
  sha256: null,
  metadata: { album: "x" },
  ownerId: "key_test",
  createdAt: expiresAt - 60_000,
  expiresAt,
});

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

  it("lists a watched ticket once it is due, with its state, and keeps it until its watch is settled", async () => {
    const now = Date.now();
    const [unused, used, cancelled, future] = [ticket("upl_unused", now + 200), ticket("upl_used", now + 300), ticket("upl_cancelled", now + 400), ticket("upl_future", now + 60_000)];
    await Promise.all([unused, used, cancelled, future].map((t) => store.issueWatched(t)));
    await store.issue(ticket("upl_unwatched", now + 100));
    await assert.rejects(store.issueWatched(ticket("upl_unused", now + 500)), /already exists/);
    assert.equal((await store.consume(used.id, null)).ok, true);
    assert.equal(await store.revoke(cancelled.id), true);

    assert.deepEqual(await store.dueWatches(now + 1000, 10), [
      { id: unused.id, ticket: { ticket: unused, state: "issued" } },
      { id: used.id, ticket: { ticket: used, state: "consumed" } },
      { id: cancelled.id, ticket: { ticket: cancelled, state: "revoked" } },
    ]);
    assert.deepEqual((await store.dueWatches(now + 1000, 1)).map((d) => d.id), [unused.id], "at most `limit`, soonest first");
    assert.deepEqual(await store.dueWatches(now, 10), [], "none before its expiry");
    // Held for its watch, far past the tombstone; an unwatched ticket is not.
    assert.ok((await raw.pttl("w:t:upl_unused")) > WATCH_HOLD_MS - 60_000);
    assert.ok((await raw.pttl("w:t:upl_unwatched")) <= TOMBSTONE_MS + 100);

    await store.settleWatches([unused.id, used.id, cancelled.id]);
    await store.settleWatches([unused.id]); // twice: harmless
    assert.deepEqual(await store.dueWatches(now + 1000, 10), []);
    // Settled: kept a tombstone past expiry, as unwatched tickets are; state and ticket stay.
    const ttl = await raw.pttl("w:t:upl_unused");
    assert.ok(ttl > 0 && ttl <= TOMBSTONE_MS + 200, `pttl ${ttl}`);
    assert.deepEqual(await store.get(used.id), { ticket: used, state: "consumed" });
    assert.deepEqual(await store.dueWatches(now + 120_000, 10), [{ id: future.id, ticket: { ticket: future, state: "issued" } }]);
  });

  it("lists a watch whose ticket is gone with no ticket", async () => {
    const now = Date.now();
    await store.issueWatched(ticket("upl_gone", now + 50));
    await raw.del("w:t:upl_gone");
    assert.deepEqual(await store.dueWatches(now + 100, 10), [{ id: "upl_gone", ticket: undefined }]);
    await store.settleWatches(["upl_gone"]);
    assert.equal(await raw.exists("w:t:upl_gone"), 0, "settling does not bring it back");
  });
});

describe("upload.expired with Redis tickets: the sweep hands the watches on to the metadata store", () => {
  const principal: Principal = { kind: "key", keyId: "test" };
  const request = { filename: "a.png", contentType: "image/png", size: 10, expiresIn: 1 };
  let redis: BackendServer;
  let h: Harness;
  before(async () => {
    redis = await startRedis();
    h = await makeServices({ tickets: new RedisTicketStore({ url: redis.url }), env: { SLUICE_EXPIRY_GRACE: "0", SLUICE_TICKET_LEASE: "1", SLUICE_RECONCILE_INTERVAL: "1" } });
  });
  after(async () => {
    await h?.close();
    await redis?.stop();
  });

  it("reports the unused upload once, and neither the used nor the cancelled one; issuance writes no metadata", async () => {
    const s = h.services;
    let metadataWatches = 0;
    const watchExpiry = s.metadata.watchExpiry.bind(s.metadata);
    s.metadata.watchExpiry = (w) => (metadataWatches++, watchExpiry(w));
    const [unused, used, cancelled] = [await issueUpload(s, principal, request), await issueUpload(s, principal, request), await issueUpload(s, principal, request)];
    assert.equal(metadataWatches, 0, "the watches are in Redis, beside the tickets");
    assert.equal((await s.tickets.consume(used.ticket.id, null)).ok, true);
    assert.equal((await cancelUpload(s, cancelled.ticket.id)).state, "cancelled");

    // Past expiry, but not yet half a grace (max of lease, two sweeps: 2 s) after it: not moved.
    const expiry = unused.ticket.expiresAt;
    assert.equal((await reconcileStaging(h.services, { now: expiry + 500 })).expired, 0);
    assert.equal(metadataWatches, 0);
    // Half a grace after it: moved (only the unused one needs a watch); a grace after: reported.
    assert.equal((await reconcileStaging(h.services, { now: expiry + 1500 })).expired, 0);
    assert.equal(metadataWatches, 1);
    assert.equal((await reconcileStaging(h.services, { now: expiry + 2500 })).expired, 1);
    assert.equal((await reconcileStaging(h.services, { now: expiry + 3500 })).expired, 0, "once");
    assert.equal(metadataWatches, 1, "settled: not moved again");
    const { events } = await s.metadata.readEvents({ limit: 10 });
    assert.deepEqual(
      events.map((e) => [e.uploadId, e.type, e.data.filename, e.data.metadata]),
      [[unused.ticket.id, "upload.expired", "a.png", {}]],
    );
  });
});
