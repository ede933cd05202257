import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const dir = path.dirname(fileURLToPath(import.meta.url));

// A runtime loads only the drivers of the backends it is configured with (runtime/compose.ts);
// reading the configuration must not load the others, or every cold start pays for all of them.
it("configuration parsing imports no backend driver: only zod, Node's own modules and itself", async () => {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
  assert.ok(files.length > 5);
  for (const file of files) {
    const source = await fs.readFile(path.join(dir, file), "utf8");
    for (const [, specifier] of source.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)) {
      assert.ok(specifier === "zod" || specifier!.startsWith("node:") || specifier!.startsWith("./"), `${file} imports ${specifier}`);
    }
  }
});
