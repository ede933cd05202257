import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isTypeAllowed, mediaTypeEssence, sniffContentType } from "./content-type.js";

const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
const PDF = Buffer.from("%PDF-1.7\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n");
const text = (s: string) => Buffer.from(s);

describe("sniffContentType", () => {
  const cases: [string, Buffer, string, { ok: boolean; type?: string; reason?: RegExp }][] = [
    ["a real PNG", PNG, "image/png", { ok: true, type: "image/png" }],
    ["image/jpg alias vs a PNG", PNG, "image/jpg", { ok: false, reason: /declared image\/jpeg but the content is image\/png/ }],
    ["a PNG under octet-stream", PNG, "application/octet-stream", { ok: true, type: "image/png" }],
    ["a PDF declared as PNG", PDF, "image/png", { ok: false, reason: /content is application\/pdf/ }],
    ["HTML declared as PNG", text("<!DOCTYPE html><p>hi"), "image/png", { ok: false, reason: /content is not image\/png/ }],
    ["HTML declared as text/plain", text("  <html><script>x</script>"), "text/plain", { ok: false, reason: /content is HTML/ }],
    ["SVG with script declared as text/plain", text('<svg onload="x">'), "text/plain", { ok: false, reason: /content is HTML/ }],
    ["HTML declared as HTML", text("<!doctype html>"), "text/html", { ok: true, type: "text/html" }],
    ["plain text", text("just words\n"), "text/plain; charset=utf-8", { ok: true, type: "text/plain" }],
    ["CSV", text("a,b\n1,2\n"), "text/csv", { ok: true, type: "text/csv" }],
    ["JSON", text('{"a":1}'), "application/json", { ok: true, type: "application/json" }],
    ["XML without a declaration", text("<root/>"), "application/xml", { ok: true, type: "application/xml" }],
    ["empty file", Buffer.alloc(0), "text/plain", { ok: true, type: "text/plain" }],
  ];
  for (const [name, bytes, declared, expected] of cases) {
    it(name, async () => {
      const verdict = await sniffContentType(bytes, declared);
      assert.equal(verdict.ok, expected.ok, JSON.stringify(verdict));
      if (verdict.ok) assert.equal(verdict.contentType, expected.type);
      else assert.match(verdict.reason, expected.reason!);
    });
  }
});

describe("isTypeAllowed", () => {
  it("matches exact types and wildcards", () => {
    assert.equal(isTypeAllowed("image/png", ["*/*"]), true);
    assert.equal(isTypeAllowed("image/png", ["image/*"]), true);
    assert.equal(isTypeAllowed("IMAGE/PNG; x=y", ["image/png"]), true);
    assert.equal(isTypeAllowed("text/html", ["image/*", "text/plain"]), false);
    assert.equal(isTypeAllowed("image/png", ["*/png"]), true);
  });
  it("normalizes the essence", () => assert.equal(mediaTypeEssence(" Text/Plain ; charset=UTF-8"), "text/plain"));
  it("returns what splitting, trimming and lowercasing return, for any type", () => {
    const alphabet = ["a", "Z", "/", ";", " ", "+", "-", ".", "=", "\t", "*", "é"];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      const type = Array.from({ length: 1 + (next() % 10) }, () => alphabet[next() % alphabet.length]).join("");
      assert.equal(mediaTypeEssence(type), (type.split(";")[0] ?? "").trim().toLowerCase(), JSON.stringify(type));
    }
  });
});
