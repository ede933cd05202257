/**
 * CORS on the API and the gateway's URLs, against the built server: what an allowed origin,
 * another origin and no origin get (Node's fetch, which sends Origin as written), then what a
 * real Chromium on another loopback origin can do and read.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PNG, uploadRequest } from "./helpers/fixtures.js";
import { startServer, type TestServer } from "./helpers/server.js";

const APP_ORIGIN = "http://localhost:5173";
let server: TestServer;
before(async () => {
  server = await startServer({ SLUICE_CORS_ORIGINS: `${APP_ORIGIN}, https://other-app.example` });
});
after(async () => {
  await server?.stop();
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
    assert.match(stranger.headers.get("vary") ?? "", /Origin/, "caches must not serve one origin's answer to another");
    const noOrigin = await server.api("GET", "/healthz");
    assert.deepEqual(corsHeaders(noOrigin.headers), []);
  });

  it("puts the CORS headers on answers and on errors, so that a page can read both", async () => {
    const ok = await server.api("POST", "/v1/uploads", uploadRequest(PNG), { origin: APP_ORIGIN });
    assert.equal(ok.status, 201);
    assert.equal(ok.headers.get("access-control-allow-origin"), APP_ORIGIN);
    const exposed = (ok.headers.get("access-control-expose-headers") ?? "").split(",");
    for (const h of ["ETag", "Location", "Upload-Offset", "Upload-Length", "Upload-Metadata", "Upload-Defer-Length", "Upload-Expires", "Upload-Concat", "Tus-Version", "Tus-Resumable", "Tus-Max-Size", "Tus-Extension", "Tus-Checksum-Algorithm"]) {
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
});
