import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ERROR_CODES } from "../src/errors/codes.js";
import { errorTable, markdownFiles, regenerate } from "../scripts/docs-regions.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

describe("generated docs", () => {
  for (const file of markdownFiles(root)) {
    it(`${file} holds what npm run docs makes`, () => {
      const text = fs.readFileSync(path.join(root, file), "utf8");
      assert.equal(regenerate(text), text, `${file} is out of date: run npm run docs`);
    });
  }

  it("the error table is in the docs, with every code of the registry", () => {
    const holders = markdownFiles(root).filter((f) => fs.readFileSync(path.join(root, f), "utf8").includes("<!-- errors:start -->"));
    assert.equal(holders.length, 1, `one file holds the error table; found ${holders.join(", ") || "none"}`);
    for (const code of Object.keys(ERROR_CODES)) assert.match(errorTable(), new RegExp(`\\| \`${code}\` \\|`));
  });

  it("a region that differs from the code is rewritten; one written by another tool is left alone", () => {
    const stale = "before\n<!-- errors:start -->\n| old |\n<!-- errors:end -->\nafter\n";
    assert.equal(regenerate(stale), `before\n<!-- errors:start -->\n${errorTable()}\n<!-- errors:end -->\nafter\n`);
    const measured = "<!-- bench:start -->\n| 1 |\n<!-- bench:end -->";
    assert.equal(regenerate(measured), measured);
  });
});
