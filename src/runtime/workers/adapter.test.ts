/** The client's address on Workers: the header Cloudflare sets, and nothing else. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Hono } from "hono";
import { workersPeerAddress } from "./adapter.js";

const app = new Hono().get("/", (c) => c.text(workersPeerAddress(c) ?? "none"));

describe("workersPeerAddress", () => {
  it("reads CF-Connecting-IP", async () => {
    assert.equal(await (await app.request("/", { headers: { "cf-connecting-ip": "198.51.100.4", "x-forwarded-for": "10.9.9.9" } })).text(), "198.51.100.4");
  });

  it("knows none without it (X-Forwarded-For is the client's to write)", async () => {
    assert.equal(await (await app.request("/", { headers: { "x-forwarded-for": "10.9.9.9" } })).text(), "none");
  });
});
