/**
 * The behaviour every TicketStore must have. It uses real time with short TTLs so that it
 * runs unchanged against stores whose clock is a server's.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newId } from "../internal/crypto.js";
import { sleep } from "../internal/async.js";
import type { Ticket, TicketStore } from "./ticket-store.js";

export interface TicketStoreFixture {
  store: TicketStore;
  /** A second client of the same backend, as another instance would have (shared stores only). */
  peer?: TicketStore;
  close(): Promise<void>;
}

const ticket = (ttlMs = 60_000): Ticket => ({
  id: newId("upl"),
  kind: "upload",
  key: "k/file.bin",
  filename: "../ünï côdé.bin",
  contentType: "application/octet-stream",
  size: 5 * 1024 ** 4,
  sha256: "ab".repeat(32),
  metadata: { album: "cats", "x-y": "✓" },
  ownerId: "key_1",
  createdAt: Date.now(),
  expiresAt: Date.now() + ttlMs,
});

/** A small ticket with a given id and expiry, for the tests of stores that keep expiry watches. */
export const watchedTicket = (id: string, expiresAt: number): Ticket => ({
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

/**
 * The conformance suite for a store on servers several instances share: `open` starts the
 * servers, `connect` makes one client (called twice: the store and its peer, as two instances).
 */
export function describeSharedTicketStore(name: string, open: () => Promise<{ stop(): Promise<void> }[]>, connect: () => TicketStore) {
  describeTicketStore(
    name,
    async () => {
      const servers = await open();
      const store = connect();
      const peer = connect();
      return {
        store,
        peer,
        async close() {
          await Promise.all([store.close(), peer.close()]);
          await Promise.all(servers.map((s) => s.stop()));
        },
      };
    },
    { shared: true },
  );
}

/** `shared`: the store is a server that several instances use; the fixture then gives a `peer`. */
export function describeTicketStore(name: string, open: () => Promise<TicketStoreFixture>, options: { shared: boolean } = { shared: false }) {
  describe(`TicketStore conformance: ${name}`, () => {
    let fx: TicketStoreFixture;
    let store: TicketStore;
    before(async () => {
      fx = await open();
      store = fx.store;
    });
    after(async () => fx.close());

    it("issues, claims once, and returns the ticket to its claimer", async () => {
      const t = ticket();
      await store.issue(t);
      const first = await store.claim(t.id, { leaseMs: 10_000 });
      assert.equal(first.ok, true);
      assert.deepEqual(first.ok && first.ticket, t);
      assert.deepEqual(await store.claim(t.id, { leaseMs: 10_000 }), { ok: false, reason: "claimed" });
      assert.deepEqual(await store.get(t.id), { ticket: t, state: "claimed" });
    });

    it("keeps a multipart plan with the ticket", async () => {
      const t: Ticket = { ...ticket(), multipart: { uploadId: "2~AbC/dEf+gh=", partSize: 16 * 1024 ** 2, partCount: 10_000 } };
      await store.issue(t);
      assert.deepEqual(await store.get(t.id), { ticket: t, state: "issued" });
      const claim = await store.claim(t.id, { leaseMs: 10_000 });
      assert.deepEqual(claim.ok && claim.ticket, t);
    });

    it("lets exactly one of 50 concurrent claimers win", async () => {
      const t = ticket();
      await store.issue(t);
      const results = await Promise.all(Array.from({ length: 50 }, () => store.claim(t.id, { leaseMs: 10_000 })));
      assert.equal(results.filter((r) => r.ok).length, 1);
      assert.ok(results.every((r) => r.ok || r.reason === "claimed"));
    });

    it("releases a claim so that the ticket can be claimed again", async () => {
      const t = ticket();
      await store.issue(t);
      const c = await store.claim(t.id, { leaseMs: 10_000 });
      assert.ok(c.ok);
      assert.equal(await store.release(t.id, c.lease), true);
      assert.equal(await store.release(t.id, c.lease), false, "a lease is released once");
      assert.equal((await store.get(t.id))?.state, "issued");
      assert.equal((await store.claim(t.id, { leaseMs: 10_000 })).ok, true);
    });

    it("consumes once with the holder's lease; later claims see it used", async () => {
      const t = ticket();
      await store.issue(t);
      const c = await store.claim(t.id, { leaseMs: 10_000 });
      assert.ok(c.ok);
      assert.deepEqual(await store.consume(t.id, "not-the-lease"), { ok: false, reason: "lease_lost" });
      assert.deepEqual(await store.consume(t.id, c.lease), { ok: true, ticket: t });
      assert.deepEqual(await store.consume(t.id, c.lease), { ok: false, reason: "consumed" });
      assert.deepEqual(await store.claim(t.id, { leaseMs: 10_000 }), { ok: false, reason: "consumed" });
      assert.equal(await store.release(t.id, c.lease), false);
      assert.equal((await store.get(t.id))?.state, "consumed");
    });

    it("consumes an unclaimed ticket directly, but not one someone holds", async () => {
      const t = ticket();
      await store.issue(t);
      assert.deepEqual(await store.consume(t.id, null), { ok: true, ticket: t });
      const u = ticket();
      await store.issue(u);
      assert.ok((await store.claim(u.id, { leaseMs: 10_000 })).ok);
      assert.deepEqual(await store.consume(u.id, null), { ok: false, reason: "claimed" });
    });

    it("refuses claims after expiry, but lets a claim made in time be consumed", async () => {
      const t = ticket(300);
      const u = ticket(300);
      await store.issue(t);
      await store.issue(u);
      const c = await store.claim(u.id, { leaseMs: 10_000 });
      assert.ok(c.ok);
      await sleep(450);
      const late = await store.claim(t.id, { leaseMs: 10_000 });
      assert.equal(late.ok, false);
      assert.ok(!late.ok && (late.reason === "expired" || late.reason === "unknown"), JSON.stringify(late));
      assert.equal((await store.consume(t.id, null)).ok, false);
      assert.equal((await store.consume(u.id, c.lease)).ok, true);
      const seen = await store.get(t.id);
      assert.ok(seen === undefined || (seen.state === "issued" && seen.ticket.expiresAt <= Date.now()), "an expired ticket reads as expired or gone");
    });

    it("gives the ticket to a new claimer when a lease runs out, and the old holder loses it", async () => {
      const t = ticket();
      await store.issue(t);
      const dead = await store.claim(t.id, { leaseMs: 200 });
      assert.ok(dead.ok);
      await sleep(350);
      assert.equal((await store.get(t.id))?.state, "issued");
      const next = await store.claim(t.id, { leaseMs: 10_000 });
      assert.ok(next.ok);
      assert.equal(await store.renew(t.id, dead.lease, { leaseMs: 10_000 }), false);
      assert.deepEqual(await store.consume(t.id, dead.lease), { ok: false, reason: "lease_lost" });
      assert.equal((await store.consume(t.id, next.lease)).ok, true);
    });

    it("renews a held lease so that it outlives its first term", async () => {
      const t = ticket();
      await store.issue(t);
      const c = await store.claim(t.id, { leaseMs: 300 });
      assert.ok(c.ok);
      for (let i = 0; i < 3; i++) {
        await sleep(150);
        assert.equal(await store.renew(t.id, c.lease, { leaseMs: 300 }), true);
      }
      assert.deepEqual(await store.claim(t.id, { leaseMs: 300 }), { ok: false, reason: "claimed" });
    });

    it("revokes an issued ticket, but not a used one", async () => {
      const t = ticket();
      await store.issue(t);
      assert.equal(await store.revoke(t.id), true);
      assert.deepEqual(await store.claim(t.id, { leaseMs: 1000 }), { ok: false, reason: "revoked" });
      const u = ticket();
      await store.issue(u);
      assert.equal((await store.consume(u.id, null)).ok, true);
      assert.equal(await store.revoke(u.id), false);
      assert.equal(await store.revoke(newId("upl")), false);
    });

    it("does not know tickets it never issued", async () => {
      const id = newId("upl");
      assert.deepEqual(await store.claim(id, { leaseMs: 1000 }), { ok: false, reason: "unknown" });
      assert.deepEqual(await store.consume(id, null), { ok: false, reason: "unknown" });
      assert.equal(await store.get(id), undefined);
    });

    it("refuses to issue the same id twice", async () => {
      const t = ticket();
      await store.issue(t);
      await assert.rejects(store.issue(t));
    });

    it("issues 300 tickets at once, each once, and refuses the one asked for twice among them", async () => {
      const many = Array.from({ length: 300 }, () => ticket());
      const twice = many[150]!;
      const outcomes = await Promise.allSettled([...many, twice].map((t) => store.issue(t)));
      assert.equal(outcomes.filter((o) => o.status === "rejected").length, 1, "exactly one of the two issuances of one id fails");
      for (const t of [many[0]!, twice, many[299]!]) assert.deepEqual(await store.get(t.id), { ticket: t, state: "issued" });
      const claims = await Promise.all(many.map((t) => store.claim(t.id, { leaseMs: 10_000 })));
      assert.equal(claims.filter((c) => c.ok).length, 300);
    });

    if (options.shared) it("shares tickets between instances: one issues, of many claimers on both exactly one wins", async () => {
      const peer = fx.peer;
      assert.ok(peer, "a shared store's fixture gives a second client");
      const u = ticket();
      await store.issue(u);
      assert.deepEqual(await peer.get(u.id), { ticket: u, state: "issued" });
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? peer : store).claim(u.id, { leaseMs: 10_000 })));
      const winners = results.filter((r) => r.ok);
      assert.equal(winners.length, 1);
      assert.ok(results.every((r) => r.ok || r.reason === "claimed"));
      const winner = winners[0]!;
      // The lease is the store's, not the client's: the other instance can consume with it.
      assert.ok(winner.ok);
      assert.equal((await (results.indexOf(winner) % 2 ? store : peer).consume(u.id, winner.lease)).ok, true);
      assert.equal((await store.get(u.id))?.state, "consumed");
      assert.equal((await peer.get(u.id))?.state, "consumed");
    });

    it("answers ping", async () => {
      await store.ping();
    });
  });
}
