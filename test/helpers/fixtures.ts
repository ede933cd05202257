import { createHash } from "node:crypto";
import type { S3Event } from "aws-lambda";

/** A valid 1×1 PNG. */
export const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
export const HTML = Buffer.from("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>");
export const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

export function uploadRequest(data: Uint8Array, overrides: Record<string, unknown> = {}) {
  return { filename: "cat.png", contentType: "image/png", size: data.byteLength, ...overrides };
}

/**
 * An S3 "object created" notification as AWS sends it (its documented sample, with this
 * bucket, key and size). Keys are form-encoded, as in real events: a space is "+".
 */
export function awsS3Event(bucket: string, key: string, size: number): S3Event {
  return {
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: "us-east-1",
        eventTime: new Date().toISOString(),
        eventName: "ObjectCreated:Put",
        userIdentity: { principalId: "EXAMPLE" },
        requestParameters: { sourceIPAddress: "127.0.0.1" },
        responseElements: { "x-amz-request-id": "EXAMPLE123456789", "x-amz-id-2": "EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH" },
        s3: {
          s3SchemaVersion: "1.0",
          configurationId: "testConfigRule",
          bucket: { name: bucket, ownerIdentity: { principalId: "EXAMPLE" }, arn: `arn:aws:s3:::${bucket}` },
          object: { key: encodeURIComponent(key).replace(/%20/g, "+").replace(/%2F/g, "/"), size, eTag: "0123456789abcdef0123456789abcdef", sequencer: "0A1B2C3D4E5F678901" },
        },
      },
    ],
  };
}
