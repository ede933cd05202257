import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { deferredObjectStore } from "./deferred.js";
import { FsObjectStore } from "./fs.js";
import { describeObjectStore } from "./object-store.conformance.js";

// Every method of the port, through the deferred wrapper, on a real store.
describeObjectStore("deferred (over fs)", async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-deferred-"));
  const store = deferredObjectStore("deferred fs", () => Promise.resolve(new FsObjectStore({ root })), { etagIsMd5: false });
  await store.prepare(["bucket-a", "bucket-b"]);
  return { store, buckets: ["bucket-a", "bucket-b"], close: () => fs.rm(root, { recursive: true, force: true }) };
});

describe("deferredObjectStore", () => {
  it("loads the store on the first call, once, and not before", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-deferred-"));
    try {
      let loads = 0;
      const store = deferredObjectStore("deferred fs", () => {
        loads++;
        return Promise.resolve(new FsObjectStore({ root }));
      });
      assert.equal(loads, 0);
      assert.equal(store.name, "deferred fs");
      await Promise.all([store.prepare(["staging"]), store.head({ bucket: "staging", key: "k" }), store.multipart.listUploads("staging")]);
      await store.ping();
      assert.equal(loads, 1);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it("tries a failed load again on the next call", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-deferred-"));
    try {
      let loads = 0;
      const store = deferredObjectStore("deferred fs", () => {
        loads++;
        return loads === 1 ? Promise.reject(new Error("module failed to load")) : Promise.resolve(new FsObjectStore({ root }));
      });
      await assert.rejects(store.ping(), /module failed to load/);
      await store.prepare(["staging"]);
      assert.equal(await store.head({ bucket: "staging", key: "missing" }), undefined);
      assert.equal(loads, 2);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
