import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SNIFF_BYTES, isContentAllowed, sniffContentType, type Identification } from "./content-type.js";
import { isTypeAllowed, mediaTypeEssence } from "./media-types.js";

const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
const PDF = Buffer.from("%PDF-1.7\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n");
const text = (s: string) => Buffer.from(s);

describe("sniffContentType", () => {
  const cases: [string, Buffer, string, { ok: boolean; type?: string; reason?: RegExp }][] = [
    ["a real PNG", PNG, "image/png", { ok: true, type: "image/png" }],
    ["image/jpg alias vs a PNG", PNG, "image/jpg", { ok: false, reason: /declared image\/jpeg but the content is image\/png/ }],
    ["a PNG under octet-stream", PNG, "application/octet-stream", { ok: true, type: "image/png" }],
    ["a PDF declared as PNG", PDF, "image/png", { ok: false, reason: /content is application\/pdf/ }],
    ["HTML declared as PNG", text("<!DOCTYPE html><p>hi"), "image/png", { ok: false, reason: /declared image\/png but the content is HTML/ }],
    ["binary junk declared as PNG", Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), "image/png", { ok: false, reason: /content is not image\/png/ }],
    ["HTML declared as text/plain", text("  <html><script>x</script>"), "text/plain", { ok: false, reason: /content is HTML/ }],
    ["SVG with script declared as text/plain", text('<svg onload="x">'), "text/plain", { ok: false, reason: /content is SVG/ }],
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

const BOM8 = Buffer.from([0xef, 0xbb, 0xbf]);
function utf16(s: string, order: "le" | "be"): Buffer {
  const le = Buffer.from(s, "utf16le");
  const body = order === "le" ? le : Buffer.from(le).swap16();
  return Buffer.concat([Buffer.from(order === "le" ? [0xff, 0xfe] : [0xfe, 0xff]), body]);
}
const csvWithMarkupLater = text(`name,comment\n${Array.from({ length: 40 }, (_, i) => `row${i},fine`).join("\n")}\nx,"a <b>bold</b> <script>x</script> cell"\n`);

/**
 * Files a browser could run as a page (or a reader could be fooled by), each declared as
 * something harmless, and their innocent look-alikes. "html" means rejected as markup.
 */
describe("the markup corpus", () => {
  const rejected = (declared: string) => ({ declared, html: true });
  const accepted = (declared: string, identifiedBy: Identification) => ({ declared, html: false, identifiedBy });
  const corpus: [string, Buffer, { declared: string; html: boolean; identifiedBy?: Identification }][] = [
    ["a comment, then script", text("<!-- x --><script>alert(1)</script>"), rejected("text/plain")],
    // What an HTML parser reads as a bogus comment (up to the first >) or an end tag, then script.
    ["an empty processing instruction, then script", text("<?><script>alert(1)</script>"), rejected("text/plain")],
    ["a bogus comment, then script", text("<!x><script>alert(1)</script>"), rejected("text/plain")],
    ["an end tag, then script", text("</x><script>alert(1)</script>"), rejected("text/plain")],
    ["a comment with no space, then script", text("<!--x--><script>alert(1)</script>"), rejected("text/plain")],
    ["several comments and blank lines, then script", text("\n<!--a-->\n\n<!--b-->\r\n<SCRIPT>alert(1)</SCRIPT>"), rejected("text/csv")],
    ["leading whitespace, then <html>", text(" \t\r\n\f<html><body>x"), rejected("text/plain")],
    ["a UTF-8 BOM, then <script>", Buffer.concat([BOM8, text("<script>alert(1)</script>")]), rejected("text/plain")],
    ["a UTF-8 BOM and whitespace, then <!DOCTYPE html>", Buffer.concat([BOM8, text("\n  <!DOCTYPE html><title>x</title>")]), rejected("application/json")],
    ["a UTF-16LE BOM, then <html>", utf16("<html><script>alert(1)</script>", "le"), rejected("text/plain")],
    ["a UTF-16BE BOM, then <script>", utf16("<script>alert(1)</script>", "be"), rejected("text/plain")],
    ["uppercase tags", text("<HTML><BODY ONLOAD=alert(1)>"), rejected("text/plain")],
    ["a bare <b> as the first tag", text("<b>bold</b> and then text"), rejected("text/markdown")],
    ["<iframe srcdoc>", text("<iframe srcdoc='<script>alert(1)</script>'>"), rejected("application/octet-stream")],
    ["<img onerror> (beyond the standard's list)", text("<img src=x onerror=alert(1)>"), rejected("text/plain")],
    ["<svg onload>", text('<svg onload="alert(1)"/>'), rejected("text/plain")],
    ["<svg> with a namespace and <script>", text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), rejected("image/png")],
    ["<?xml then <svg> with script", text('<?xml version="1.0"?>\n<!-- c -->\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), rejected("application/xml")],
    ["<?xml then a doctype for SVG", text('<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x"><svg/>'), rejected("text/plain")],
    ["XML carrying XHTML script", text('<?xml version="1.0"?><root><h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></root>'), rejected("text/xml")],
    ["XML with an event handler", text("<data><x onclick='alert(1)'/></data>"), rejected("application/xml")],
    ["an unterminated comment hides what follows", text("<!--x" + "y".repeat(100)), rejected("text/plain")],
    ["HTML declared as HTML", text("<!-- x --><!doctype html><script>ok()</script>"), accepted("text/html", "markup")],
    ["SVG declared as SVG", text('<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'), accepted("image/svg+xml", "markup")],
    ["text that mentions <b in the middle", text("Use the <b> tag for bold, and <script> for code.\n"), accepted("text/plain", "validated")],
    ["CSV with markup in a cell later on", csvWithMarkupLater, accepted("text/csv", "validated")],
    ["a comment, then plain text", text("<!--note-->\n# Title\n\nwords"), accepted("text/markdown", "validated")],
    ["plain XML with no script", text("<?xml version='1.0'?><note><to>you</to></note>"), accepted("application/xml", "signature")],
    ["a real PNG", PNG, accepted("image/png", "signature")],
    ["PHP source, which never closes its <?php", text("<?php\necho 'hi';\n"), accepted("text/plain", "validated")],
    ["JSON whose strings hold markup", text('{"html":"<script>alert(1)</script>"}'), accepted("application/json", "validated")],
    ["a UTF-8 BOM, then text", Buffer.concat([BOM8, text("héllo wörld\n")]), accepted("text/plain", "validated")],
  ];
  for (const [name, bytes, expected] of corpus) {
    it(`${name}: ${expected.html ? "rejected" : "accepted"} as ${expected.declared}`, async () => {
      const verdict = await sniffContentType(bytes, expected.declared);
      if (expected.html) {
        assert.equal(verdict.ok, false, JSON.stringify(verdict));
        assert.ok(!verdict.ok && verdict.detected && ["text/html", "image/svg+xml", "application/xml"].includes(verdict.detected), JSON.stringify(verdict));
      } else {
        assert.equal(verdict.ok, true, JSON.stringify(verdict));
        assert.equal(verdict.ok && verdict.identifiedBy, expected.identifiedBy);
      }
    });
  }
});

describe("types no signature can prove", () => {
  const verdictOf = async (bytes: Uint8Array, declared: string, complete = true) => {
    const v = await sniffContentType(bytes, declared, { complete });
    assert.ok(v.ok, JSON.stringify(v));
    return v;
  };
  it("an image type file-type does not know is only the client's word, and an image/* list refuses it", async () => {
    const v = await verdictOf(text("#!/bin/sh\nrm -rf ~\n"), "image/x-foo");
    assert.equal(v.identifiedBy, "declared");
    assert.equal(isContentAllowed(v, ["image/*"]), false);
    assert.equal(isContentAllowed(v, ["*/*"]), true, "a list that allows everything keeps today's behaviour");
  });
  it("text, CSV, Markdown and JSON pass when their checks pass, and not otherwise", async () => {
    assert.equal((await verdictOf(text("a,b\n1,2\n"), "text/csv")).identifiedBy, "validated");
    assert.equal((await verdictOf(Buffer.from([0x61, 0x00, 0x62]), "text/plain")).identifiedBy, "declared", "a NUL byte is not text");
    assert.equal((await verdictOf(Buffer.from([0x61, 0xff, 0x62]), "text/plain")).identifiedBy, "declared", "not UTF-8");
    assert.equal((await verdictOf(text("a\x1bb"), "text/plain")).identifiedBy, "declared", "an escape character is not text");
    assert.equal((await verdictOf(text('{"a":[1,2]}'), "application/json")).identifiedBy, "validated");
    assert.equal((await verdictOf(text('{"a":'), "application/json")).identifiedBy, "declared", "the whole file was read, and it does not parse");
    assert.equal((await verdictOf(text("hello"), "application/json")).identifiedBy, "declared");
    const big = text(`[${'"x",'.repeat(SNIFF_BYTES)}`).subarray(0, SNIFF_BYTES);
    assert.equal((await verdictOf(big, "application/json", false)).identifiedBy, "validated", "a prefix of a larger file only has to start as JSON");
    assert.equal((await verdictOf(text("x".repeat(SNIFF_BYTES)), "application/json", false)).identifiedBy, "declared");
  });
  it("a prefix that ends inside a character is still text", async () => {
    const cut = text("é".repeat(3000)).subarray(0, SNIFF_BYTES - 1);
    assert.equal(cut.length % 2, 1, "cut in the middle of a two-byte character");
    assert.equal((await verdictOf(cut, "text/plain", false)).identifiedBy, "validated");
    assert.equal((await verdictOf(cut, "text/plain", true)).identifiedBy, "declared", "the same bytes as a whole file are not UTF-8");
  });
  it("application/octet-stream listed by name takes what cannot be identified; a wildcard does not", async () => {
    const v = await verdictOf(Buffer.from([1, 2, 3, 4]), "application/octet-stream");
    assert.equal(v.contentType, "application/octet-stream");
    assert.equal(isContentAllowed(v, ["application/octet-stream"]), true);
    assert.equal(isContentAllowed(v, ["application/*"]), false);
  });
  it("an identified type is allowed by a matching pattern, and by no other", async () => {
    const png = await verdictOf(PNG, "image/png");
    assert.equal(isContentAllowed(png, ["image/*"]), true);
    assert.equal(isContentAllowed(png, ["text/plain"]), false);
    const csv = await verdictOf(text("a,b\n"), "text/csv");
    assert.equal(isContentAllowed(csv, ["text/*"]), true);
  });
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
