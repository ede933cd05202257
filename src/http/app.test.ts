import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../config.js";
import { createLogger } from "../internal/logger.js";
import { createSluice, type Sluice } from "../runtime/compose.js";

const KEY = "sk_app_test_key_0123456789abcdef";
const EVENTS_SECRET = "events-secret-0123456789";

describe("route groups: each route is reached the way its caller proves itself", () => {
  let dir: string;
  let sluice: Sluice;
  const call = (method: string, url: string, init: { key?: string; body?: string; headers?: Record<string, string> } = {}) =>
    sluice.app.request(url, {
      method,
      headers: { ...(init.key && { authorization: `Bearer ${init.key}` }), ...(init.body !== undefined && { "content-type": "application/json" }), ...init.headers },
      ...(init.body !== undefined && { body: init.body }),
    });
  const code = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-app-"));
    const config = loadConfig({ SLUICE_DATA_DIR: dir, SLUICE_API_KEYS: KEY, SLUICE_EVENTS_SECRET: EVENTS_SECRET });
    sluice = await createSluice(config, { logger: createLogger({ level: "silent" }) });
  });
  after(async () => {
    await sluice.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("public: health and the OpenAPI document need no proof", async () => {
    assert.equal((await call("GET", "/healthz")).status, 200);
    assert.equal((await call("GET", "/openapi.json")).status, 200);
  });

  it("API key: its routes, and paths under /v1/ that no route has, need a key (401 before 404)", async () => {
    const refused = await call("POST", "/v1/uploads", { body: "{}" });
    assert.equal(refused.status, 401);
    assert.equal(await code(refused), "unauthorized");
    assert.equal((await call("GET", "/v1/no/such/route")).status, 401);
    assert.equal((await call("GET", "/v1/no/such/route", { key: KEY })).status, 404);
    assert.equal((await call("GET", "/v1/files", { key: KEY })).status, 200);
  });

  it("signed URL: no key is asked for; the signature is checked instead", async () => {
    for (const [method, url] of [["PUT", "/v1/uploads/upl_x/content"], ["PUT", "/v1/uploads/upl_x/parts/1"], ["GET", "/v1/files/fil_x/content"], ["HEAD", "/v1/files/fil_x/content"]] as const) {
      const res = await call(method, `${url}?expires=1&signature=x`);
      assert.equal(res.status, 403, `${method} ${url}`);
      if (method !== "HEAD") assert.equal(await code(res), "invalid_signature");
    }
  });

  it("events secret: an API key is not the secret; the secret is", async () => {
    const body = JSON.stringify({ Records: [] });
    assert.equal((await call("POST", "/v1/events/s3", { key: KEY, body })).status, 401);
    assert.equal((await call("POST", "/v1/events/s3", { key: EVENTS_SECRET, body })).status, 200);
    const notJson = await call("POST", "/v1/events/s3", { key: EVENTS_SECRET, body: "{" });
    assert.equal(notJson.status, 400);
    assert.equal(await code(notJson), "invalid_json");
  });

  it("bodies: one limit per route, from one table", async () => {
    const big = " ".repeat(100 * 1024);
    const issue = await call("POST", "/v1/uploads", { key: KEY, body: big });
    assert.equal(issue.status, 413);
    assert.equal(await code(issue), "too_large");
    // A completion may list 10,000 parts: the same body is read, and refused only as not JSON.
    const complete = await call("POST", "/v1/uploads/upl_AAAAAAAAAAAAAAAAAAAAAA/complete", { key: KEY, body: `${big}x` });
    assert.equal(complete.status, 400);
    assert.equal(await code(complete), "invalid_json");
  });

  it("routing: every route is one Hono's RegExpRouter takes, so the app does not fall back to its slower TrieRouter", async () => {
    await call("GET", "/healthz"); // the router is chosen at the first request
    const router = sluice.app.router as unknown as { activeRouter: { name: string } };
    assert.equal(router.activeRouter.name, "RegExpRouter");
    // The Companion part routes share one pattern: the batch, a part number, and nothing else.
    assert.equal((await call("GET", "/s3/multipart/upl_x/batch?partNumbers=1", { key: KEY })).status, 404, "an unknown upload");
    assert.equal(await code(await call("GET", "/s3/multipart/upl_x/1", { key: KEY })), "not_found");
    const other = await call("GET", "/s3/multipart/upl_x/other", { key: KEY });
    assert.equal(other.status, 404);
    assert.match(((await other.json()) as { error: { message: string } }).error.message, /No route/);
  });
});
