import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { SluiceError } from "../errors.js";
import { parseTusChecksum } from "./tus.js";

describe("Upload-Checksum", () => {
  it("reads sha1, sha256 and md5 (any case) with a base64 digest", () => {
    const digest = createHash("sha1").update("abc").digest();
    assert.deepEqual(parseTusChecksum(`sha1 ${digest.toString("base64")}`), { algorithm: "sha1", digest });
    assert.equal(parseTusChecksum(`SHA256 ${createHash("sha256").update("").digest("base64")}`)?.algorithm, "sha256");
    assert.equal(parseTusChecksum(`md5 ${createHash("md5").update("").digest("base64")}`)?.algorithm, "md5");
    assert.equal(parseTusChecksum(undefined), undefined);
  });

  it("refuses an unknown algorithm with 400 checksum_algorithm_unsupported, and a malformed header with 400", () => {
    const refused = (header: string, code: string) =>
      assert.throws(
        () => parseTusChecksum(header),
        (err: unknown) => err instanceof SluiceError && err.status === 400 && err.code === code,
      );
    refused("crc32 AAAAAA==", "checksum_algorithm_unsupported");
    refused("sha1", "invalid_tus_request");
    refused("sha1 not*base64", "invalid_tus_request");
  });
});
