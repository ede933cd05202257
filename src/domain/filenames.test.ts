import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { attachmentDisposition, hasForbiddenCharacters, safeKeyName, safeKeyNameSlow } from "./filenames.js";

describe("safeKeyName", () => {
  const cases: [string, string][] = [
    ["cat.png", "cat.png"],
    ["../../etc/passwd", "passwd"],
    ["C:\\Users\\me\\report.pdf", "report.pdf"],
    ["..", "file"],
    ["...", "file"],
    [".hidden", "hidden"],
    ["résumé final.pdf", "resume_final.pdf"],
    ["😀.png", "png"],
    ["a/b/", "file"],
    ["a  b\tc", "a_b_c"],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${expected}`, () => assert.equal(safeKeyName(input), expected));
  }
  it("gives what the full rules give for every name, on its fast path too", () => {
    // Names built from the characters the rules treat specially, so that every rule is hit.
    const alphabet = ["a", "Z", "7", ".", "_", "-", "é", "/", "\\", " ", "(", "😀", "ﬁ"];
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    let alreadySafe = 0;
    for (let i = 0; i < 20_000; i++) {
      const length = 1 + (next() % 12);
      const name = Array.from({ length }, () => alphabet[next() % alphabet.length]).join("");
      const slow = safeKeyNameSlow(name);
      assert.equal(safeKeyName(name), slow, JSON.stringify(name));
      if (slow === name) alreadySafe++;
    }
    assert.ok(alreadySafe > 100, `only ${alreadySafe} names were already safe`);
    for (const name of ["x".repeat(120), "x".repeat(121), `${"x".repeat(118)}.gz`]) assert.equal(safeKeyName(name), safeKeyNameSlow(name));
  });
  it("keeps the extension when it shortens a long name", () => {
    const name = safeKeyName(`${"x".repeat(500)}.tar.gz`);
    assert.equal(name.length, 120);
    assert.ok(name.endsWith(".gz"));
  });
});

describe("hasForbiddenCharacters", () => {
  it("finds NUL, controls and bidi overrides, not ordinary text", () => {
    for (const bad of ["a\u0000b", "a\nb", "a\u007fb", "evil\u202egnp.exe"]) assert.equal(hasForbiddenCharacters(bad), true, JSON.stringify(bad));
    for (const ok of ["a b.png", "ünï.png", "日本.txt"]) assert.equal(hasForbiddenCharacters(ok), false, ok);
  });
});

describe("attachmentDisposition", () => {
  it("gives an ASCII fallback and the exact name, with nothing that could break the header", () => {
    assert.equal(attachmentDisposition('a"b;\r\nSet-Cookie: x.txt'), `attachment; filename="a_b_Set-Cookie_x.txt"; filename*=UTF-8''a%22b%3BSet-Cookie%3A%20x.txt`);
    assert.equal(attachmentDisposition("日本.txt"), `attachment; filename="txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt`);
    assert.equal(attachmentDisposition("../x'(y).pdf"), `attachment; filename="x_y.pdf"; filename*=UTF-8''x%27%28y%29.pdf`);
  });
});
