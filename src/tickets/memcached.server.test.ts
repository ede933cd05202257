import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { memcachedUrl, startMemcached, type BackendServer } from "../../test/helpers/backends.js";
import { newId } from "../internal/crypto.js";
import { parseMemcachedUrl } from "../config.js";
import { MemcachedTicketStore } from "./memcached.js";
import { describeSharedTicketStore } from "./ticket-store.conformance.js";

let nodes: BackendServer[];
describeSharedTicketStore(
  "memcached (two real memcached servers, consistent hashing)",
  async () => (nodes = [await startMemcached(), await startMemcached()]),
  () => new MemcachedTicketStore({ servers: parseMemcachedUrl(memcachedUrl(nodes)) }),
);

/** Items a node holds, from its own `stats` (a raw text-protocol call, not through the client under test). */
async function itemsOn(port: number): Promise<number> {
  const socket = net.connect(port, "127.0.0.1");
  let text = "";
  socket.write("stats\r\n");
  for await (const chunk of socket) {
    text += String(chunk);
    if (text.includes("END\r\n")) break;
  }
  socket.destroy();
  return Number(/STAT curr_items (\d+)/.exec(text)?.[1]);
}

describe("memcached ticket store over several nodes", () => {
  let servers: BackendServer[];
  let store: MemcachedTicketStore;
  before(async () => {
    servers = [await startMemcached(), await startMemcached(), await startMemcached()];
    store = new MemcachedTicketStore({ servers: parseMemcachedUrl(memcachedUrl(servers)) });
  });
  after(async () => {
    await store.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  it("spreads tickets over every node by consistent hashing, each ticket on one node", async () => {
    const now = Date.now();
    for (let i = 0; i < 90; i++) {
      await store.issue({ id: newId("upl"), kind: "upload", key: "k/f", filename: "f", contentType: "a/b", size: 1, sha256: null, metadata: {}, ownerId: null, createdAt: now, expiresAt: now + 60_000 });
    }
    const counts = await Promise.all(servers.map((s) => itemsOn(s.port)));
    assert.equal(counts.reduce((a, b) => a + b, 0), 90, `one copy of each: ${counts.join(", ")}`);
    for (const n of counts) assert.ok(n >= 10, `every node holds a share: ${counts.join(", ")}`);
  });

  it("fails the calls of a node that is down, and serves them again when it returns", async () => {
    const victim = servers[1]!;
    await victim.halt();
    try {
      await assert.rejects(store.ping()); // the node refuses the connection, or the client says it did not answer
      // Tickets hashed to the other nodes still work; none is moved to another node.
      const now = Date.now();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 30 }, () => store.issue({ id: newId("upl"), kind: "upload", key: "k/f", filename: "f", contentType: "a/b", size: 1, sha256: null, metadata: {}, ownerId: null, createdAt: now, expiresAt: now + 60_000 })),
      );
      assert.ok(outcomes.some((o) => o.status === "rejected"), "calls for the dead node fail");
      assert.ok(outcomes.some((o) => o.status === "fulfilled"), "calls for the live nodes succeed");
    } finally {
      await victim.resume();
    }
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await store.ping();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });
});
