/**
 * The behaviour every ObjectStore must have. Run it against a backend with
 * `describeObjectStore("name", async () => ({ store, staging, archive, close }))`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createHash } from "node:crypto";
import { InvalidPartsError, MultipartNotFoundError, ObjectChangedError, ObjectExistsError, ObjectNotFoundError, listAll, type ObjectStore } from "./object-store.js";

export interface ObjectStoreFixture {
  store: ObjectStore;
  /** Two existing, empty buckets. */
  buckets: [string, string];
  close(): Promise<void>;
}

const bytes = (s: string) => new TextEncoder().encode(s);
const len = (...parts: string[]) => parts.reduce((n, p) => n + bytes(p).byteLength, 0);
const streamOf = (...chunks: Uint8Array[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
const failingStream = (after: Uint8Array) =>
  new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(after);
      controller.error(new Error("client went away"));
    },
  });
async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

export function describeObjectStore(name: string, open: () => Promise<ObjectStoreFixture>) {
  describe(`ObjectStore conformance: ${name}`, () => {
    let fx: ObjectStoreFixture;
    let a: string;
    let b: string;
    before(async () => {
      fx = await open();
      [a, b] = fx.buckets;
    });
    after(async () => fx.close());

    it("stores a streamed body and reads it back whole and by range", async () => {
      const info = await fx.store.put({ bucket: a, key: "dir/one.txt", body: streamOf(bytes("hello "), bytes("world")), contentType: "text/plain", contentLength: len("hello ", "world") });
      assert.equal(info.size, 11);
      assert.equal(info.key, "dir/one.txt");
      assert.equal((await fx.store.head({ bucket: a, key: "dir/one.txt" }))?.size, 11);
      assert.equal(await readAll(await fx.store.read({ bucket: a, key: "dir/one.txt" })), "hello world");
      assert.equal(await readAll(await fx.store.read({ bucket: a, key: "dir/one.txt", range: { start: 6, end: 9 } })), "worl");
    });

    it("refuses to overwrite with ifNoneMatch and keeps the first body", async () => {
      await fx.store.put({ bucket: a, key: "once", body: streamOf(bytes("first")), contentType: "text/plain", contentLength: len("first"), ifNoneMatch: true });
      await assert.rejects(
        fx.store.put({ bucket: a, key: "once", body: streamOf(bytes("second")), contentType: "text/plain", contentLength: len("second"), ifNoneMatch: true }),
        ObjectExistsError,
      );
      assert.equal(await readAll(await fx.store.read({ bucket: a, key: "once" })), "first");
    });

    it("overwrites without ifNoneMatch", async () => {
      await fx.store.put({ bucket: a, key: "twice", body: streamOf(bytes("first")), contentType: "text/plain", contentLength: len("first") });
      await fx.store.put({ bucket: a, key: "twice", body: streamOf(bytes("second!")), contentType: "text/plain", contentLength: len("second!") });
      assert.equal(await readAll(await fx.store.read({ bucket: a, key: "twice" })), "second!");
    });

    it("leaves no object when the body stream fails part-way", async () => {
      await assert.rejects(
        fx.store.put({ bucket: a, key: "broken", body: failingStream(bytes("partial")), contentType: "text/plain", contentLength: 1000 }),
      );
      assert.equal(await fx.store.head({ bucket: a, key: "broken" }), undefined);
    });

    it("reports missing objects", async () => {
      assert.equal(await fx.store.head({ bucket: a, key: "nope" }), undefined);
      await assert.rejects(fx.store.read({ bucket: a, key: "nope" }), ObjectNotFoundError);
      await assert.rejects(fx.store.copy({ source: { bucket: a, key: "nope" }, target: { bucket: b, key: "nope" } }), ObjectNotFoundError);
    });

    it("copies between buckets, and copying again is harmless", async () => {
      await fx.store.put({ bucket: a, key: "c/src.bin", body: streamOf(bytes("payload")), contentType: "application/octet-stream", contentLength: len("payload") });
      const first = await fx.store.copy({ source: { bucket: a, key: "c/src.bin" }, target: { bucket: b, key: "c/dst.bin" } });
      const second = await fx.store.copy({ source: { bucket: a, key: "c/src.bin" }, target: { bucket: b, key: "c/dst.bin" } });
      assert.equal(first.size, 7);
      assert.equal(second.size, 7);
      assert.equal(await readAll(await fx.store.read({ bucket: b, key: "c/dst.bin" })), "payload");
      assert.equal(await readAll(await fx.store.read({ bucket: a, key: "c/src.bin" })), "payload");
    });

    it("reads and copies only the object an ETag names: one put over the key since is refused, and nothing is written", async () => {
      const source = { bucket: a, key: "pin/src.bin" };
      const target = { bucket: b, key: "pin/dst.bin" };
      const checked = await fx.store.put({ ...source, body: streamOf(bytes("checked")), contentType: "application/octet-stream", contentLength: len("checked") });
      assert.equal(checked.etag, (await fx.store.head(source))?.etag, "put and head name the object by the same ETag");
      assert.equal(await readAll(await fx.store.read({ ...source, ifMatch: checked.etag, range: { start: 0, end: 2 } })), "che");
      await fx.store.copy({ source, target, ifMatch: checked.etag });
      assert.equal(await readAll(await fx.store.read(target)), "checked");

      await fx.store.put({ ...source, body: streamOf(bytes("swapped!")), contentType: "application/octet-stream", contentLength: len("swapped!") });
      await assert.rejects(fx.store.read({ ...source, ifMatch: checked.etag }), ObjectChangedError);
      await assert.rejects(fx.store.copy({ source, target: { bucket: b, key: "pin/other.bin" }, ifMatch: checked.etag }), ObjectChangedError);
      assert.equal(await fx.store.head({ bucket: b, key: "pin/other.bin" }), undefined, "a refused copy writes nothing");
      await assert.rejects(fx.store.copy({ source, target, ifMatch: checked.etag }), ObjectChangedError);
      assert.equal(await readAll(await fx.store.read(target)), "checked", "a refused copy leaves the target as it was");
      const now = await fx.store.head(source);
      assert.ok(now);
      await fx.store.copy({ source, target, ifMatch: now.etag });
      assert.equal(await readAll(await fx.store.read(target)), "swapped!");
    });

    it("keeps a copy as it was when its source is overwritten or deleted", async () => {
      await fx.store.put({ bucket: a, key: "c/orig.bin", body: streamOf(bytes("original")), contentType: "application/octet-stream", contentLength: len("original") });
      await fx.store.copy({ source: { bucket: a, key: "c/orig.bin" }, target: { bucket: b, key: "c/kept.bin" } });
      await fx.store.put({ bucket: a, key: "c/orig.bin", body: streamOf(bytes("replaced!")), contentType: "application/octet-stream", contentLength: len("replaced!") });
      assert.equal(await readAll(await fx.store.read({ bucket: b, key: "c/kept.bin" })), "original");
      await fx.store.delete({ bucket: a, key: "c/orig.bin" });
      assert.equal(await readAll(await fx.store.read({ bucket: b, key: "c/kept.bin" })), "original");
    });

    it("refuses a body shorter or longer than its declared length, storing nothing", async () => {
      await assert.rejects(fx.store.put({ bucket: a, key: "short", body: streamOf(bytes("abc")), contentType: "text/plain", contentLength: 10 }));
      await assert.rejects(fx.store.put({ bucket: a, key: "long", body: streamOf(bytes("abcdefghijkl")), contentType: "text/plain", contentLength: 10 }));
      assert.equal(await fx.store.head({ bucket: a, key: "short" }), undefined);
      assert.equal(await fx.store.head({ bucket: a, key: "long" }), undefined);
    });

    it("deletes idempotently", async () => {
      await fx.store.put({ bucket: a, key: "d/gone", body: streamOf(bytes("x")), contentType: "text/plain", contentLength: 1 });
      await fx.store.delete({ bucket: a, key: "d/gone" });
      await fx.store.delete({ bucket: a, key: "d/gone" });
      assert.equal(await fx.store.head({ bucket: a, key: "d/gone" }), undefined);
    });

    it("lists in key order, by prefix and page", async () => {
      for (const k of ["l/3", "l/1", "l/2", "m/1"]) {
        await fx.store.put({ bucket: b, key: k, body: streamOf(bytes(k)), contentType: "text/plain", contentLength: len(k) });
      }
      const first = await fx.store.list({ bucket: b, prefix: "l/", limit: 2 });
      assert.deepEqual(first.objects.map((o) => o.key), ["l/1", "l/2"]);
      assert.ok(first.next);
      const second = await fx.store.list({ bucket: b, prefix: "l/", limit: 2, startAfter: first.next });
      assert.deepEqual(second.objects.map((o) => o.key), ["l/3"]);
      assert.equal(second.next, undefined);
      const all: string[] = [];
      for await (const o of listAll(fx.store, { bucket: b, prefix: "l/", limit: 1 })) all.push(o.key);
      assert.deepEqual(all, ["l/1", "l/2", "l/3"]);
    });

    it("answers ping", async () => {
      await fx.store.ping();
    });

    describe("multipart uploads", () => {
      // S3's smallest part (but the last) is 5 MiB.
      const MIB5 = 5 * 1024 * 1024;
      const partOf = (fill: number, size: number) => new Uint8Array(size).fill(fill);
      const sha = (data: Uint8Array | Buffer) => createHash("sha256").update(data).digest("hex");
      const readBytes = async (key: string, bucket = a) => new Uint8Array(await new Response(await fx.store.read({ bucket, key })).arrayBuffer());
      const put = (key: string, uploadId: string, partNumber: number, data: Uint8Array) =>
        fx.store.multipart.putPart({ bucket: a, key, uploadId, partNumber, body: streamOf(data), contentLength: data.byteLength });

      it("stores parts in any order, lists them, and assembles them in part order", async () => {
        const key = "mp/whole.bin";
        const uploadId = await fx.store.multipart.create({ bucket: a, key }, { contentType: "application/octet-stream" });
        assert.ok((await fx.store.multipart.listUploads(a)).some((u) => u.uploadId === uploadId && u.key === key));
        const one = partOf(1, MIB5);
        const two = partOf(2, 1000);
        const p2 = await put(key, uploadId, 2, two);
        const p1 = await put(key, uploadId, 1, one);
        assert.equal(await fx.store.head({ bucket: a, key }), undefined, "no object before completion");
        const listed = await fx.store.multipart.listParts({ bucket: a, key }, uploadId);
        assert.deepEqual(listed, [{ partNumber: 1, etag: p1.etag, size: MIB5 }, { partNumber: 2, etag: p2.etag, size: 1000 }]);
        await fx.store.multipart.complete({ bucket: a, key }, uploadId, [{ partNumber: 1, etag: p1.etag }, { partNumber: 2, etag: p2.etag }]);
        const whole = await readBytes(key);
        assert.equal(whole.byteLength, MIB5 + 1000);
        assert.equal(sha(whole), sha(Buffer.concat([one, two])));
        assert.equal((await fx.store.multipart.listUploads(a)).some((u) => u.uploadId === uploadId), false);
        await assert.rejects(fx.store.multipart.listParts({ bucket: a, key }, uploadId), MultipartNotFoundError);
      });

      it("refuses a wrong ETag, a missing part or a wrong order, and can still be completed", async () => {
        const key = "mp/retry.bin";
        const uploadId = await fx.store.multipart.create({ bucket: a, key }, { contentType: "application/octet-stream" });
        const first = await put(key, uploadId, 1, partOf(3, MIB5));
        const again = await put(key, uploadId, 1, partOf(4, MIB5)); // written again: the last write wins
        const last = await put(key, uploadId, 2, partOf(5, 10));
        assert.notEqual(first.etag, again.etag);
        const ref = { bucket: a, key };
        await assert.rejects(fx.store.multipart.complete(ref, uploadId, [{ partNumber: 1, etag: first.etag }, { partNumber: 2, etag: last.etag }]), InvalidPartsError);
        await assert.rejects(fx.store.multipart.complete(ref, uploadId, [{ partNumber: 1, etag: again.etag }, { partNumber: 3, etag: last.etag }]), InvalidPartsError);
        await assert.rejects(fx.store.multipart.complete(ref, uploadId, [{ partNumber: 2, etag: last.etag }, { partNumber: 1, etag: again.etag }]), InvalidPartsError);
        assert.equal(await fx.store.head(ref), undefined);
        await fx.store.multipart.complete(ref, uploadId, [{ partNumber: 1, etag: again.etag }, { partNumber: 2, etag: last.etag }]);
        const whole = await readBytes(key);
        assert.equal(sha(whole), sha(Buffer.concat([partOf(4, MIB5), partOf(5, 10)])));
      });

      it("stores nothing for a part whose body is not its declared length", async () => {
        const key = "mp/short.bin";
        const uploadId = await fx.store.multipart.create({ bucket: a, key }, { contentType: "application/octet-stream" });
        await assert.rejects(fx.store.multipart.putPart({ bucket: a, key, uploadId, partNumber: 1, body: streamOf(partOf(6, 10)), contentLength: 20 }));
        await assert.rejects(fx.store.multipart.putPart({ bucket: a, key, uploadId, partNumber: 1, body: streamOf(partOf(6, 30)), contentLength: 20 }));
        assert.deepEqual(await fx.store.multipart.listParts({ bucket: a, key }, uploadId), []);
        await fx.store.multipart.abort({ bucket: a, key }, uploadId);
      });

      it("aborts idempotently, leaving no upload and no parts", async () => {
        const key = "mp/abandoned.bin";
        const uploadId = await fx.store.multipart.create({ bucket: a, key }, { contentType: "application/octet-stream" });
        await put(key, uploadId, 1, partOf(7, 100));
        await fx.store.multipart.abort({ bucket: a, key }, uploadId);
        await fx.store.multipart.abort({ bucket: a, key }, uploadId);
        assert.equal((await fx.store.multipart.listUploads(a)).some((u) => u.uploadId === uploadId), false);
        await assert.rejects(fx.store.multipart.listParts({ bucket: a, key }, uploadId), MultipartNotFoundError);
        await assert.rejects(put(key, uploadId, 2, partOf(7, 100)), MultipartNotFoundError);
        assert.equal(await fx.store.head({ bucket: a, key }), undefined);
      });
    });
  });
}
