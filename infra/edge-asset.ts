/**
 * The Lambda@Edge code asset: the edge bundle (`npm run build:lambda` makes dist/lambda-edge)
 * with `edge-config.json` beside it, in a directory of its own. Lambda@Edge has no
 * environment variables, so its settings travel in the code.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { EdgeSettings } from "./sluice-stack.js";

export function edgeAssetDir(settings: EdgeSettings, bundleDir: string): string {
  const bundle = path.join(bundleDir, "index.mjs");
  if (!fs.existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build:lambda first.`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-edge-asset-"));
  fs.copyFileSync(bundle, path.join(dir, "index.mjs"));
  fs.writeFileSync(path.join(dir, "edge-config.json"), `${JSON.stringify(settings)}\n`);
  return dir;
}
