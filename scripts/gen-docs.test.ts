import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { regenerateDocs } from "./doc-regions.js";
import { ERROR_CODES } from "../src/errors/codes.js";
import { errorReference } from "./error-reference.js";
import { markdownTable, replaceRegion } from "./markdown.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

describe("generated docs", () => {
  it("every generated region is what the code generates (run `npm run docs` after changing a setting)", async () => {
    for (const { file, current, generated } of await regenerateDocs(root)) {
      assert.equal(current, generated, `${file} differs from what \`npm run docs\` writes`);
    }
  });

  it("replaces only what lies between a region's markers, and refuses a file without them", () => {
    const text = "a\n<!-- t:start -->\nold\n<!-- t:end -->\nb\n";
    assert.equal(replaceRegion(text, "t", "new"), "a\n<!-- t:start -->\n\nnew\n\n<!-- t:end -->\nb\n");
    assert.equal(replaceRegion(replaceRegion(text, "t", "new"), "t", "new"), replaceRegion(text, "t", "new"));
    assert.throws(() => replaceRegion("no markers", "t", "x"), /expected <!-- t:start -->/);
  });

  it("the error table lists every code of the registry", () => {
    for (const code of Object.keys(ERROR_CODES)) assert.match(errorReference(), new RegExp(`\\| \`${code}\` \\|`));
  });

  it("escapes a | inside a table cell", () => {
    assert.equal(markdownTable(["a", "b"], [["x|y", "z"]]), "| a | b |\n|---|---|\n| x\\|y | z |");
  });
});
