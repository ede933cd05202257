// Bundles the web uploader (src/web) with the client SDK into dist/web.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";

await mkdir("dist/web", { recursive: true });
await build({
  entryPoints: ["src/web/app.ts"],
  outfile: "dist/web/app.js",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  sourcemap: true,
  logLevel: "warning",
});
await Promise.all([copyFile("src/web/index.html", "dist/web/index.html"), copyFile("src/web/style.css", "dist/web/style.css")]);
