import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startPostgres, type BackendServer } from "../../test/helpers/backends.js";
import { newId } from "../internal/crypto.js";
import { TOMBSTONE_MS } from "./ticket-store.js";
import { PostgresTicketStore } from "./postgres.js";
import { describeSharedTicketStore } from "./ticket-store.conformance.js";

let cluster: BackendServer;
describeSharedTicketStore(
  "postgres (a real PostgreSQL server)",
  async () => [(cluster = await startPostgres())],
  () => new PostgresTicketStore({ url: cluster.url }),
);

describe("postgres ticket store's expiry sweep", () => {
  let server: BackendServer;
  let store: PostgresTicketStore;
  before(async () => {
    server = await startPostgres();
    store = new PostgresTicketStore({ url: server.url });
  });
  after(async () => {
    await store.close();
    await server.stop();
  });

  it("deletes tickets past expiry and tombstone, and keeps the rest", async () => {
    const now = Date.now();
    const ticket = (expiresAt: number) => ({ id: newId("upl"), kind: "upload" as const, key: "k/f", filename: "f", contentType: "a/b", size: 1, sha256: null, metadata: {}, ownerId: null, createdAt: now, expiresAt });
    const old = ticket(now + 1000);
    const live = ticket(now + 3_600_000);
    await store.issue(old);
    await store.issue(live);
    const held = ticket(now + 1000);
    await store.issue(held);
    const claim = await store.claim(held.id, { leaseMs: 2 * 3_600_000 }); // a lease keeps its ticket past expiry
    assert.ok(claim.ok);
    const later = now + 1000 + TOMBSTONE_MS + 1;
    assert.equal(await store.sweep(later), 1);
    assert.equal(await store.get(old.id), undefined);
    assert.equal((await store.get(live.id))?.state, "issued");
    assert.equal((await store.get(held.id))?.state, "claimed");
    assert.equal(await store.sweep(later), 0, "sweeping again deletes nothing more");
  });
});
