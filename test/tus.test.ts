/** tus 1.0.0 on the filesystem store, with tus-js-client as its users write it. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Upload } from "tus-js-client";
import { sha256 } from "./helpers/fixtures.js";
import { startServer, waitForFinal, type TestServer } from "./helpers/server.js";
import { TUS_SUITE_ENV, browserCredential, pngFile, tusSuite } from "./helpers/tus-suite.js";

tusSuite("filesystem", async () => {
  const server = await startServer(TUS_SUITE_ENV);
  return { server, close: () => server.stop() };
});

describe("tus-js-client as docs/clients.md shows it", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(TUS_SUITE_ENV);
  });
  after(() => server?.stop());

  it("uploads a file to <sluice>/v1/tus/ with a token, and the file is archived", async () => {
    const file = pngFile(7 * 1024 * 1024);
    const sluiceUrl = server.url;
    const token = browserCredential(server);
    const url = await new Promise<string>((resolve, reject) => {
      const upload = new Upload(file, {
        endpoint: `${sluiceUrl}/v1/tus/`,
        headers: { authorization: `Bearer ${token}` },
        metadata: { filename: "cat.png", filetype: "image/png" },
        chunkSize: 5 * 1024 * 1024,
        onError: (err) => reject(err), // a rejected file: err.originalResponse.getStatus() === 422
        onSuccess: () => resolve(upload.url ?? ""),
      });
      upload.start();
    });
    const id = new URL(url).pathname.split("/").pop() ?? "";
    const final = await waitForFinal(server, id);
    assert.equal(final.state, "archived", final.reason);
    const download = await server.api("GET", `/v1/files/${final.fileId}/download`);
    assert.equal(sha256(Buffer.from(await (await fetch(download.body.url)).arrayBuffer())), sha256(file));
  });

  it("uploads to a tus URL the app's server asked for, with no credential in the client", async () => {
    const file = pngFile(1024 * 1024);
    // The app's server, with its key:
    const issued = await server.api("POST", "/v1/uploads", { filename: "cat.png", contentType: "image/png", size: file.length, method: "tus" });
    const uploadUrl = issued.body.upload.url;
    await new Promise<void>((resolve, reject) => {
      // The browser, given uploadUrl:
      const upload = new Upload(file, {
        uploadUrl,
        onError: (err) => reject(err),
        onSuccess: () => resolve(),
      });
      upload.start();
    });
    assert.equal((await waitForFinal(server, issued.body.id)).state, "archived");
  });
});
