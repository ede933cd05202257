import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { PNG, uploadRequest } from "./helpers/fixtures.js";
import { startServer } from "./helpers/server.js";

describe("rate limits", () => {
  it("answers a burst over the limit with 429 and a Retry-After that holds", async () => {
    const server = await startServer({ SLUICE_RATE_LIMIT: "3/min" });
    try {
      const statuses: number[] = [];
      let limited: Awaited<ReturnType<typeof server.api>> | undefined;
      for (let i = 0; i < 5; i++) {
        const res = await server.api("POST", "/v1/uploads", uploadRequest(PNG));
        statuses.push(res.status);
        if (res.status === 429) limited ??= res;
      }
      assert.deepEqual(statuses, [201, 201, 201, 429, 429]);
      assert.equal(limited?.body.error.code, "rate_limited");
      const retryAfter = Number(limited?.headers.get("retry-after"));
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      // Other routes are not limited.
      assert.equal((await server.api("GET", "/v1/files")).status, 200);
    } finally {
      await server.stop();
    }
  });
});

describe("failing closed", () => {
  it("names the broken backend in /readyz and refuses uploads it cannot store, with 503", async () => {
    const server = await startServer();
    try {
      const issued = await server.api("POST", "/v1/uploads", uploadRequest(PNG));
      await fs.rm(path.join(server.dataDir, "objects"), { recursive: true, force: true });
      const ready = await fetch(`${server.url}/readyz`);
      assert.equal(ready.status, 503);
      const body = (await ready.json()) as { status: string; backends: Record<string, string>; error: { code: string; message: string } };
      assert.equal(body.status, "unavailable");
      assert.equal(body.backends["object store"], "down");
      assert.equal(body.backends["ticket store"], "up");
      assert.equal(body.error.code, "backend_unavailable");
      assert.match(body.error.message, /object store/);

      const res = await fetch(issued.body.upload.url, { method: "PUT", headers: issued.body.upload.headers, body: new Uint8Array(PNG) });
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "backend_unavailable");
      assert.equal((await server.api("GET", `/v1/uploads/${issued.body.id}`)).body.state, "issued", "the claim was released: the URL can be retried");

      // Storage comes back: the same URL works, with no restart.
      await fs.mkdir(path.join(server.dataDir, "objects/.tmp"), { recursive: true });
      await fs.mkdir(path.join(server.dataDir, "objects/staging"), { recursive: true });
      await fs.mkdir(path.join(server.dataDir, "objects/archive"), { recursive: true });
      assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
      const retried = await fetch(issued.body.upload.url, { method: "PUT", headers: issued.body.upload.headers, body: new Uint8Array(PNG) });
      assert.equal(retried.status, 200);
    } finally {
      await server.stop();
    }
  });
});
