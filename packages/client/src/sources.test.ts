import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { SluiceApiError } from "./errors.js";
import { describeSource } from "./sources.js";
import { partLength } from "./upload.js";

const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
const hex = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** A stream that hands out `data` in chunks of `chunk` bytes. */
function streamOf(data: Uint8Array, chunk: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= data.byteLength) return controller.close();
      controller.enqueue(data.slice(at, at + chunk));
      at += chunk;
    },
  });
}

describe("upload sources", () => {
  it("reads a Blob, bytes and a stream into the same parts, and names and types them", async () => {
    const sources = [
      describeSource(new File([bytes], "a.BIN", { type: "Application/Octet-Stream" }), {}),
      describeSource({ name: "a.BIN", type: "application/octet-stream", data: bytes }, {}),
      describeSource({ name: "a.BIN", type: "application/octet-stream", size: bytes.byteLength, stream: streamOf(bytes, 37) }, {}),
    ];
    for (const file of sources) {
      assert.equal(file.name, "a.BIN");
      assert.equal(file.type, "application/octet-stream");
      assert.equal(file.size, 1000);
      const parts = [];
      for (const [start, end] of [[0, 400], [400, 800], [800, 1000]] as const) {
        const part = await file.part(start, end, true);
        parts.push(part instanceof Blob ? new Uint8Array(await part.arrayBuffer()) : part);
      }
      assert.deepEqual(Buffer.concat(parts), Buffer.from(bytes));
    }
  });

  it("hashes a Blob and bytes, and refuses to hash a stream before sending it", async () => {
    assert.equal(await describeSource(new Blob([bytes]), {}).hash(), hex(bytes));
    assert.equal(await describeSource({ name: "a", type: "", data: bytes }, {}).hash(), hex(bytes));
    const stream = describeSource({ name: "a", type: "", size: 1000, stream: streamOf(bytes, 100) }, {});
    await assert.rejects(stream.hash(), (err) => err instanceof SluiceApiError && err.code === "stream_checksum");
  });

  it("says so when a stream ends before its declared size", async () => {
    const file = describeSource({ name: "a", type: "", size: 2000, stream: streamOf(bytes, 100) }, {});
    await assert.rejects(file.whole(), (err) => err instanceof SluiceApiError && err.code === "short_stream");
  });

  it("takes the name and type given over the source's", () => {
    const file = describeSource(new Blob([bytes], { type: "text/plain" }), { filename: "b.png", contentType: "IMAGE/PNG" });
    assert.equal(file.name, "b.png");
    assert.equal(file.type, "image/png");
  });
});

describe("a multipart plan's part lengths", () => {
  it("are partSize but the last, which holds the rest", () => {
    const plan = { partSize: 400, partCount: 3 };
    assert.deepEqual([1, 2, 3].map((n) => partLength(plan, 1000, n)), [400, 400, 200]);
    assert.equal(partLength({ partSize: 400, partCount: 1 }, 0, 1), 0);
  });
});
