// Bundles the Lambda entry point (src/runtime/lambda/index.ts) into dist/lambda/: index.mjs
// and chunks/, minified ESM. Backends are split into chunks of their own and loaded only when
// configured (compose.ts imports them dynamically), so a function loads the code of its own
// ticket store and database and no other. SQLite's native module stays out: Lambda keeps
// metadata in DynamoDB (the stack's default) or PostgreSQL.
import console from "node:console";
import process from "node:process";
import { build } from "esbuild";
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { printBiggestInputs, promClientCore, rateLimiterCore, zodEnglishOnly } from "./esbuild-slim.mjs";

/**
 * What both bundles share: minified ESM for Node 24, the functions' runtime (infra/sluice-stack.ts).
 * Sluice's code and its dependencies use no syntax newer than Node 20's, so the output is the
 * same as for node20 (byte for byte, checked when the runtime moved) and the tests load it on 20.
 */
const common = {
  bundle: true,
  format: "esm",
  platform: "node",
  target: ["node24"],
  minify: true,
  metafile: true,
  // ES modules first: the AWS SDK's ES build loads its credential providers' clients with
  // import() (a chunk each, loaded only if used) where its CommonJS build require()s them.
  mainFields: ["module", "main"],
  // CommonJS dependencies call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: "warning",
};

await rm("dist/lambda", { recursive: true, force: true });
await mkdir("dist/lambda", { recursive: true });
const result = await build({
  entryPoints: { index: "src/runtime/lambda/index.ts" },
  outdir: "dist/lambda",
  outExtension: { ".js": ".mjs" },
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  // Lambda runs without process metrics (createSluice's default), so prom-client's core is enough.
  plugins: [zodEnglishOnly, rateLimiterCore, promClientCore],
  ...common,
  external: ["better-sqlite3", "pg-native"],
});
// The Lambda@Edge functions (CloudFront in front of staging): their own small bundle, since
// they load only the DynamoDB ticket store. The stack adds edge-config.json beside it.
await rm("dist/lambda-edge", { recursive: true, force: true });
const edge = await build({
  entryPoints: { index: "src/runtime/lambda/edge.ts" },
  outdir: "dist/lambda-edge",
  outExtension: { ".js": ".mjs" },
  plugins: [zodEnglishOnly],
  ...common,
});
const edgeBytes = Object.values(edge.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
console.log(`dist/lambda-edge: index.mjs ${(edgeBytes / 1024).toFixed(0)} KiB`);
const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith(".mjs"));
const total = outputs.reduce((sum, [, o]) => sum + o.bytes, 0);
if (process.argv.includes("--report")) printBiggestInputs(outputs.map(([, o]) => o));
// For finding what a function loads: which inputs went into which chunk.
if (process.argv.includes("--metafile")) await writeFile("dist/lambda-meta.json", JSON.stringify(result.metafile));
const { size } = await stat("dist/lambda/index.mjs");
console.log(`dist/lambda: ${outputs.length} files, ${(total / 1024).toFixed(0)} KiB in all; index.mjs ${(size / 1024).toFixed(0)} KiB`);
