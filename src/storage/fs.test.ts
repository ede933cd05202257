import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { FsObjectStore } from "./fs.js";
import { ObjectChangedError, ObjectExistsError, UnsafeObjectKeyError } from "./object-store.js";
import { describeObjectStore } from "./object-store.conformance.js";

describeObjectStore("fs", async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-fs-"));
  const store = new FsObjectStore({ root });
  await store.prepare(["bucket-a", "bucket-b"]);
  return { store, buckets: ["bucket-a", "bucket-b"], close: () => fs.rm(root, { recursive: true, force: true }) };
});

describe("FsObjectStore specifics", () => {
  const streamOf = (...chunks: string[]) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of chunks) controller.enqueue(Buffer.from(c));
        controller.close();
      },
    });
  const failing = (text: string) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(Buffer.from(text));
        controller.error(new Error("the client went away"));
      },
    });
  const textOf = async (store: FsObjectStore, key: string) => Buffer.from(await new Response(await store.read({ bucket: "bucket-a", key })).arrayBuffer()).toString();

  it("appends in place, cuts a failed or refused append back to its offset, and seals the file into an object once", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-fs-"));
    try {
      const store = new FsObjectStore({ root });
      await store.prepare(["bucket-a"]);
      const file = { bucket: "bucket-a", key: "u/x.tus-append" };
      assert.equal(await store.append.append({ ...file, offset: 0, body: streamOf("hello ", "wor") }), 9);
      await assert.rejects(store.append.append({ ...file, offset: 9, body: failing("xyz") }), /went away/);
      assert.equal((await store.head(file))?.size, 9);
      await assert.rejects(
        store.append.append({ ...file, offset: 9, body: streamOf("zzz"), check: () => { throw new Error("checksum mismatch"); } }),
        /checksum mismatch/,
      );
      assert.equal((await store.head(file))?.size, 9);
      await assert.rejects(store.append.append({ ...file, offset: 20, body: streamOf("z") }), (err: unknown) => err instanceof ObjectChangedError);
      // Bytes past the offset (a crash mid-write) are cut off before the next append.
      assert.equal(await store.append.append({ ...file, offset: 6, body: streamOf("world") }), 11);
      assert.equal(await textOf(store, file.key), "hello world");

      const target = { bucket: "bucket-a", key: "u/x" };
      assert.equal((await store.append.seal(file, target)).size, 11);
      assert.equal(await store.head(file), undefined);
      assert.equal(await textOf(store, target.key), "hello world");
      assert.equal((await store.append.seal(file, target)).size, 11); // sealed before: the same object

      await store.append.append({ ...file, offset: 0, body: streamOf("other") });
      await assert.rejects(store.append.seal(file, target), (err: unknown) => err instanceof ObjectExistsError);
      assert.equal(await textOf(store, target.key), "hello world");
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it("refuses keys that could escape the bucket", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-fs-"));
    try {
      const store = new FsObjectStore({ root });
      await store.prepare(["bucket-a"]);
      for (const key of ["../x", "a/../../x", "/abs", "a//b", "a\\b", "nul\0"]) {
        await assert.rejects(store.head({ bucket: "bucket-a", key }), (err: unknown) => err instanceof UnsafeObjectKeyError, key);
      }
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it("fails its ping (so /readyz says down) while free space is under the minimum, and passes otherwise", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-fs-"));
    try {
      const { bavail, bsize } = await fs.statfs(root);
      const free = bavail * bsize;
      await new FsObjectStore({ root, minFreeBytes: 0 }).ping();
      await new FsObjectStore({ root, minFreeBytes: Math.floor(free / 2) }).ping();
      await assert.rejects(new FsObjectStore({ root, minFreeBytes: free * 2 }).ping(), /under the minimum of \d+ \(SLUICE_MIN_FREE_DISK\)/);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it("removes leftover temporary files at prepare (a crash mid-write leaves no object)", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-fs-"));
    try {
      await fs.mkdir(path.join(root, ".tmp"), { recursive: true });
      await fs.writeFile(path.join(root, ".tmp", "put_leftover"), "half");
      await new FsObjectStore({ root }).prepare(["bucket-a"]);
      assert.deepEqual(await fs.readdir(path.join(root, ".tmp")), []);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
