import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SluiceError } from "../../errors.js";
import { parseUploadMetadata } from "./tus.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

describe("Upload-Metadata", () => {
  it("decodes key-value pairs as UTF-8, and a key without a value as empty", () => {
    assert.deepEqual(parseUploadMetadata(`filename ${b64("čaj.png")},filetype ${b64("image/png")},is_confidential`), { filename: "čaj.png", filetype: "image/png", is_confidential: "" });
    assert.deepEqual(parseUploadMetadata(undefined), {});
    assert.deepEqual(parseUploadMetadata(" "), {});
  });

  it("refuses a malformed header or a key named twice with 400 invalid_tus_request", () => {
    for (const header of ["filename c2Vl extra", `a ${b64("x")},a ${b64("y")}`, "bad value!"]) {
      assert.throws(
        () => parseUploadMetadata(header),
        (err: unknown) => err instanceof SluiceError && err.status === 400 && err.code === "invalid_tus_request",
        header,
      );
    }
  });
});
