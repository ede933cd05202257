import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newId, safeEqual } from "./crypto.js";

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
