import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { UrlSigner } from "./signing.js";

describe("UrlSigner", () => {
  it("signs with HMAC-SHA256 over the parts joined by newlines", () => {
    const secrets = ["0123456789abcdef", "k".repeat(64), "ü".repeat(40), randomBytes(100).toString("base64"), randomBytes(33).toString("hex")];
    const messages: string[][] = [["PUT", "upl_x", "1795392307"], [""], ["GET", "fil_ü✓", "1", ""], [randomBytes(5000).toString("latin1")]];
    for (const secret of secrets) {
      const signer = new UrlSigner(secret);
      for (const parts of messages) {
        const expected = createHmac("sha256", secret).update(parts.join("\n")).digest("base64url");
        assert.equal(signer.sign(parts), expected);
      }
    }
  });

  it("verifies its own signatures and refuses any change", () => {
    const signer = new UrlSigner("a-secret-of-enough-length");
    const sig = signer.sign(["PUT", "upl_a", "100"]);
    assert.equal(signer.verify(["PUT", "upl_a", "100"], sig), true);
    assert.equal(signer.verify(["PUT", "upl_a", "101"], sig), false);
    assert.equal(signer.verify(["PUT", "upl_b", "100"], sig), false);
    assert.equal(signer.verify(["PUT", "upl_a", "100"], sig.slice(0, -1)), false);
    assert.equal(signer.verify(["PUT", "upl_a", "100"], ""), false);
    assert.equal(new UrlSigner("another-secret-entirely").verify(["PUT", "upl_a", "100"], sig), false);
  });
});
