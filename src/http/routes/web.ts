import fs from "node:fs/promises";
import path from "node:path";
import { sluiceError } from "../../errors.js";
import type { App, AppOptions } from "../app.js";
import { errorJson } from "../errors.js";

const ASSETS: Record<string, string> = {
  "app.js": "text/javascript; charset=utf-8",
  "app.js.map": "application/json",
  "style.css": "text/css; charset=utf-8",
};

/** The web uploader: a static page and its bundled script. */
export function registerWebRoutes(app: App, { webRoot, services }: AppOptions) {
  if (!webRoot) return;
  const root = webRoot;
  // Wherever the chosen upload routes send the bytes: the staging bucket in direct mode; the
  // CloudFront front in edge mode (and a multipart upload's parts to the bucket).
  const storage = services.routes.browserOrigins.map((origin) => ` ${origin}`).join("");
  const csp = [
    "default-src 'self'",
    "img-src 'self' data: blob:",
    `connect-src 'self' ${new URL(services.config.publicUrl).origin}${storage}`,
    "style-src 'self'",
    "script-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");

  app.get("/", async (c) => {
    const html = await fs.readFile(path.join(root, "index.html"), "utf8");
    return c.html(html, 200, { "content-security-policy": csp, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" });
  });
  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("/assets/:name", async (c) => {
    const name = c.req.param("name");
    const type = ASSETS[name];
    if (!type) return errorJson(c, sluiceError("not_found", "No such asset."));
    const body = await fs.readFile(path.join(root, name));
    return c.body(body, 200, { "content-type": type, "cache-control": "no-cache", "x-content-type-options": "nosniff" });
  });
}
