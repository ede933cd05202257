import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { guardConnections } from "./connections.js";

const IDLE_MS = 300;

/** A server that answers once the whole body has arrived, behind the guard; `/metered` is metered elsewhere. */
function guardedServer(): http.Server {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end(`ok ${req.url}`));
  });
  guardConnections(server, { maxConnections: 10, lingerMs: 1000, idleMs: IDLE_MS, meteredElsewhere: (req) => req.url === "/metered" });
  return server;
}

/** Reads from `socket` until `pattern` has arrived, or fails after `ms`. */
async function receive(socket: net.Socket, pattern: RegExp, ms = 2000): Promise<string> {
  let text = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms; got ${JSON.stringify(text)}`)), ms);
    socket.on("data", (d: Buffer) => {
      text += d.toString();
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("guardConnections: the idle timeout", () => {
  let server: http.Server;
  let port: number;
  before(async () => {
    server = guardedServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it("closes a request whose body stops, and spares one metered elsewhere, then guards the next request on the same connection again", async () => {
    const socket = net.connect(port, "127.0.0.1");
    await once(socket, "connect");
    const closed = once(socket, "close").then(() => Date.now());
    try {
      // A metered request silent for over twice the idle timeout mid-body: left open.
      socket.write("PUT /metered HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345");
      await sleep(IDLE_MS * 3);
      assert.equal(socket.destroyed || socket.readyState !== "open", false, "the metered request's connection is still open");
      const answered = receive(socket, /ok \/metered$/);
      socket.write("67890");
      await answered;
      // The next request on the same keep-alive connection stops mid-body: closed.
      const stopped = Date.now();
      socket.write("POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n1");
      const after = (await Promise.race([closed, sleep(IDLE_MS * 10).then(() => Infinity)])) - stopped;
      assert.ok(after >= IDLE_MS * 0.8 && after < IDLE_MS * 5, `closed ${after} ms after its body stopped (idle timeout ${IDLE_MS} ms)`);
    } finally {
      socket.destroy();
    }
  });

  it("closes a request whose body stops on a fresh connection", async () => {
    const socket = net.connect(port, "127.0.0.1");
    await once(socket, "connect");
    const closed = once(socket, "close").then(() => Date.now());
    try {
      const stopped = Date.now();
      socket.write("POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n1");
      const after = (await Promise.race([closed, sleep(IDLE_MS * 10).then(() => Infinity)])) - stopped;
      assert.ok(after >= IDLE_MS * 0.8 && after < IDLE_MS * 5, `closed ${after} ms after its body stopped`);
    } finally {
      socket.destroy();
    }
  });
});
