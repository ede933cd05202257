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
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { serve } from "@hono/node-server";
import { createApp } from "../../http/app.js";
import { createServerWithLane, issueLane } from "./issue-lane.js";
import { nodePeerAddress, nodeRequestBody } from "./body.js";
import { createApiKey } from "../../domain/api-keys.js";
import { sleep } from "../../internal/async.js";
import { MemoryTicketStore } from "../../tickets/memory.js";
import type { Ticket } from "../../tickets/ticket-store.js";
import { rawSocket, within } from "../../../test/helpers/raw-http.js";
import { makeServices, type Harness } from "../../../test/helpers/services.js";

const KEY = "sk_test_key_0123456789";
const UPLOAD = JSON.stringify({ filename: "cat.png", contentType: "image/png", size: 1234 });

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits what a server sent on one connection into its answers (each framed by Content-Length). */
function answersIn(bytes: Buffer): Answer[] {
  const answers: Answer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const split = bytes.indexOf("\r\n\r\n", at);
    if (split < 0) break;
    const [statusLine = "", ...lines] = bytes.subarray(at, split).toString("latin1").split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      if (name !== "date") headers[name] = line.slice(colon + 1).trim();
    }
    const end = split + 4 + Number(headers["content-length"] ?? 0);
    answers.push({ status: Number(statusLine.split(" ")[1]), headers, body: bytes.subarray(split + 4, end).toString("utf8") });
    at = end;
  }
  return answers;
}

/**
 * Sends raw bytes on one connection (so that repeated headers and odd framing go as written),
 * in pieces a few milliseconds apart if given several, and reads every answer until the server
 * closes it (the last request says `Connection: close`).
 */
async function exchangeAll(port: number, pieces: Buffer[]): Promise<Answer[]> {
  const conn = rawSocket(port);
  for (const [i, piece] of pieces.entries()) {
    if (i > 0) await sleep(20);
    conn.socket.write(piece); // never end(): a client that half-closes may lose a slow answer
  }
  const closed = await within(conn.closed, 10_000, undefined);
  conn.socket.destroy();
  assert.ok(closed, "the server did not close the connection within 10 s");
  return answersIn(Buffer.from(closed.received, "utf8"));
}

const exchange = async (port: number, bytes: Buffer): Promise<Answer> => {
  const [answer] = await exchangeAll(port, [bytes]);
  assert.ok(answer, "no answer");
  return answer;
};

/** A request's bytes: head lines as given, then the body (with a Content-Length unless `lengthless`). */
function request(options: { path?: string; host?: string; head?: string[]; body?: Buffer | string; lengthless?: boolean; authorization?: string | null; keepAlive?: boolean }): Buffer {
  const body = Buffer.from(options.body ?? UPLOAD);
  const head = [
    `POST ${options.path ?? "/v1/uploads"} HTTP/1.1`,
    `Host: ${options.host ?? "127.0.0.1"}`,
    `Connection: ${options.keepAlive ? "keep-alive" : "close"}`,
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
  headers: { ...a.headers, ...(a.headers["retry-after"] && { "retry-after": "N" }) },
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
    createServer: createServerWithLane(counting), // as main.ts serves it
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
    /** The same pieces on one connection to each; every answer, and how many requests the lane took. */
    async bothAll(pieces: Buffer[]) {
      const before = taken;
      const viaLane = await exchangeAll(ports.laned, pieces);
      const took = taken - before;
      const viaApp = await exchangeAll(ports.plain, pieces);
      return { viaLane, viaApp, took };
    },
    ports,
    close: () => Promise.all([plain, laned].map((s) => new Promise((resolve) => s.close(resolve)))),
  };
}

describe("Node's issue lane answers as the app does", () => {
  let h: Harness;
  let s: Awaited<ReturnType<typeof servers>>;
  before(async () => {
    h = await makeServices({ env: { SLUICE_MAX_SIZE: String(10 * 1024 * 1024), SLUICE_MULTIPART_THRESHOLD: String(8 * 1024 * 1024), SLUICE_RATE_LIMIT: "off" } });
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

  it("a body in pieces, with a character split between them and a byte that is not UTF-8: taken, the same answer", async () => {
    const body = Buffer.concat([Buffer.from('{"filename":"caf\u00e9-'), Buffer.from([0xff]), Buffer.from('.png","contentType":"image/png","size":5}')]);
    const bytes = request({ body });
    const cut = bytes.indexOf(Buffer.from("\u00e9")) + 1; // inside the two bytes of é
    const { viaLane, viaApp, took } = await s.bothAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
    assert.equal(took, 1);
    assert.equal(viaLane[0]?.status, 201, viaLane[0]?.body);
    assert.match(viaLane[0]?.body ?? "", /\/cafe-\.png"/); // the key: é decoded whole, then made key-safe
    assert.deepEqual(viaLane.map(normalized), viaApp.map(normalized));
  });

  it("requests in a row on one kept-alive connection, taken and not: the same answers in order", async () => {
    const pieces = [Buffer.concat([request({ keepAlive: true }), request({ keepAlive: true, path: "/v1/uploads?x=1" }), request({ body: "{" })])];
    const { viaLane, viaApp, took } = await s.bothAll(pieces);
    assert.equal(took, 2);
    assert.deepEqual(
      viaLane.map((a) => a.status),
      [201, 201, 400],
    );
    assert.deepEqual(viaLane.map(normalized), viaApp.map(normalized));
  });

  it("a stored key: left to the app until it is known, then taken; once revoked, left to the app's 401", async () => {
    const { key, record } = await createApiKey(h.services.metadata, { name: "stored", now: Date.now() });
    const first = await s.both(request({ authorization: `Bearer ${key}` }));
    assert.equal(first.tookIt, false);
    assert.equal(first.viaLane.status, 201);
    const second = await s.both(request({ authorization: `Bearer ${key}` }));
    assert.equal(second.tookIt, true);
    assert.deepEqual(normalized(second.viaLane), normalized(second.viaApp));
    await h.services.metadata.revokeApiKey(record.id, Date.now());
    h.sluice.auth.forget(record.id);
    const revoked = await s.both(request({ authorization: `Bearer ${key}` }));
    assert.equal(revoked.tookIt, false);
    assert.equal(revoked.viaLane.status, 401);
    assert.deepEqual(normalized(revoked.viaLane), normalized(revoked.viaApp));
  });

  it("a body cut off mid-way: counted as the app counts it (400 client_aborted, no 500)", async () => {
    const count = async (status: number) => {
      const text = await h.services.metrics.registry.metrics();
      return Number(new RegExp(`sluice_http_request_duration_seconds_count\\{method="POST",route="/v1/uploads",status="${status}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    const cutOff = async (port: number) => {
      const conn = rawSocket(port, request({ lengthless: true, head: ["Content-Length: 100"], body: '{"filename":' }).toString("latin1"));
      await sleep(50);
      conn.socket.destroy();
    };
    const counted = async (status: number, at: number) => {
      for (let waited = 0; waited < 2000 && (await count(status)) < at; waited += 20) await sleep(20);
      return count(status);
    };
    const before = { aborted: await count(400), failed: await count(500) };
    await cutOff(s.ports.laned);
    assert.equal(await counted(400, before.aborted + 1), before.aborted + 1);
    await cutOff(s.ports.plain);
    assert.equal(await counted(400, before.aborted + 2), before.aborted + 2);
    assert.equal(await count(500), before.failed);
  });

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

describe("Node's issue lane over the key's rate limit", () => {
  it("answers the app's 429 with its Retry-After", async () => {
    const h = await makeServices({ env: { SLUICE_RATE_LIMIT: "2/min" } });
    const s = await servers(h);
    try {
      const allowed = await s.both(request({}));
      assert.equal(allowed.tookIt, true);
      assert.equal(allowed.viaLane.status, 201);
      assert.equal(allowed.viaApp.status, 201);
      const { viaLane, viaApp, tookIt } = await s.both(request({}));
      assert.equal(tookIt, true);
      assert.equal(viaLane.status, 429, viaLane.body);
      assert.match(viaLane.headers["retry-after"] ?? "", /^\d+$/);
      assert.deepEqual(normalized(viaLane), normalized(viaApp));
    } finally {
      await s.close();
      await h.close();
    }
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
