/**
 * Node's issue lane (issue-lane.ts) answers `POST /v1/uploads` without the
 * app's envelope. Here the same requests go to two Node servers over one Sluice: the app alone,
 * and the lane in front of the app, as `npm start` serves it. Each answer must be the same
 * (status, headers but Date, body but its fresh ids, times and signatures), and the lane must
 * have taken exactly the requests it is meant to take, so that the comparison covers its own
 * answers, not only the app's.
 */
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { serve } from "@hono/node-server";
import { createApp } from "../../http/app.js";
import { issueLane, withIssueLane } from "./issue-lane.js";
import { nodePeerAddress, nodeRequestBody } from "./body.js";
import { MemoryTicketStore } from "../../tickets/memory.js";
import type { Ticket } from "../../tickets/ticket-store.js";
import { makeServices, type Harness } from "../../../test/helpers/services.js";

const KEY = "sk_test_key_0123456789";
const UPLOAD = JSON.stringify({ filename: "cat.png", contentType: "image/png", size: 1234 });

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends one request as raw bytes (so that repeated headers and odd framing go as written) and reads the whole answer. */
function exchange(port: number, request: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error("no answer within 10 s")));
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", reject);
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = text.slice(0, split).split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        const name = line.slice(0, colon).toLowerCase();
        if (name !== "date") headers[name] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body: text.slice(split + 4) });
    });
    socket.write(request); // not end(): a client that half-closes may lose a slow answer
  });
}

/** A request's bytes: head lines as given, then the body (with a Content-Length unless `lengthless`). */
function request(options: { path?: string; host?: string; head?: string[]; body?: Buffer | string; lengthless?: boolean; authorization?: string | null }): Buffer {
  const body = Buffer.from(options.body ?? UPLOAD);
  const head = [
    `POST ${options.path ?? "/v1/uploads"} HTTP/1.1`,
    `Host: ${options.host ?? "127.0.0.1"}`,
    "Connection: close",
    "Content-Type: application/json",
    ...(options.authorization === null ? [] : [`Authorization: ${options.authorization ?? `Bearer ${KEY}`}`]),
    ...(options.lengthless ? [] : [`Content-Length: ${body.length}`]),
    ...(options.head ?? []),
  ];
  return Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`), body]);
}

/** What differs between two issuances of the same request: ids, times, signatures. */
const normalized = (a: Answer): Answer => ({
  ...a,
  body: a.body
    .replace(/upl_[A-Za-z0-9_-]{22}/g, "upl_ID")
    .replace(/"expiresAt":"[^"]+"/g, '"expiresAt":"T"')
    .replace(/expires=\d+&signature=[A-Za-z0-9_-]+/g, "expires=E&signature=S"),
});

async function listen(server: http.Server): Promise<number> {
  if (!server.listening) await new Promise((resolve) => server.once("listening", resolve));
  return (server.address() as AddressInfo).port;
}

/** Two servers over one harness: the app alone, and the lane in front of it (counting what it takes). */
async function servers(h: Harness) {
  const { services, sluice } = h;
  const app = createApp({ services, auth: sluice.auth, eventsSecret: "events-secret-0123456789", webRoot: undefined, requestBody: nodeRequestBody, peerAddress: nodePeerAddress });
  const lane = issueLane(sluice);
  let taken = 0;
  const counting = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const took = lane(req, res);
    if (took) taken++;
    return took;
  };
  const plain = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1", createServer: http.createServer }) as http.Server;
  const laned = serve({
    fetch: app.fetch,
    port: 0,
    hostname: "127.0.0.1",
    createServer: ((options: http.ServerOptions, listener: http.RequestListener) => http.createServer(options, withIssueLane(counting, listener))) as typeof http.createServer,
  }) as http.Server;
  const ports = { plain: await listen(plain), laned: await listen(laned) };
  return {
    /** The same request to both; both answers, and whether the lane took it. */
    async both(bytes: Buffer) {
      const before = taken;
      const viaLane = await exchange(ports.laned, bytes);
      const tookIt = taken - before === 1;
      const viaApp = await exchange(ports.plain, bytes);
      return { viaLane, viaApp, tookIt };
    },
    close: () => Promise.all([plain, laned].map((s) => new Promise((resolve) => s.close(resolve)))),
  };
}

describe("Node's issue lane answers as the app does", () => {
  let h: Harness;
  let s: Awaited<ReturnType<typeof servers>>;
  before(async () => {
    h = await makeServices({ env: { SLUICE_MAX_SIZE: String(10 * 1024 * 1024), SLUICE_MULTIPART_THRESHOLD: String(8 * 1024 * 1024) } });
    s = await servers(h);
  });
  after(async () => {
    await s?.close();
    await h?.close();
  });

  const cases: { name: string; bytes: () => Buffer; lane: boolean; status: number }[] = [
    { name: "an upload", bytes: () => request({}), lane: true, status: 201 },
    { name: "an upload in parts (over the multipart threshold)", bytes: () => request({ body: JSON.stringify({ filename: "big.bin", contentType: "application/octet-stream", size: 9 * 1024 * 1024 }) }), lane: true, status: 201 },
    { name: "`bearer` in lower case", bytes: () => request({ authorization: `bearer ${KEY}` }), lane: true, status: 201 },
    { name: "a body that starts with a byte-order mark", bytes: () => request({ body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(UPLOAD)]) }), lane: true, status: 201 },
    { name: "a body that is not JSON", bytes: () => request({ body: "{not json" }), lane: true, status: 400 },
    { name: "an empty body", bytes: () => request({ body: "" }), lane: true, status: 400 },
    { name: "a body that fails the schema", bytes: () => request({ body: JSON.stringify({ filename: "a", contentType: "image/png", size: -1 }) }), lane: true, status: 400 },
    { name: "a file over the size limit", bytes: () => request({ body: JSON.stringify({ filename: "a", contentType: "image/png", size: 11 * 1024 * 1024 }) }), lane: true, status: 413 },
    { name: "an Origin (CORS)", bytes: () => request({ head: ["Origin: https://app.example"] }), lane: false, status: 201 },
    { name: "a chunked body", bytes: () => request({ lengthless: true, head: ["Transfer-Encoding: chunked"], body: `${Buffer.byteLength(UPLOAD).toString(16)}\r\n${UPLOAD}\r\n0\r\n\r\n` }), lane: false, status: 201 },
    { name: "a Content-Length over the route's limit", bytes: () => request({ lengthless: true, head: ["Content-Length: 70000"], body: "" }), lane: false, status: 413 },
    { name: "two Authorization headers", bytes: () => request({ head: [`Authorization: Bearer ${KEY}`] }), lane: false, status: 401 },
    { name: "a query string", bytes: () => request({ path: "/v1/uploads?x=1" }), lane: false, status: 201 },
    { name: "a Host in capitals", bytes: () => request({ host: "LOCALHOST" }), lane: false, status: 201 },
    { name: "no credential", bytes: () => request({ authorization: null }), lane: false, status: 401 },
    { name: "an unknown key", bytes: () => request({ authorization: "Bearer sk_unknown_0123456789" }), lane: false, status: 401 },
    { name: "a browser token", bytes: () => request({ authorization: "Bearer sut_not_a_real_token" }), lane: false, status: 401 },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.status}, ${c.lane ? "taken by the lane" : "left to the app"}, the same answer`, async () => {
      const { viaLane, viaApp, tookIt } = await s.both(c.bytes());
      assert.equal(tookIt, c.lane);
      assert.equal(viaLane.status, c.status, viaLane.body);
      if (c.name.startsWith("an upload in parts")) assert.match(viaLane.body, /"multipart":\{/);
      assert.deepEqual(normalized(viaLane), normalized(viaApp));
    });
  }

  it("records the request's latency under its route, as the app does", async () => {
    const count = async () => {
      const text = await h.services.metrics.registry.metrics();
      return Number(/sluice_http_request_duration_seconds_count\{method="POST",route="\/v1\/uploads",status="201"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await count();
    const { tookIt } = await s.both(request({}));
    assert.equal(tookIt, true);
    assert.equal((await count()) - before, 2); // one by the lane, one by the app
  });
});

describe("Node's issue lane with the ticket store down", () => {
  it("fails closed with the app's 503", async () => {
    class Down extends MemoryTicketStore {
      override issue(_ticket: Ticket): Promise<void> {
        return Promise.reject(new Error("connection refused"));
      }
    }
    const h = await makeServices({ tickets: new Down() });
    const s = await servers(h);
    try {
      const { viaLane, viaApp, tookIt } = await s.both(request({}));
      assert.equal(tookIt, true);
      assert.equal(viaLane.status, 503, viaLane.body);
      assert.deepEqual(normalized(viaLane), normalized(viaApp));
    } finally {
      await s.close();
      await h.close();
    }
  });
});
