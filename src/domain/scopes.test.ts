import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isWithinKeyPrefix, keyPrefixOfObjectKey } from "./scopes.js";

describe("key prefixes", () => {
  it("finds the prefix an object key was issued under", () => {
    assert.equal(keyPrefixOfObjectKey("upl_abc/cat.png"), "");
    assert.equal(keyPrefixOfObjectKey("t/upl_abc/cat.png"), "t/");
    assert.equal(keyPrefixOfObjectKey("t/b/upl_abc/cat.png"), "t/b/");
    assert.equal(keyPrefixOfObjectKey("cat.png"), "");
  });

  it("are exact namespaces: a parent prefix does not reach a child's files, nor a child its parent's", () => {
    assert.equal(isWithinKeyPrefix("t/", "t/upl_abc/cat.png"), true);
    assert.equal(isWithinKeyPrefix("t/", "t/b/upl_abc/cat.png"), false, "t/ must not read t/b/");
    assert.equal(isWithinKeyPrefix("t/b/", "t/upl_abc/cat.png"), false, "t/b/ must not read t/");
    assert.equal(isWithinKeyPrefix("t/b/", "t/b/upl_abc/cat.png"), true);
  });

  it("end at a segment boundary", () => {
    assert.equal(isWithinKeyPrefix("t", "tb/upl_abc/cat.png"), false);
    assert.equal(isWithinKeyPrefix("t/", "tb/upl_abc/cat.png"), false);
    assert.equal(isWithinKeyPrefix("tb/", "t/upl_abc/cat.png"), false);
    assert.equal(isWithinKeyPrefix("t/", "upl_abc/cat.png"), false, "a full key's uploads are not a tenant's");
  });

  it("let a full key see everything", () => {
    assert.equal(isWithinKeyPrefix(undefined, "t/b/upl_abc/cat.png"), true);
    assert.equal(isWithinKeyPrefix(undefined, "upl_abc/cat.png"), true);
  });
});
