// Bundles the Lambda entry point (src/runtime/lambda/index.ts) into dist/lambda/index.mjs:
// one minified ESM file per deployment, with what the handlers import and nothing else.
// SQLite's native module stays out: Lambda keeps metadata in PostgreSQL.
import console from "node:console";
import process from "node:process";
import { build } from "esbuild";
import { mkdir, stat } from "node:fs/promises";

await mkdir("dist/lambda", { recursive: true });
const result = await build({
  entryPoints: ["src/runtime/lambda/index.ts"],
  outfile: "dist/lambda/index.mjs",
  bundle: true,
  format: "esm",
  platform: "node",
  target: ["node20"],
  minify: true,
  sourcemap: false,
  metafile: true,
  external: ["better-sqlite3", "pg-native"],
  // CommonJS dependencies call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: "warning",
});
const { size } = await stat("dist/lambda/index.mjs");
if (process.argv.includes("--report")) {
  const inputs = Object.entries(result.metafile.outputs["dist/lambda/index.mjs"].inputs)
    .map(([file, { bytesInOutput }]) => [file.replace(/^node_modules\/((@[^/]+\/)?[^/]+).*/, "$1"), bytesInOutput])
    .reduce((m, [name, bytes]) => m.set(name, (m.get(name) ?? 0) + bytes), new Map());
  for (const [name, bytes] of [...inputs].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(bytes / 1024).toFixed(0).padStart(6)} KiB  ${name}`);
}
console.log(`dist/lambda/index.mjs: ${(size / 1024).toFixed(0)} KiB`);
