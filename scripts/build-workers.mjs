// Bundles the Cloudflare Workers entry point (src/runtime/workers/index.ts) into
// dist/workers/index.mjs, the way wrangler bundles a Worker: the `workerd`/`worker`/`browser`
// export conditions, Node built-ins left to the runtime's `nodejs_compat` (as `node:*`).
// `wrangler deploy` uploads this file as is (wrangler.toml: `no_bundle = true`).
import console from "node:console";
import path from "node:path";
import process from "node:process";
import { builtinModules } from "node:module";
import { build } from "esbuild";
import { mkdir, stat } from "node:fs/promises";
import { awsXmlWithoutDom, printBiggestInputs, promClientCore, rateLimiterCore, zodEnglishOnly } from "./esbuild-slim.mjs";

const builtins = new Set(builtinModules.filter((m) => !m.startsWith("_")));
/**
 * Node built-ins are left to the runtime (`nodejs_compat`) as `node:` imports. A CommonJS
 * dependency's `require("util")` cannot stay a require in an ES module: it is answered by a
 * small ES module that imports the built-in and re-exports it.
 */
const nodeBuiltins = {
  name: "node-builtins",
  setup(b) {
    b.onResolve({ filter: /^[a-z0-9_/]+$|^node:/ }, (args) => {
      const name = args.path.replace(/^node:/, "");
      if (!builtins.has(name)) return undefined;
      if (args.kind === "require-call") return { path: name, namespace: "node-require" };
      return { path: `node:${name}`, external: true };
    });
    b.onLoad({ filter: /.*/, namespace: "node-require" }, (args) => ({
      contents: `import * as m from "node:${args.path}"; export default m.default ?? m;`,
      loader: "js",
    }));
  },
};

/**
 * Webhooks are sent with `fetch` on Workers: workerd has no node:http(s) client, so the
 * module that sends them (src/webhooks/send.ts) is replaced by one with the same exports
 * (src/runtime/workers/send-fetch.ts), for the dispatcher and the test route alike.
 */
const webhooksWithFetch = {
  name: "webhooks-with-fetch",
  setup(b) {
    b.onResolve({ filter: /^\.\/send\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}src${path.sep}webhooks${path.sep}`) ? { path: path.resolve("src/runtime/workers/send-fetch.ts") } : undefined,
    );
  },
};

await mkdir("dist/workers", { recursive: true });
const result = await build({
  entryPoints: ["src/runtime/workers/index.ts"],
  outfile: "dist/workers/index.mjs",
  bundle: true,
  format: "esm",
  platform: "browser",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["browser", "module", "main"],
  target: ["es2022"],
  minify: true,
  metafile: true,
  plugins: [webhooksWithFetch, nodeBuiltins, zodEnglishOnly, rateLimiterCore, promClientCore, awsXmlWithoutDom],
  logLevel: "warning",
});
// A module workerd lacks would stop the Worker at its start, whatever the test covers.
const missing = ["node:http", "node:https"].filter((m) => (result.metafile.outputs["dist/workers/index.mjs"].imports ?? []).some((i) => i.path === m));
if (missing.length > 0) throw new Error(`the Workers bundle imports ${missing.join(", ")}, which workerd does not have`);
const { size } = await stat("dist/workers/index.mjs");
if (process.argv.includes("--report")) printBiggestInputs([result.metafile.outputs["dist/workers/index.mjs"]]);
console.log(`dist/workers/index.mjs: ${(size / 1024).toFixed(0)} KiB`);
