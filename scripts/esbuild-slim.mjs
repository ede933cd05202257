// esbuild plugins (and a size report) for the serverless bundles, keeping them to what Sluice
// runs. Each plugin swaps a package's catch-all index for the parts Sluice imports from it;
// the bundles' own tests (Lambda: test/lambda-bundle.test.ts, Workers: test/workers.test.ts)
// run the app through them.
import console from "node:console";
import path from "node:path";

const here = path.resolve(import.meta.dirname, "..");
const lib = (pkg, file) => JSON.stringify(path.join(here, "node_modules", pkg, file));

/** zod's `locales` namespace re-exports all ~50 languages (≈250 KiB minified); Sluice's messages are English, which zod imports directly. */
export const zodEnglishOnly = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}zod${path.sep}`) ? { path: "zod-locales", namespace: "sluice-slim" } : undefined,
    );
    b.onLoad({ filter: /^zod-locales$/, namespace: "sluice-slim" }, () => ({
      contents: `export { default as en } from ${lib("zod", "v4/locales/en.js")};`,
      resolveDir: here,
    }));
  },
};

/**
 * rate-limiter-flexible's index loads every backend it supports (a cluster master that
 * imports node:cluster, a dynamic import of drizzle-orm, …). Sluice uses the memory and Redis
 * limiters.
 */
export const rateLimiterCore = {
  name: "rate-limiter-core",
  setup(b) {
    b.onResolve({ filter: /^rate-limiter-flexible$/ }, () => ({ path: "rate-limiter-flexible", namespace: "sluice-slim" }));
    b.onLoad({ filter: /^rate-limiter-flexible$/, namespace: "sluice-slim" }, () => ({
      contents: ["RateLimiterAbstract", "RateLimiterMemory", "RateLimiterRedis", "RateLimiterRes"]
        .map((name) => `export { default as ${name} } from ${lib("rate-limiter-flexible", `lib/${name}.js`)};`)
        .join("\n"),
      resolveDir: here,
    }));
  },
};

/**
 * prom-client's index loads process metrics (node:v8, node:cluster, node:perf_hooks) and a
 * push gateway client, which Workers do not have. Workers keep the registry, counters and
 * histograms; default process metrics are off there (no process to describe).
 */
export const promClientCore = {
  name: "prom-client-core",
  setup(b) {
    b.onResolve({ filter: /^prom-client$/ }, () => ({ path: "prom-client", namespace: "sluice-slim" }));
    b.onLoad({ filter: /^prom-client$/, namespace: "sluice-slim" }, () => ({
      contents: [
        `export { default as Registry } from ${lib("prom-client", "lib/registry.js")};`,
        `export { default as Counter } from ${lib("prom-client", "lib/counter.js")};`,
        `export { default as Histogram } from ${lib("prom-client", "lib/histogram.js")};`,
        `export function collectDefaultMetrics() { throw new Error("Process metrics are not available in this runtime."); }`,
      ].join("\n"),
      resolveDir: here,
    }));
  },
};

/**
 * The AWS SDK's browser build parses XML with the DOM's DOMParser, which Workers do not
 * have; its own pure-JavaScript parser (the one Node uses) is kept instead.
 */
export const awsXmlWithoutDom = {
  name: "aws-xml-without-dom",
  setup(b) {
    b.onResolve({ filter: /^\.\/xml-parser$/ }, (args) =>
      args.importer.includes(`${path.sep}xml-builder${path.sep}`) ? { path: path.join(path.dirname(args.importer), "xml-parser.js") } : undefined,
    );
  },
};

/** Prints the 25 packages (or source files) that take the most room in these bundle outputs (`--report`). */
export function printBiggestInputs(outputs) {
  const inputs = outputs
    .flatMap((o) => Object.entries(o.inputs))
    .map(([file, { bytesInOutput }]) => [file.replace(/^node_modules\/((@[^/]+\/)?[^/]+).*/, "$1"), bytesInOutput])
    .reduce((m, [name, bytes]) => m.set(name, (m.get(name) ?? 0) + bytes), new Map());
  for (const [name, bytes] of [...inputs].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(bytes / 1024).toFixed(0).padStart(6)} KiB  ${name}`);
}
