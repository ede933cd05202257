/** `npm run docs`: rewrites every generated region of the docs (see doc-regions.ts) from the code. */
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { regenerateDocs } from "./doc-regions.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
for (const { file, current, generated } of await regenerateDocs(root)) {
  if (generated === current) continue;
  await fs.writeFile(path.join(root, file), generated);
  console.log(`rewrote ${file}`);
}
