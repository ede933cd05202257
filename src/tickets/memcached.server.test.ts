import assert from "node:assert/strict";
import net from "node:net";
import memcachedConnection from "memcached/lib/connection.js";
import { after, before, describe, it } from "node:test";
import { memcachedUrl, startMemcached, withEmptyPath, type BackendServer } from "../../test/helpers/backends.js";
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

/** Waits until every node answers the store again (a node just restarted), at most 10 s. */
async function answersAgain(store: MemcachedTicketStore): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await store.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
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
    await answersAgain(store);
  });
});

describe("memcached ticket store where the system has no `ping`", () => {
  it("survives one node's failures overlapping (the library's reconnect check spawns `ping`), and serves again when the node returns", async () => {
    // Overlapping failures of one node send the library to its reconnect check, which ran
    // `ping`: with none installed, the spawn's unhandled ENOENT ended the process.
    const server = await startMemcached();
    const store = new MemcachedTicketStore({ servers: parseMemcachedUrl(memcachedUrl([server])) });
    const prototype = memcachedConnection.IssueLog.prototype;
    const reconnect = prototype.attemptReconnect;
    let reconnects = 0;
    prototype.attemptReconnect = function counted() {
      reconnects++;
      reconnect.call(this);
    };
    const ticket = () => {
      const now = Date.now();
      return { id: newId("upl"), kind: "upload" as const, key: "k/f", filename: "f", contentType: "a/b", size: 1, sha256: null, metadata: {}, ownerId: null, createdAt: now, expiresAt: now + 60_000 };
    };
    try {
      // No `ping` to be found, as on a slim image.
      await withEmptyPath(async () => {
        await server.halt();
        const outcomes = await Promise.allSettled(Array.from({ length: 30 }, () => store.issue(ticket())));
        assert.ok(outcomes.every((o) => o.status === "rejected"), "every call to the stopped node fails");
        // The library's reconnect wait (`reconnect`, 1 s), then some: a failed spawn would have thrown by then.
        const deadline = Date.now() + 10_000;
        while (reconnects === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        assert.ok(reconnects > 0, "the failures overlapped, and the reconnect check ran");
        await new Promise((r) => setTimeout(r, 500));
      });
      await server.resume();
      await answersAgain(store);
      await store.issue(ticket());
    } finally {
      prototype.attemptReconnect = reconnect;
      await store.close();
      await server.stop();
    }
  });
});
