import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createHash, randomBytes } from "node:crypto";
import { newId, safeEqual, sha256Hex } from "./crypto.js";

describe("newId", () => {
  it("gives 128 random bits, base64url, never the same twice across pool refills", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = newId("upl");
      assert.match(id, /^upl_[A-Za-z0-9_-]{22}$/);
      assert.equal(Buffer.from(id.slice(4), "base64url").length, 16);
      ids.add(id);
    }
    assert.equal(ids.size, 10_000);
  });
});

describe("safeEqual", () => {
  it("compares secrets exactly", () => {
    assert.equal(safeEqual("abc", "abc"), true);
    assert.equal(safeEqual("abc", "abd"), false);
    assert.equal(safeEqual("abc", "abcd"), false);
    assert.equal(safeEqual("", ""), true);
  });
});

describe("sha256Hex", () => {
  it("gives what a Hash object gives, for strings and bytes", () => {
    for (const input of ["", "sk_abc", "ü✓".repeat(100), randomBytes(0), randomBytes(1), randomBytes(70_000)]) {
      assert.equal(sha256Hex(input), createHash("sha256").update(input).digest("hex"));
    }
  });
});
