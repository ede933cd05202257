/**
 * An app on an origin of its own (another loopback address than Sluice's), as its users
 * deploy it: a static page bundled from test/uppy-page/page.ts with the real Uppy packages,
 * and one server route that mints a short-lived token for the page. The app's API key stays
 * in this process; everything the app serves is kept so that a test can show no key left it.
 */
import { once } from "node:events";
import http from "node:http";
import type net from "node:net";
import path from "node:path";
import { build } from "esbuild";
import { ROOT } from "./server.js";

export interface UppyPageBundle {
  js: string;
  css: string;
}

/** Bundles the page as an app would for browsers: esbuild, ESM, its CSS beside it. */
export async function bundleUppyPage(): Promise<UppyPageBundle> {
  const result = await build({
    entryPoints: [path.join(ROOT, "test/uppy-page/page.ts")],
    outdir: "/uppy-page",
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    logLevel: "warning",
  });
  const file = (ext: string) => {
    const out = result.outputFiles.find((f) => f.path.endsWith(ext));
    if (!out) throw new Error(`esbuild wrote no ${ext} for the Uppy page`);
    return out.text;
  };
  return { js: file(".js"), css: file(".css") };
}

const INDEX = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>An app with Uppy</title><link rel="stylesheet" href="/page.css"></head>
<body><div id="uppy"></div><script type="module" src="/page.js"></script></body>
</html>
`;

export interface UppyApp {
  /** The page's origin, e.g. `http://127.0.0.2:41234`: what Sluice's SLUICE_CORS_ORIGINS must name. */
  origin: string;
  /** Every body this app served to the browser, in order. */
  served: string[];
  close(): Promise<void>;
}

/** The session the app's server gives its page: Sluice's URL and a token minted for this visitor. */
export type MintSession = () => Promise<{ sluice: string; token: string }>;

/**
 * Serves the page on 127.0.0.2 (another host and port than Sluice's 127.0.0.1, so another
 * origin by both), with `POST /sluice-session` answered by `mintSession` on this side.
 */
export async function startUppyApp(bundle: UppyPageBundle, mintSession: MintSession): Promise<UppyApp> {
  const served: string[] = [];
  const send = (res: http.ServerResponse, type: string, body: string) => {
    served.push(body);
    res.writeHead(200, { "content-type": `${type}; charset=utf-8`, "cache-control": "no-store" }).end(body);
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://app");
    if (req.method === "GET" && url.pathname === "/") return send(res, "text/html", INDEX);
    if (req.method === "GET" && url.pathname === "/page.js") return send(res, "text/javascript", bundle.js);
    if (req.method === "GET" && url.pathname === "/page.css") return send(res, "text/css", bundle.css);
    if (req.method === "POST" && url.pathname === "/sluice-session") {
      mintSession().then(
        (session) => send(res, "application/json", JSON.stringify(session)),
        (err: unknown) => {
          res.writeHead(500, { "content-type": "text/plain" }).end(`the app could not mint a token: ${String(err)}`);
        },
      );
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(0, "127.0.0.2");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  return {
    origin: `http://127.0.0.2:${port}`,
    served,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
