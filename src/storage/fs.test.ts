import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { FsObjectStore } from "./fs.js";
import { UnsafeObjectKeyError } from "./object-store.js";
import { describeObjectStore } from "./object-store.conformance.js";

describeObjectStore("fs", async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-fs-"));
  const store = new FsObjectStore({ root });
  await store.prepare(["bucket-a", "bucket-b"]);
  return { store, buckets: ["bucket-a", "bucket-b"], close: () => fs.rm(root, { recursive: true, force: true }) };
});

describe("FsObjectStore specifics", () => {
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
