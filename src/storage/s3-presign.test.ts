/** The hand-driven signer against the SDK's own presigner: the same request must give the same URL. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GetObjectCommand, PutObjectCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { createS3Client, presignerFor, type S3StoreOptions } from "./s3.js";

const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const signingDate = new Date("2026-11-23T10:00:00Z");
const sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

const setups: Record<string, S3StoreOptions> = {
  "a custom endpoint, path style (RGW, MinIO)": { endpoint: "http://127.0.0.1:7480", region: "us-east-1", forcePathStyle: true, credentials },
  "an IP address endpoint, not asked for path style (the SDK uses path style)": { endpoint: "http://127.0.0.1:7480", region: "us-east-1", forcePathStyle: false, credentials },
  "an IPv6 endpoint, not asked for path style": { endpoint: "http://[::1]:7480", region: "us-east-1", forcePathStyle: false, credentials },
  "a custom endpoint, virtual-hosted (R2)": { endpoint: "https://example.r2.cloudflarestorage.com", region: "auto", forcePathStyle: false, credentials },
  "AWS itself": { region: "eu-west-3", forcePathStyle: false, credentials },
};

describe("S3Presigner gives getSignedUrl's URL", () => {
  for (const [name, store] of Object.entries(setups)) {
    it(`for a PUT binding type, length, If-None-Match and checksum, on ${name}`, async () => {
      const client = createS3Client(store);
      const key = "upl_abc/a name+with (odd) chars!.png";
      const ours = await presignerFor(client, store).putUrl(
        { bucket: "staging", key },
        { contentType: "image/png", contentLength: 1234, sha256, expiresIn: 300, signingDate },
      );
      const command = new PutObjectCommand({
        Bucket: "staging",
        Key: key,
        ContentType: "image/png",
        ContentLength: 1234,
        IfNoneMatch: "*",
        ChecksumSHA256: Buffer.from(sha256, "hex").toString("base64"),
      });
      const theirs = await getSignedUrl(client, command, {
        expiresIn: 300,
        signingDate,
        signableHeaders: new Set(["content-type", "content-length", "if-none-match"]),
        unhoistableHeaders: new Set(["x-amz-checksum-sha256"]),
      });
      assert.equal(ours.url, theirs);
      assert.equal(presignerFor(client, store).originOf("staging"), new URL(theirs).origin);
      const signed = new URL(ours.url).searchParams.get("X-Amz-SignedHeaders")?.split(";");
      assert.deepEqual(signed, ["content-length", "content-type", "host", "if-none-match", "x-amz-checksum-sha256"]);
      assert.deepEqual(ours.headers, { "content-type": "image/png", "if-none-match": "*", "x-amz-checksum-sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=" });
      client.destroy();
    });

    it(`for an UploadPart binding its length, on ${name}`, async () => {
      const client = createS3Client(store);
      const key = "upl_abc/big file.bin";
      const uploadId = "2~Ab/cd+ef=gh";
      const ours = await presignerFor(client, store).partUrl({ bucket: "staging", key }, { uploadId, partNumber: 17, contentLength: 16777216, expiresIn: 900, signingDate });
      const command = new UploadPartCommand({ Bucket: "staging", Key: key, UploadId: uploadId, PartNumber: 17, ContentLength: 16777216 });
      assert.equal(ours, await getSignedUrl(client, command, { expiresIn: 900, signingDate, signableHeaders: new Set(["content-length"]) }));
      assert.deepEqual(new URL(ours).searchParams.get("X-Amz-SignedHeaders")?.split(";"), ["content-length", "host"]);
      client.destroy();
    });

    it(`for a GET with its Content-Disposition, on ${name}`, async () => {
      const client = createS3Client(store);
      const disposition = `attachment; filename="r_sum.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`;
      const ours = await presignerFor(client, store).getUrl(
        { bucket: "archive", key: "upl_abc/resume.pdf" },
        { contentDisposition: disposition, contentType: "application/pdf", cacheControl: "private, no-store", expiresIn: 60, signingDate },
      );
      const command = new GetObjectCommand({
        Bucket: "archive",
        Key: "upl_abc/resume.pdf",
        ResponseCacheControl: "private, no-store",
        ResponseContentDisposition: disposition,
        ResponseContentType: "application/pdf",
      });
      assert.equal(ours, await getSignedUrl(client, command, { expiresIn: 60, signingDate }));
      client.destroy();
    });
  }
});
