import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeServices } from "../../test/helpers/services.js";
import { issueUpload } from "./issue.js";
import { partUrls } from "./multipart.js";
import { MAX_PARTS, planParts } from "./part-plans.js";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

describe("planParts", () => {
  it("uses the preferred part size while the file fits in 10,000 parts", () => {
    assert.deepEqual(planParts(2 * GiB + 12345, 16 * MiB), { partSize: 16 * MiB, partCount: 129 });
    assert.deepEqual(planParts(64 * MiB + 1, 16 * MiB), { partSize: 16 * MiB, partCount: 5 });
    assert.deepEqual(planParts(10 * MiB, 5 * MiB), { partSize: 5 * MiB, partCount: 2 });
  });

  it("grows the part size in whole MiB so that S3's largest object fits in 10,000 parts", () => {
    for (const size of [200 * GiB, TiB, 5 * TiB, 5 * TiB - 1, 156_250 * MiB + 1]) {
      const { partSize, partCount } = planParts(size, 16 * MiB);
      assert.ok(partCount <= MAX_PARTS, `${size}: ${partCount} parts`);
      assert.equal(partSize % MiB, 0);
      assert.ok(partSize * partCount >= size && partSize * (partCount - 1) < size, `${size} in ${partCount} × ${partSize}`);
      assert.ok(partSize <= 5 * GiB);
    }
    assert.deepEqual(planParts(5 * TiB, 16 * MiB), { partSize: 525 * MiB, partCount: 9987 });
  });
});

describe("part URLs' expiry", () => {
  it("gives a part URL at least the upload's remaining whole seconds, even signed at the end of a second", async () => {
    const h = await makeServices({ env: { SLUICE_MULTIPART_THRESHOLD: String(5 * MiB), SLUICE_URL_TTL: "300" } });
    try {
      let clock = 1_800_000_000_500;
      h.services.now = () => clock;
      const issued = await issueUpload(h.services, { kind: "key", keyId: "k" }, { filename: "a.bin", contentType: "application/octet-stream", size: 6 * MiB, expiresIn: 2 });
      assert.equal(issued.ticket.expiresAt, 1_800_000_002_500);
      clock = 1_800_000_000_999; // the parts are asked for in the last millisecond of a second
      const [part] = await partUrls(h.services, issued.ticket.id, [1]);
      const expires = Number(new URL(part!.url).searchParams.get("expires"));
      // The upload ends at …002.5 s: the URL lives until …002 s, not one millisecond past its signing.
      assert.equal(expires, 1_800_000_002);
      assert.ok(expires * 1000 - clock >= 1000, `${expires * 1000 - clock} ms to live`);
      assert.equal(part!.expiresAt, expires * 1000);
    } finally {
      await h.close();
    }
  });
});
