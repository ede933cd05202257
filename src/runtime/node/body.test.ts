/** The copy-free body stream against Node's own Readable.toWeb, on a real HTTP server. */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { countBodyBytes, incomingBody, minorGc } from "./body.js";

async function withServer(handler: (req: IncomingMessage, res: ServerResponse) => void, run: (url: string) => Promise<void>) {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

async function digestOf(stream: ReadableStream<Uint8Array>, slow = false): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  const reader = stream.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    const chunk = r.value;
    hash.update(chunk);
    bytes += chunk.byteLength;
    if (slow) await new Promise((r) => setTimeout(r, 1)); // a consumer slower than the socket: backpressure
  }
  return { sha256: hash.digest("hex"), bytes };
}

describe("incomingBody", () => {
  it("yields exactly the bytes Readable.toWeb yields, with a slow consumer too", async () => {
    const body = randomBytes(8 * 1024 * 1024 + 13);
    await withServer(
      (req, res) => {
        const mine = req.headers["x-reader"] === "mine";
        const stream = mine ? incomingBody(req) : (Readable.toWeb(req) as ReadableStream<Uint8Array>);
        void digestOf(stream, mine).then((d) => res.end(JSON.stringify(d)));
      },
      async (url) => {
        const read = async (reader: string) => (await (await fetch(url, { method: "PUT", headers: { "x-reader": reader }, body })).json()) as unknown;
        const expected = { sha256: createHash("sha256").update(body).digest("hex"), bytes: body.byteLength };
        assert.deepEqual(await read("node"), expected);
        assert.deepEqual(await read("mine"), expected);
      },
    );
  });

  it("errors when the client goes away mid-body", async () => {
    let outcome: Promise<string> | undefined;
    await withServer(
      (req) => {
        outcome = digestOf(incomingBody(req)).then(
          () => "completed",
          (err: Error) => `errored: ${err.message}`,
        );
      },
      async (url) => {
        const req = http.request(url, { method: "PUT", headers: { "content-length": "1000000" } });
        req.on("error", () => undefined);
        req.write(randomBytes(1000));
        await new Promise((r) => setTimeout(r, 100));
        req.destroy();
        await new Promise((r) => setTimeout(r, 100));
      },
    );
    assert.match(await outcome!, /^errored: /);
  });

  it("lets a response through after the reader cancels, and the server keeps running", async () => {
    await withServer(
      (req, res) => {
        const reader = incomingBody(req).getReader();
        void reader.read().then(async () => {
          await reader.cancel(new Error("too long"));
          res.writeHead(413, { "content-type": "application/json" }).end('{"error":"too long"}');
        });
      },
      async (url) => {
        const res = await fetch(url, { method: "PUT", body: randomBytes(4 * 1024 * 1024) });
        assert.equal(res.status, 413);
        assert.equal(await res.text(), '{"error":"too long"}');
        const again = await fetch(url, { method: "PUT", body: "x" });
        assert.equal(again.status, 413);
        await again.text();
      },
    );
  });
});

describe("the young-generation collection during uploads", () => {
  it("is reachable on this Node without --expose-gc, and leaves no global gc behind", () => {
    assert.equal(typeof minorGc, "function");
    minorGc!();
    assert.equal((globalThis as { gc?: unknown }).gc, undefined);
  });

  it("runs once every 16 MiB of body bytes read, however they are split", () => {
    const MIB = 1024 * 1024;
    countBodyBytes(16 * MIB, () => undefined); // whatever earlier tests read: counted from zero now
    let runs = 0;
    const collect = () => void runs++;
    countBodyBytes(10 * MIB, collect);
    assert.equal(runs, 0);
    countBodyBytes(6 * MIB, collect);
    assert.equal(runs, 1);
    for (let i = 0; i < 64; i++) countBodyBytes(MIB / 2, collect);
    assert.equal(runs, 3);
  });
});
