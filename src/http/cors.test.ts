import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Hono } from "hono";
import { allowCrossOrigin } from "./cors.js";

describe("allowCrossOrigin: Vary: Origin on answers to other origins", () => {
  const app = new Hono();
  app.use("*", allowCrossOrigin(["https://up.example.com"]));
  app.get("/json", (c) => c.json({ ok: true }, 201, { vary: "Accept-Encoding" }));
  // Response.redirect's headers are immutable: the header must still be added (through a copy).
  app.on(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"], "/any", (c) => c.json({ ok: true }, 201));
  app.get("/immutable", () => Response.redirect("https://elsewhere.example/", 302));

  it("appends Origin to an answer's own Vary, keeping its status, body and headers", async () => {
    const res = await app.request("/json");
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("vary"), "Accept-Encoding, Origin");
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), { ok: true });
  });

  it("leaves it off answers that no cache may store (POST, PUT, PATCH, DELETE)", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      const res = await app.request("/any", { method, headers: { origin: "https://stranger.example" } });
      assert.equal(res.status, 201, method);
      assert.equal(res.headers.get("vary"), null, method);
    }
    assert.equal((await app.request("/any", { headers: { origin: "https://stranger.example" } })).headers.get("vary"), "Origin", "GET");
    assert.equal((await app.request("/any", { method: "HEAD" })).headers.get("vary"), "Origin", "HEAD");
  });

  it("adds it to an answer whose headers may not be changed", async () => {
    const res = await app.request("/immutable", { headers: { origin: "https://stranger.example" } });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), "https://elsewhere.example/");
    assert.equal(res.headers.get("vary"), "Origin");
  });
});
