/** tus 1.0.0 on the filesystem store, with tus-js-client as its users write it. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Upload } from "tus-js-client";
import { sha256 } from "./helpers/fixtures.js";
import { filesUnder, startServer, waitForFinal, type TestServer } from "./helpers/server.js";
import { TUS_SUITE_ENV, browserToken, pngFile, tusSuite } from "./helpers/tus-suite.js";

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
    const token = await browserToken(server);
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

describe("tus on the filesystem appends to one file in staging", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(TUS_SUITE_ENV);
  });
  after(() => server?.stop());

  const tus = { "tus-resumable": "1.0.0" };
  const meta = `filename ${Buffer.from("cat.png").toString("base64")},filetype ${Buffer.from("image/png").toString("base64")}`;
  const patch = (url: string, offset: number, body: Uint8Array, headers: Record<string, string> = {}) =>
    fetch(url, { method: "PATCH", headers: { ...tus, "content-type": "application/offset+octet-stream", "upload-offset": String(offset), ...headers }, body: new Uint8Array(body) });
  const offsetOf = async (url: string) => (await fetch(url, { method: "HEAD", headers: tus })).headers.get("upload-offset");
  const appendFiles = async (id: string) => (await filesUnder(server.dataDir)).filter((f) => f.includes(id) && f.endsWith(".tus-append"));
  const multipartUploads = async () => (await filesUnder(server.dataDir)).filter((f) => f.split(path.sep).includes(".multipart"));

  it("keeps the bytes in one append file whose size is Upload-Offset, with no multipart upload; a 460 leaves it as it was", async () => {
    const token = await browserToken(server);
    const size = 12 * 1024 * 1024 + 7;
    const created = await fetch(`${server.url}/v1/tus/`, { method: "POST", headers: { ...tus, authorization: `Bearer ${token}`, "upload-length": String(size), "upload-metadata": meta } });
    assert.equal(created.status, 201);
    const url = created.headers.get("location") ?? "";
    const id = new URL(url).pathname.split("/").pop() ?? "";
    const file = pngFile(size);
    // Over two parts' worth (the part size is 5 MiB), in one PATCH: parts would be stored by now.
    const first = await patch(url, 0, file.subarray(0, 11 * 1024 * 1024));
    assert.equal(first.status, 204);
    assert.equal(first.headers.get("upload-offset"), String(11 * 1024 * 1024));
    assert.deepEqual(await multipartUploads(), []);
    await new Promise((r) => setTimeout(r, 1500)); // the sweep (every second) keeps a live upload's append file
    const [append, ...others] = await appendFiles(id);
    assert.ok(append, "an append file in staging");
    assert.deepEqual(others, []);
    assert.equal((await fs.stat(path.join(server.dataDir, append))).size, 11 * 1024 * 1024);
    assert.equal(await offsetOf(url), String(11 * 1024 * 1024));

    const rest = file.subarray(11 * 1024 * 1024);
    const wrong = await patch(url, 11 * 1024 * 1024, rest, { "upload-checksum": `sha1 ${createHash("sha1").update("not these bytes").digest("base64")}` });
    assert.equal(wrong.status, 460);
    assert.equal(await offsetOf(url), String(11 * 1024 * 1024));
    assert.equal((await fs.stat(path.join(server.dataDir, append))).size, 11 * 1024 * 1024);

    const right = await patch(url, 11 * 1024 * 1024, rest, { "upload-checksum": `sha256 ${createHash("sha256").update(rest).digest("base64")}` });
    assert.equal(right.status, 204);
    assert.deepEqual(await appendFiles(id), []);
    const final = await waitForFinal(server, id);
    assert.equal(final.state, "archived", final.reason);
    const download = await server.api("GET", `/v1/files/${final.fileId}/download`);
    assert.equal(sha256(Buffer.from(await (await fetch(download.body.url)).arrayBuffer())), sha256(file));
  });

  it("removes the append file when the upload is terminated", async () => {
    const token = await browserToken(server);
    const created = await fetch(`${server.url}/v1/tus/`, { method: "POST", headers: { ...tus, authorization: `Bearer ${token}`, "upload-length": "100000", "upload-metadata": meta } });
    const url = created.headers.get("location") ?? "";
    const id = new URL(url).pathname.split("/").pop() ?? "";
    assert.equal((await patch(url, 0, pngFile(50_000))).status, 204);
    assert.equal((await appendFiles(id)).length, 1);
    assert.equal((await fetch(url, { method: "DELETE", headers: tus })).status, 204);
    assert.deepEqual(await appendFiles(id), []);
  });
});
