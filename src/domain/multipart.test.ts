import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_PARTS, planParts } from "./multipart.js";

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
