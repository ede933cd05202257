import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { HmacSha256, newId, safeEqual, sha256Hex } from "./crypto.js";

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

describe("HmacSha256", () => {
  it("gives what createHmac gives, for keys short and over a block and messages of every padding case, used again and again", () => {
    for (const key of [Buffer.from("0123456789abcdef"), randomBytes(32), randomBytes(64), randomBytes(65), randomBytes(200)]) {
      const hmac = new HmacSha256(key);
      // 0–300 bytes crosses every end-of-block case (55, 56, 63, 64, …); then multi-byte UTF-8.
      const messages = [...Array.from({ length: 301 }, (_, n) => randomBytes(n).toString("latin1").slice(0, n)), "ü✓€".repeat(50), "PUT\nupl_x\nstaging/a/b.png\n1795392307"];
      for (const message of messages) {
        assert.equal(hmac.base64url(message), createHmac("sha256", key).update(message, "utf8").digest("base64url"), `key of ${key.length} bytes, message of ${message.length} chars`);
      }
    }
  });

  it("keeps no state from one message to the next", () => {
    const hmac = new HmacSha256(Buffer.from("a signing secret of some length"));
    const first = hmac.base64url("one");
    hmac.base64url("two, longer than the first message, long enough to take more than one block of sixty-four bytes");
    assert.equal(hmac.base64url("one"), first);
  });
});
