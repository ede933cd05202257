/**
 * tus 1.0.0 with the real tus-js-client, as one suite run unchanged against Sluice on the
 * filesystem (`test/tus.test.ts`) and on S3 (`test/s3-tus.test.ts`). Chunks are smaller than a
 * part, so that bytes wait in storage between PATCHes (the pending part).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Upload } from "tus-js-client";
import { HTML, PNG, sha256 } from "./fixtures.js";
import { eventually, waitForFinal, type TestServer } from "./server.js";
import { runTusClient } from "./tus-client.js";

export interface TusTarget {
  server: TestServer;
  /** Where a second instance (same stores) answers, to send alternate PATCHes to; absent if there is one. */
  otherUrl?: string | undefined;
  /** The keys in the staging bucket (S3), to see the pending parts. */
  stagingKeys?: (() => Promise<string[]>) | undefined;
  close(): Promise<void>;
}

/** The server settings the suite needs (its size limit and part size). */
/** The sweep runs every second, so that pending parts are seen to survive it. */
export const TUS_SUITE_ENV = { SLUICE_MAX_SIZE: String(40 * 1024 * 1024), SLUICE_PART_SIZE: String(5 * 1024 * 1024), SLUICE_RECONCILE_INTERVAL: "1" };
const MIB = 1024 * 1024;
const CHUNK = 2 * MIB;

/** A file the sniffer takes for a PNG: the signature, then random bytes. */
export function pngFile(size: number): Buffer {
  const bytes = randomBytes(size);
  bytes.set(PNG, 0);
  return bytes;
}

/** The credential a client sends; the lead switches this to a browser token once tokens land (i17-access). */
export const browserCredential = (server: TestServer) => server.key;

/** Uploads a buffer with tus-js-client in this process; resolves with its URL, or rejects with its error. */
export function tusUpload(endpoint: string, file: Buffer, options: { credential: string; chunkSize?: number; parallelUploads?: number; filetype?: string; uploadUrl?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const upload = new Upload(file, {
      ...(options.uploadUrl ? { uploadUrl: options.uploadUrl } : { endpoint }),
      headers: { authorization: `Bearer ${options.credential}` },
      metadata: { filename: "cat.png", filetype: options.filetype ?? "image/png" },
      ...(options.chunkSize !== undefined && { chunkSize: options.chunkSize }),
      ...(options.parallelUploads !== undefined && { parallelUploads: options.parallelUploads }),
      retryDelays: [0, 200, 500],
      onError: reject,
      onSuccess: () => resolve(upload.url ?? ""),
    });
    upload.start();
  });
}

const idOf = (url: string) => new URL(url).pathname.split("/").pop() ?? "";

/** The archived bytes of an upload, through Sluice's own download. */
async function archivedBytes(server: TestServer, id: string): Promise<Buffer> {
  const final = await waitForFinal(server, id, 30_000);
  assert.equal(final.state, "archived", final.reason);
  const download = await server.api("GET", `/v1/files/${final.fileId}/download`);
  return Buffer.from(await (await fetch(download.body.url)).arrayBuffer());
}

const tusHeaders = { "tus-resumable": "1.0.0" };
const head = (url: string) => fetch(url, { method: "HEAD", headers: tusHeaders });
const patch = (url: string, offset: number, body: Uint8Array, headers: Record<string, string> = {}) =>
  fetch(url, { method: "PATCH", headers: { ...tusHeaders, "content-type": "application/offset+octet-stream", "upload-offset": String(offset), ...headers }, body: new Uint8Array(body) });

async function create(server: TestServer, length: number, extra: Record<string, string> = {}): Promise<Response> {
  const metadata = `filename ${Buffer.from("cat.png").toString("base64")},filetype ${Buffer.from("image/png").toString("base64")}`;
  return fetch(`${server.url}/v1/tus/`, { method: "POST", headers: { ...tusHeaders, authorization: `Bearer ${browserCredential(server)}`, "upload-length": String(length), "upload-metadata": metadata, ...extra } });
}

export function tusSuite(name: string, start: () => Promise<TusTarget>, options: { twoInstances?: boolean } = {}) {
  describe(`tus 1.0.0 with tus-js-client (${name})`, () => {
    let target: TusTarget;
    let server: TestServer;
    let endpoint: string;
    let scratch: string;
    before(async () => {
      target = await start();
      server = target.server;
      endpoint = `${server.url}/v1/tus/`;
      scratch = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-tus-"));
    });
    after(async () => {
      await target?.close();
      if (scratch) await fs.rm(scratch, { recursive: true, force: true });
    });

    it("uploads in chunks smaller than a part; the archived bytes are the file's", async () => {
      const file = pngFile(12 * MIB + 12345);
      const url = await tusUpload(endpoint, file, { credential: browserCredential(server), chunkSize: CHUNK });
      assert.equal(sha256(await archivedBytes(server, idOf(url))), sha256(file));
    });

    it("resumes an upload after its process was killed, from the URL it stored", async () => {
      const file = pngFile(11 * MIB);
      const filePath = path.join(scratch, "resume.png");
      await fs.writeFile(filePath, file);
      const urlStorage = path.join(scratch, "urls.json");
      const options = { endpoint, file: filePath, urlStorage, chunkSize: CHUNK, headers: { authorization: `Bearer ${browserCredential(server)}` }, metadata: { filename: "resume.png", filetype: "image/png" } };

      const first = await runTusClient({ ...options, killAfterChunks: 3 });
      assert.equal(first.signal, "SIGKILL");
      const url = first.events.find((e) => e.event === "url")?.url ?? "";
      const stored = await head(url);
      assert.equal(stored.status, 200);
      assert.equal(stored.headers.get("upload-offset"), String(3 * CHUNK));
      assert.equal(stored.headers.get("upload-length"), String(file.length));
      if (target.stagingKeys) {
        // 6 MiB sent: part 1 is whole (5 MiB); the sixth MiB waits in storage as part 2's pending bytes, past the sweep.
        await new Promise((r) => setTimeout(r, 1500));
        const pending = (await target.stagingKeys()).filter((k) => k.includes(idOf(url)));
        assert.equal(pending.length, 1);
        assert.match(pending[0]!, /\/resume\.png\.tus-part-2$/);
      }

      const second = await runTusClient(options);
      assert.deepEqual(second.events.find((e) => e.event === "resuming"), { event: "resuming", url });
      assert.deepEqual(second.events.at(-1), { event: "success", url });
      // The resumed process sent only what was missing: its first answered chunk ends past the stored offset.
      const firstChunk = second.events.find((e) => e.event === "chunk");
      assert.equal(firstChunk?.event === "chunk" && firstChunk.accepted, 4 * CHUNK);
      assert.equal(sha256(await archivedBytes(server, idOf(url))), sha256(file));
      if (target.stagingKeys) await eventually(async () => assert.deepEqual((await target.stagingKeys!()).filter((k) => k.includes(idOf(url))), []));
    });

    it("uploads with parallelUploads: 3 (concatenation), and a partial serves one final upload only", async () => {
      const file = pngFile(13 * MIB + 7);
      const partials: string[] = [];
      const url = await new Promise<string>((resolve, reject) => {
        const upload = new Upload(file, {
          endpoint,
          parallelUploads: 3,
          chunkSize: CHUNK,
          headers: { authorization: `Bearer ${browserCredential(server)}` },
          metadata: { filename: "cat.png", filetype: "image/png" },
          onBeforeRequest: (req) => {
            const concat = req.getHeader("Upload-Concat");
            if (concat?.startsWith("final;")) partials.push(...concat.slice("final;".length).split(" "));
          },
          onError: reject,
          onSuccess: () => resolve(upload.url ?? ""),
        });
        upload.start();
      });
      assert.equal(partials.length, 3);
      assert.equal(sha256(await archivedBytes(server, idOf(url))), sha256(file));
      const again = await fetch(endpoint, { method: "POST", headers: { ...tusHeaders, authorization: `Bearer ${browserCredential(server)}`, "upload-concat": `final;${partials.join(" ")}` } });
      assert.equal(again.status, 410);
      assert.equal(((await again.json()) as { error: { code: string } }).error.code, "already_used");
    });

    it("refuses a second use of a finished upload", async () => {
      const file = pngFile(3 * MIB);
      const url = await tusUpload(endpoint, file, { credential: browserCredential(server) });
      await archivedBytes(server, idOf(url));
      const again = await patch(url, 0, file);
      assert.equal(again.status, 410);
      assert.equal(((await again.json()) as { error: { code: string } }).error.code, "upload_sealed");
      const atEnd = await patch(url, file.length, Buffer.from("more"));
      assert.equal(atEnd.status, 410);
      // tus-js-client given the finished URL learns that it has all its bytes, and sends none.
      const other = pngFile(3 * MIB);
      assert.equal(await tusUpload(endpoint, other, { credential: browserCredential(server), uploadUrl: url }), url);
      assert.equal(sha256(await archivedBytes(server, idOf(url))), sha256(file));
    });

    it("discards a chunk whose checksum does not match (460), and takes it with the right one", async () => {
      const created = await create(server, 100_000);
      assert.equal(created.status, 201);
      assert.equal(created.headers.get("tus-resumable"), "1.0.0");
      assert.ok(created.headers.get("upload-expires"));
      const url = created.headers.get("location") ?? "";
      const chunk = pngFile(60_000);
      const digest = (algorithm: string, data: Uint8Array) => `${algorithm} ${createHashB64(algorithm, data)}`;
      const wrong = await patch(url, 0, chunk, { "upload-checksum": digest("sha1", Buffer.from("not these bytes")) });
      assert.equal(wrong.status, 460);
      assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, "tus_checksum_mismatch");
      assert.equal((await head(url)).headers.get("upload-offset"), "0");
      const unknown = await patch(url, 0, chunk, { "upload-checksum": "crc32 AAAAAA==" });
      assert.equal(unknown.status, 400);
      assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, "checksum_algorithm_unsupported");
      const right = await patch(url, 0, chunk, { "upload-checksum": digest("sha256", chunk) });
      assert.equal(right.status, 204);
      assert.equal(right.headers.get("upload-offset"), "60000");
      const rest = pngFile(40_000);
      const last = await patch(url, 60_000, rest, { "upload-checksum": digest("md5", rest) });
      assert.equal(last.status, 204);
      assert.equal(sha256(await archivedBytes(server, idOf(url))), sha256(Buffer.concat([chunk, rest])));
    });

    it("lets one of two concurrent PATCHes write; the other gets 409", async () => {
      const created = await create(server, 2 * MIB);
      const url = created.headers.get("location") ?? "";
      const file = pngFile(2 * MIB);
      // The first PATCH sends its headers and a few bytes, and holds the rest back.
      const req = http.request(url, { method: "PATCH", headers: { ...tusHeaders, "content-type": "application/offset+octet-stream", "upload-offset": "0", "content-length": String(file.length) }, agent: false });
      const firstAnswer = new Promise<number>((resolve, reject) => {
        req.on("response", (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
      });
      req.write(file.subarray(0, 1000));
      await new Promise((r) => setTimeout(r, 500));
      const second = await patch(url, 0, file);
      assert.equal(second.status, 409);
      assert.equal(((await second.json()) as { error: { code: string } }).error.code, "upload_in_progress");
      req.end(file.subarray(1000));
      assert.equal(await firstAnswer, 204);
      assert.equal(sha256(await archivedBytes(server, idOf(url))), sha256(file));
    });

    it("refuses an Upload-Length over the limit with 413 before taking any byte", async () => {
      const over = Number(TUS_SUITE_ENV.SLUICE_MAX_SIZE) + 1;
      const refused = await create(server, over, { "content-type": "application/offset+octet-stream" });
      assert.equal(refused.status, 413);
      assert.equal(refused.headers.get("location"), null);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "too_large");
      await assert.rejects(tusUpload(endpoint, Buffer.alloc(over), { credential: browserCredential(server) }), (err: Error & { originalResponse?: { getStatus(): number } }) => {
        assert.equal(err.originalResponse?.getStatus(), 413);
        return true;
      });
    });

    it("tells tus-js-client that a file was rejected, on the PATCH that delivered it (422), and on HEAD after (410)", async () => {
      let url = "";
      await assert.rejects(
        new Promise<void>((resolve, reject) => {
          const upload = new Upload(HTML, {
            endpoint,
            headers: { authorization: `Bearer ${browserCredential(server)}` },
            metadata: { filename: "cat.png", filetype: "image/png" },
            onUploadUrlAvailable: () => (url = upload.url ?? ""),
            onError: reject,
            onSuccess: () => resolve(),
          });
          upload.start();
        }),
        (err: Error & { originalResponse?: { getStatus(): number; getBody(): string } }) => {
          assert.equal(err.originalResponse?.getStatus(), 422);
          const body = JSON.parse(err.originalResponse?.getBody() ?? "{}") as { error: { code: string; message: string } };
          assert.equal(body.error.code, "file_rejected");
          assert.match(body.error.message, /text\/html|image\/png/);
          return true;
        },
      );
      const later = await head(url);
      assert.equal(later.status, 410);
      assert.equal(later.headers.get("sluice-error-code"), "file_rejected");
      assert.equal((await waitForFinal(server, idOf(url))).state, "rejected");
    });

    it("terminates an upload (DELETE), after which its URL is gone", async () => {
      const created = await create(server, 1000);
      const url = created.headers.get("location") ?? "";
      assert.equal((await patch(url, 0, pngFile(400))).status, 204);
      const deleted = await fetch(url, { method: "DELETE", headers: tusHeaders });
      assert.equal(deleted.status, 204);
      assert.equal((await head(url)).status, 410);
      assert.equal((await patch(url, 400, pngFile(600))).status, 410);
    });

    it("answers OPTIONS with what it supports, and 412 for another protocol version", async () => {
      const options = await fetch(endpoint, { method: "OPTIONS" });
      assert.equal(options.status, 204);
      assert.equal(options.headers.get("tus-version"), "1.0.0");
      assert.equal(options.headers.get("tus-max-size"), TUS_SUITE_ENV.SLUICE_MAX_SIZE);
      assert.deepEqual(options.headers.get("tus-checksum-algorithm")?.split(","), ["sha1", "sha256", "md5"]);
      assert.ok(options.headers.get("tus-extension")?.split(",").includes("creation-with-upload"));
      const old = await fetch(endpoint, { method: "POST", headers: { "tus-resumable": "0.2.2", authorization: `Bearer ${browserCredential(server)}`, "upload-length": "10" } });
      assert.equal(old.status, 412);
      assert.equal(old.headers.get("tus-version"), "1.0.0");
    });

    it("gives the app's server a tus URL with POST /v1/uploads method tus, for a client's uploadUrl (no key needed)", async () => {
      const file = pngFile(3 * MIB);
      const issued = await server.api("POST", "/v1/uploads", { filename: "cat.png", contentType: "image/png", size: file.length, method: "tus" });
      assert.equal(issued.status, 201, JSON.stringify(issued.body));
      assert.equal(issued.body.upload.method, "PATCH");
      const url = await tusUpload(endpoint, file, { credential: "no-key-needed", uploadUrl: issued.body.upload.url, chunkSize: CHUNK });
      assert.equal(url, issued.body.upload.url);
      assert.equal(sha256(await archivedBytes(server, issued.body.id)), sha256(file));
    });

    it("honours X-HTTP-Method-Override (overridePatchMethod)", async () => {
      const file = pngFile(MIB);
      const url = await new Promise<string>((resolve, reject) => {
        const upload = new Upload(file, {
          endpoint,
          overridePatchMethod: true,
          headers: { authorization: `Bearer ${browserCredential(server)}` },
          metadata: { filename: "cat.png", filetype: "image/png" },
          onError: reject,
          onSuccess: () => resolve(upload.url ?? ""),
        });
        upload.start();
      });
      assert.equal(sha256(await archivedBytes(server, idOf(url))), sha256(file));
    });

    if (options.twoInstances) {
      it("takes alternate PATCHes on two instances sharing the stores", async () => {
        const created = await create(server, 11 * MIB);
        const url = created.headers.get("location") ?? "";
        const file = pngFile(11 * MIB);
        const other = new URL(url);
        other.host = new URL(target.otherUrl ?? "").host;
        for (let offset = 0, turn = 0; offset < file.length; offset += CHUNK, turn++) {
          const to = turn % 2 === 0 ? url : other.toString();
          const answer = await patch(to, offset, file.subarray(offset, Math.min(offset + CHUNK, file.length)));
          assert.equal(answer.status, 204, await answer.text());
          assert.equal(answer.headers.get("upload-offset"), String(Math.min(offset + CHUNK, file.length)));
        }
        assert.equal(sha256(await archivedBytes(server, idOf(url))), sha256(file));
      });
    }
  });
}

function createHashB64(algorithm: string, data: Uint8Array): string {
  return createHash(algorithm).update(data).digest("base64");
}
