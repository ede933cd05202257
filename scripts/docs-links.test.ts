import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

async function anchorsOf(file: string): Promise<Set<string>> {
  const text = await fs.readFile(file, "utf8");
  const withoutCode = text.replace(/```[\s\S]*?```/g, "");
  return new Set([...withoutCode.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

// The README is a front page that links into docs/; a page renamed or a heading reworded
// must not leave a link pointing nowhere.
it("every relative link in README.md and docs/ reaches a file, and its #anchor a heading there", async () => {
  const pages = ["README.md", ...(await fs.readdir(path.join(root, "docs"))).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const broken: string[] = [];
  for (const page of pages) {
    const file = path.join(root, page);
    const text = (await fs.readFile(file, "utf8")).replace(/```[\s\S]*?```/g, "");
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue;
      const [where, anchor] = target!.split("#") as [string, string | undefined];
      const linked = where === "" ? file : path.resolve(path.dirname(file), where);
      const exists = await fs.stat(linked).then(() => true, () => false);
      if (!exists) broken.push(`${page}: ${target} (no such file)`);
      else if (anchor && linked.endsWith(".md") && !(await anchorsOf(linked)).has(anchor)) broken.push(`${page}: ${target} (no such heading)`);
    }
  }
  assert.deepEqual(broken, []);
});
