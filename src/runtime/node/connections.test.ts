import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type net from "node:net";
import { after, before, describe, it } from "node:test";
import { rawSocket, within } from "../../../test/helpers/raw-http.js";
import { sleep } from "../../internal/async.js";
import { guardConnections } from "./connections.js";

const IDLE_MS = 300;

describe("guardConnections: the idle timeout", () => {
  let server: http.Server;
  let port: number;
  before(async () => {
    // Answers once the whole body has arrived; `/metered` is metered elsewhere (as gateway uploads are).
    server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => res.end(`ok ${req.url}`));
    });
    guardConnections(server, { maxConnections: 10, lingerMs: 1000, idleMs: IDLE_MS, meteredElsewhere: (req) => req.url === "/metered" });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  /** Milliseconds from now until `conn` closes (Infinity if not within ten idle timeouts). */
  const closesIn = async (conn: ReturnType<typeof rawSocket>) => {
    const from = Date.now();
    return (await within(conn.closed.then(() => Date.now()), IDLE_MS * 10, Infinity)) - from;
  };

  it("spares a request metered elsewhere, then holds the next request on the same connection to it again", async () => {
    const conn = rawSocket(port, "PUT /metered HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345");
    try {
      // Silent mid-body for three idle timeouts: left open.
      await sleep(IDLE_MS * 3);
      assert.equal(conn.socket.readyState, "open", "the metered request's connection is still open");
      conn.socket.write("67890");
      const answered = await within(
        new Promise<boolean>((resolve) => conn.socket.on("data", (d: string) => d.includes("ok /metered") && resolve(true))),
        2000,
        false,
      );
      assert.ok(answered, "the metered request was answered once its body ended");
      // The next request on the same keep-alive connection stops mid-body: closed.
      conn.socket.write("POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n1");
      const ms = await closesIn(conn);
      assert.ok(ms >= IDLE_MS * 0.8 && ms < IDLE_MS * 5, `closed ${ms} ms after its body stopped (idle timeout ${IDLE_MS} ms)`);
    } finally {
      conn.socket.destroy();
    }
  });

  it("closes a request whose body stops on a fresh connection", async () => {
    const conn = rawSocket(port, "POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n1");
    try {
      const ms = await closesIn(conn);
      assert.ok(ms >= IDLE_MS * 0.8 && ms < IDLE_MS * 5, `closed ${ms} ms after its body stopped`);
    } finally {
      conn.socket.destroy();
    }
  });
});
