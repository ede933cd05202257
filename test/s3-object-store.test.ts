/** The object-store conformance suite, unchanged, against a real S3 server (Ceph RGW). */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { DeleteBucketCommand, DeleteObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
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
    } finally {
      for (const o of (await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
      await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
      client.destroy();
      await rgw.stop();
    }
  });
});
