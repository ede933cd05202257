/**
 * Rewrites the generated regions of README.md and docs/ (see scripts/docs-regions.ts).
 * `npm run docs`; with `--check`, changes nothing and exits 1 naming each stale file.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { markdownFiles, regenerate } from "./docs-regions.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const check = process.argv.includes("--check");
let stale = 0;
for (const file of markdownFiles(root)) {
  const full = path.join(root, file);
  const text = fs.readFileSync(full, "utf8");
  const made = regenerate(text);
  if (made === text) continue;
  stale++;
  if (check) console.error(`${file}: a generated region is out of date; run npm run docs`);
  else {
    fs.writeFileSync(full, made);
    console.log(`${file}: regenerated`);
  }
}
if (check && stale > 0) process.exitCode = 1;
