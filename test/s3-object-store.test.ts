/** The object-store conformance suite, unchanged, against a real S3 server (Ceph RGW). */
import { randomBytes } from "node:crypto";
import { DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
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
