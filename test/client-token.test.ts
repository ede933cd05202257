/**
 * The SDK (`@sluice/client`) with a browser upload token, and what it reads from the public
 * `GET /v1/limits`, against the built server. The snippets in docs/clients.md are taken from here.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SluiceApiError, SluiceClient } from "@sluice/client";
import { PNG } from "./helpers/fixtures.js";
import { startServer, type TestServer } from "./helpers/server.js";

const MiB = 1024 ** 2;
let server: TestServer;
before(async () => {
  server = await startServer({ SLUICE_MULTIPART_THRESHOLD: String(5 * MiB), SLUICE_PART_SIZE: String(5 * MiB), SLUICE_ALLOWED_TYPES: "image/*,application/octet-stream" });
});
after(() => server?.stop());

describe("discovery", () => {
  it("publishes the limits, methods and endpoints without a key, briefly cacheable", async () => {
    const res = await fetch(`${server.url}/v1/limits`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "public, max-age=60");
    const limits = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(limits, {
      maxSize: 5 * 1024 ** 3,
      allowedTypes: ["image/*", "application/octet-stream"],
      multipart: { threshold: 5 * MiB, partSize: 5 * MiB, minPartSize: 5 * MiB, maxParts: 10_000 },
      uploadMode: "gateway",
      uploadMethods: ["tus", "PUT"],
      defaultMethod: "PUT",
      urlTtl: { defaultSeconds: 300, maxSeconds: 3600 },
      tus: { endpoint: `${server.url}/v1/tus/` },
      companion: { endpoint: server.url },
      tokens: { defaultLifetimeSeconds: 900, maxLifetimeSeconds: 3600 },
    });
  });
});

describe("the SDK with a browser token", () => {
  it("mints a token on the app's server, and uploads with it in the browser's place", async () => {
    // On the app's server, with its API key:
    const sluice = new SluiceClient({ baseUrl: server.url, apiKey: server.key });
    const { token } = await sluice.createToken({ allowedTypes: ["image/*"], maxUploads: 3, expiresIn: 600, metadata: { userId: "u_42" } });

    // In the browser, with the token only:
    const client = new SluiceClient({ baseUrl: server.url, token });
    const limits = await client.limits();
    const file = new File([PNG], "cat.png", { type: "image/png" });
    if (file.size > limits.maxSize) throw new Error(`Files up to ${limits.maxSize} bytes`);
    const { id } = await client.upload(file, { checksum: true });
    const status = await client.waitForUpload(id);

    assert.equal(status.state, "archived");
    const stored = await sluice.getFile(status.fileId!);
    assert.equal(stored.metadata.userId, "u_42");
    await assert.rejects(client.listFiles(), (err: unknown) => err instanceof SluiceApiError && err.status === 403 && err.code === "token_not_allowed");
  });

  it("hashes first only what the server's published threshold sends in one request", async () => {
    const sent: { path: string; body?: { sha256?: string } }[] = [];
    const recording: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.pathname === "/v1/limits" || url.pathname === "/v1/uploads") sent.push({ path: url.pathname, ...(typeof init?.body === "string" && { body: JSON.parse(init.body) as { sha256?: string } }) });
      return fetch(input, init);
    };
    const client = new SluiceClient({ baseUrl: server.url, apiKey: server.key, fetch: recording });
    await client.upload(new Blob([new Uint8Array(5 * MiB)], { type: "application/octet-stream" }), { checksum: true, filename: "at-threshold.bin" });
    await client.upload(new Blob([new Uint8Array(5 * MiB + 1)], { type: "application/octet-stream" }), { checksum: true, filename: "above.bin" });
    assert.deepEqual(
      sent.map((s) => [s.path, s.body?.sha256 !== undefined]),
      [
        ["/v1/limits", false],
        ["/v1/uploads", true],
        ["/v1/uploads", false],
      ],
      "the limits are read once; the file at the threshold is hashed first, the one above it is multipart",
    );
  });
});
