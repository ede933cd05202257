/**
 * CORS on the API and the gateway's URLs, against the built server: what an allowed origin,
 * another origin and no origin get (Node's fetch, which sends Origin as written), then what a
 * real Chromium on another loopback origin can do and read.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { launchChromium } from "./helpers/browser.js";
import { PNG, uploadRequest } from "./helpers/fixtures.js";
import { freePort, startServer, type TestServer } from "./helpers/server.js";

let APP_ORIGIN: string;
let server: TestServer;
/** The app's page, on another origin than Sluice (localhost against Sluice's 127.0.0.1, another port). */
let appServer: http.Server;
before(async () => {
  const port = await freePort();
  APP_ORIGIN = `http://localhost:${port}`;
  appServer = http.createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>app</title>"));
  appServer.listen(port, "127.0.0.1");
  await once(appServer, "listening");
  server = await startServer({ SLUICE_CORS_ORIGINS: `${APP_ORIGIN}, https://other-app.example` });
});
after(async () => {
  await server?.stop();
  appServer?.close();
});

const corsHeaders = (headers: Headers) => [...headers.keys()].filter((k) => k.startsWith("access-control-"));

async function preflight(path: string, origin: string, method: string, requestHeaders = "authorization, content-type") {
  return fetch(server.url + path, { method: "OPTIONS", headers: { origin, "access-control-request-method": method, "access-control-request-headers": requestHeaders } });
}

describe("CORS", () => {
  it("answers a preflight for POST /v1/uploads without a key, for an allowed origin", async () => {
    const res = await preflight("/v1/uploads", APP_ORIGIN, "POST", "authorization, content-type, x-custom");
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), APP_ORIGIN);
    assert.equal(res.headers.get("access-control-allow-headers"), "authorization,content-type,x-custom");
    const methods = (res.headers.get("access-control-allow-methods") ?? "").split(",");
    for (const m of ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"]) assert.ok(methods.includes(m), m);
    assert.equal(res.headers.get("access-control-allow-credentials"), null, "credentials are Bearer headers, never cookies");
    assert.match(res.headers.get("vary") ?? "", /Origin/);
  });

  it("answers preflights on gateway URLs, tus and Companion paths alike", async () => {
    for (const [path, method] of [
      ["/v1/uploads/upl_AAAAAAAAAAAAAAAAAAAAAA/content?expires=1&signature=x", "PUT"],
      ["/v1/uploads/upl_AAAAAAAAAAAAAAAAAAAAAA/parts/1?expires=1&signature=x", "PUT"],
      ["/v1/tus/", "POST"],
      ["/v1/tus/upl_AAAAAAAAAAAAAAAAAAAAAA", "PATCH"],
      ["/s3/multipart", "POST"],
      ["/v1/files/fil_x", "DELETE"],
    ] as const) {
      const res = await preflight(path, "https://other-app.example", method, "content-type, upload-offset, tus-resumable");
      assert.equal(res.status, 204, path);
      assert.equal(res.headers.get("access-control-allow-origin"), "https://other-app.example", path);
    }
  });

  it("sends no CORS header at all to an origin not in the list, nor without an Origin", async () => {
    const refused = await preflight("/v1/uploads", "http://evil.example", "POST");
    assert.equal(refused.status, 401, "not answered as a preflight: it goes on to the key check like any OPTIONS");
    assert.deepEqual(corsHeaders(refused.headers), []);
    const stranger = await server.api("POST", "/v1/uploads", uploadRequest(PNG), { origin: "http://evil.example" });
    assert.equal(stranger.status, 201);
    assert.deepEqual(corsHeaders(stranger.headers), []);
    assert.equal(stranger.headers.get("vary"), null, "an answer to a POST is never stored by a cache: nothing to vary");
    const strangerGet = await server.api("GET", `/v1/uploads/${stranger.body.id}`, undefined, { origin: "http://evil.example" });
    assert.equal(strangerGet.status, 200);
    assert.deepEqual(corsHeaders(strangerGet.headers), []);
    assert.match(strangerGet.headers.get("vary") ?? "", /Origin/, "caches must not serve one origin's answer to another");
    const noOrigin = await server.api("GET", "/healthz");
    assert.deepEqual(corsHeaders(noOrigin.headers), []);
  });

  it("puts the CORS headers on answers and on errors, so that a page can read both", async () => {
    const ok = await server.api("POST", "/v1/uploads", uploadRequest(PNG), { origin: APP_ORIGIN });
    assert.equal(ok.status, 201);
    assert.equal(ok.headers.get("access-control-allow-origin"), APP_ORIGIN);
    const exposed = (ok.headers.get("access-control-expose-headers") ?? "").split(",");
    for (const h of ["ETag", "Location", "Upload-Offset", "Upload-Length", "Upload-Metadata", "Upload-Defer-Length", "Upload-Expires", "Upload-Concat", "Tus-Version", "Tus-Resumable", "Tus-Max-Size", "Tus-Extension", "Tus-Checksum-Algorithm", "Sluice-Error-Code", "Sluice-Error-Message"]) {
      assert.ok(exposed.includes(h), h);
    }
    const unauthorized = await fetch(`${server.url}/v1/uploads`, { method: "POST", headers: { origin: APP_ORIGIN } });
    assert.equal(unauthorized.status, 401);
    assert.equal(unauthorized.headers.get("access-control-allow-origin"), APP_ORIGIN);
    const missing = await fetch(`${server.url}/nowhere`, { headers: { origin: APP_ORIGIN } });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("access-control-allow-origin"), APP_ORIGIN);
  });

  it("leaves a bare OPTIONS (tus's discovery, not a preflight) to the routes, with CORS headers for an allowed origin", async () => {
    const res = await fetch(`${server.url}/v1/uploads`, { method: "OPTIONS", headers: { origin: APP_ORIGIN } });
    assert.notEqual(res.status, 204, "not answered as a preflight");
    assert.equal(res.headers.get("access-control-allow-origin"), APP_ORIGIN);
  });

  it("lets a real Chromium page on another origin issue an upload with a token, PUT it through the gateway and read its ETag", async () => {
    const minted = await server.api("POST", "/v1/tokens", { maxUploads: 1 });
    assert.equal(minted.status, 201);
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      await page.goto(`${APP_ORIGIN}/`);
      const seen = await page.evaluate(
        async ({ sluice, token, png }) => {
          const bytes = Uint8Array.from(atob(png), (ch) => ch.charCodeAt(0));
          const issued = await fetch(`${sluice}/v1/uploads`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ filename: "cat.png", contentType: "image/png", size: bytes.length }),
          });
          const { upload } = (await issued.json()) as { upload: { url: string; headers: Record<string, string> } };
          const put = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: bytes });
          return { origin: location.origin, issued: issued.status, put: put.status, etag: put.headers.get("etag") };
        },
        { sluice: server.url, token: minted.body.token as string, png: PNG.toString("base64") },
      );
      assert.deepEqual(seen, { origin: APP_ORIGIN, issued: 201, put: 200, etag: `"${createHash("md5").update(PNG).digest("hex")}"` });
    } finally {
      await browser?.close();
    }
  });
});
