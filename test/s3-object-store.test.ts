/** The object-store conformance suite, unchanged, against a real S3 server (Ceph RGW). */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { DeleteBucketCommand, DeleteObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ObjectChangedError } from "../src/storage/object-store.js";
import { describeObjectStore } from "../src/storage/object-store.conformance.js";
import { S3ObjectStore, createS3Client } from "../src/storage/s3.js";
import { useRgw } from "./helpers/rgw.js";

describeObjectStore("s3 (Ceph RGW)", async () => {
  const rgw = await useRgw();
  const client = createS3Client({
    endpoint: rgw.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
  });
  const suffix = randomBytes(4).toString("hex");
  const buckets: [string, string] = [`conf-a-${suffix}`, `conf-b-${suffix}`];
  const store = new S3ObjectStore({ client });
  await store.prepare(buckets);
  return {
    store,
    buckets,
    async close() {
      for (const Bucket of buckets) {
        const listed = await client.send(new ListObjectsV2Command({ Bucket }));
        for (const o of listed.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket, Key: o.Key }));
        await client.send(new DeleteBucketCommand({ Bucket }));
      }
      client.destroy();
      await rgw.stop();
    },
  };
});

describe("S3ObjectStore's copy above the single-copy limit", () => {
  it("copies part by part inside storage (UploadPartCopy), byte for byte, and leaves no multipart upload behind", async () => {
    const rgw = await useRgw();
    const client = createS3Client({ endpoint: rgw.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } });
    const bucket = `copy-${randomBytes(4).toString("hex")}`;
    // S3's limits are 5 GiB and parts of at least 5 MiB: lowered here so that 12 MiB takes three parts.
    const store = new S3ObjectStore({ client, singleCopyMax: 8 * 1024 ** 2, copyPartSize: 5 * 1024 ** 2 });
    try {
      await store.prepare([bucket]);
      const body = randomBytes(12 * 1024 ** 2);
      await store.put({ bucket, key: "src/big.bin", body: new Blob([body]).stream(), contentType: "application/octet-stream", contentLength: body.byteLength });
      const copied = await store.copy({ source: { bucket, key: "src/big.bin" }, target: { bucket, key: "dst/big.bin" } });
      assert.equal(copied.size, body.byteLength);
      assert.match(copied.etag, /-3"?$/, "a multipart ETag names its 3 parts");
      const read = Buffer.from(await new Response(await store.read({ bucket, key: "dst/big.bin" })).arrayBuffer());
      assert.ok(read.equals(body));
      assert.deepEqual((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [], []);

      // Pinned to the source's ETag: copied while the source is that object...
      const source = await store.head({ bucket, key: "src/big.bin" });
      assert.ok(source);
      await store.copy({ source: { bucket, key: "src/big.bin" }, target: { bucket, key: "dst/pinned.bin" }, ifMatch: source.etag });
      assert.equal((await store.head({ bucket, key: "dst/pinned.bin" }))?.size, body.byteLength);
      // ...and refused, with nothing left behind, when the source is replaced after the first part.
      const other = randomBytes(12 * 1024 ** 2);
      await swappingAfter(client, "UploadPartCopyCommand", () => client.send(new PutObjectCommand({ Bucket: bucket, Key: "src/big.bin", Body: other })), async () => {
        await assert.rejects(store.copy({ source: { bucket, key: "src/big.bin" }, target: { bucket, key: "dst/refused.bin" }, ifMatch: source.etag }), ObjectChangedError);
      });
      assert.equal(await store.head({ bucket, key: "dst/refused.bin" }), undefined);
      assert.deepEqual((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [], []);
    } finally {
      for (const o of (await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
      await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
      client.destroy();
      await rgw.stop();
    }
  });
});

describe("S3ObjectStore's pinned copy", () => {
  it("is refused by storage itself when the source is replaced between Sluice's HEAD and the copy", async () => {
    const rgw = await useRgw();
    const client = createS3Client({ endpoint: rgw.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } });
    const bucket = `pin-${randomBytes(4).toString("hex")}`;
    const store = new S3ObjectStore({ client });
    try {
      await store.prepare([bucket]);
      const checked = await store.put({ bucket, key: "src/one.bin", body: new Blob(["checked"]).stream(), contentType: "text/plain", contentLength: 7 });
      // The swap lands after the store's own HEAD, right before CopyObject is sent: only storage can see it.
      await swappingAfter(client, "HeadObjectCommand", () => client.send(new PutObjectCommand({ Bucket: bucket, Key: "src/one.bin", Body: "swapped" })), async () => {
        await assert.rejects(store.copy({ source: { bucket, key: "src/one.bin" }, target: { bucket, key: "dst/one.bin" }, ifMatch: checked.etag }), ObjectChangedError);
      });
      assert.equal(await store.head({ bucket, key: "dst/one.bin" }), undefined, "nothing was copied");
    } finally {
      for (const o of (await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
      await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
      client.destroy();
      await rgw.stop();
    }
  });
});

/** Runs `body` with `swap` done once, right after the client's first `commandName` request returns. */
async function swappingAfter(client: S3Client, commandName: string, swap: () => Promise<unknown>, body: () => Promise<void>): Promise<void> {
  let done = false;
  const name = "testSwapSource";
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (!done && context.commandName === commandName) {
        done = true;
        await swap();
      }
      return result;
    },
    { step: "initialize", name },
  );
  try {
    await body();
    assert.ok(done, `a ${commandName} was sent`);
  } finally {
    client.middlewareStack.remove(name);
  }
}
