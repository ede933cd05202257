import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SluiceError } from "../errors.js";
import { openFormFile } from "./form-file.js";

/** A form as browsers and Node's fetch encode it: the fields, then the file last. */
async function encoded(fields: Record<string, string>, file: Uint8Array) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  form.set("file", new Blob([new Uint8Array(file)], { type: "image/png" }));
  const request = new Request("http://x/", { method: "POST", body: form });
  const bytes = new Uint8Array(await request.arrayBuffer());
  return { bytes, contentType: request.headers.get("content-type")! };
}

/** The bytes as a stream of small chunks, so that every boundary falls mid-chunk somewhere. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

const readAll = async (body: ReadableStream<Uint8Array>) => new Uint8Array(await new Response(body).arrayBuffer());

describe("openFormFile", () => {
  for (const chunk of [1, 7, 64, 100_000]) {
    it(`finds the file's exact length and bytes (chunks of ${chunk})`, async () => {
      const file = new Uint8Array(5000).map((_, i) => i % 251);
      const { bytes, contentType } = await encoded({ key: "a/upl_x/cat.png", "Content-Type": "image/png", Policy: "x".repeat(500) }, file);
      const opened = await openFormFile(chunked(bytes, chunk), { contentType, contentLength: bytes.length, idleTimeoutMs: 5000 });
      assert.equal(opened.length, file.length);
      assert.deepEqual(await readAll(opened.body), file);
    });
  }

  it("takes an empty file", async () => {
    const { bytes, contentType } = await encoded({ key: "k" }, new Uint8Array(0));
    const opened = await openFormFile(chunked(bytes, 3), { contentType, contentLength: bytes.length, idleTimeoutMs: 5000 });
    assert.equal(opened.length, 0);
    assert.equal((await readAll(opened.body)).length, 0);
  });

  it("errors, passing on no last bytes, when the form goes on after the file", async () => {
    const { bytes, contentType } = await encoded({ key: "k" }, new Uint8Array(100).fill(1));
    const longer = new Uint8Array([...bytes, ...new TextEncoder().encode("epilogue")]);
    // The Content-Length claims the form ends earlier than it does: the file would be read short.
    const opened = await openFormFile(chunked(longer, 16), { contentType, contentLength: bytes.length, idleTimeoutMs: 5000 });
    await assert.rejects(readAll(opened.body), (err: unknown) => err instanceof SluiceError && err.code === "invalid_form");
  });

  it("refuses what is not a form, a form without Content-Length, and a form without a file", async () => {
    const { bytes, contentType } = await encoded({ key: "k" }, new Uint8Array(10));
    await assert.rejects(openFormFile(chunked(bytes, 8), { contentType: "application/json", contentLength: bytes.length, idleTimeoutMs: 5000 }), { code: "unsupported_media_type" });
    await assert.rejects(openFormFile(chunked(bytes, 8), { contentType, contentLength: undefined, idleTimeoutMs: 5000 }), { code: "length_required" });
    const noFile = new FormData();
    noFile.set("key", "k");
    const request = new Request("http://x/", { method: "POST", body: noFile });
    const raw = new Uint8Array(await request.arrayBuffer());
    await assert.rejects(openFormFile(chunked(raw, 8), { contentType: request.headers.get("content-type")!, contentLength: raw.length, idleTimeoutMs: 5000 }), { code: "invalid_form" });
  });
});
