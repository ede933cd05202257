/**
 * Multipart uploads end to end, on the filesystem (parts through Sluice's gateway) and on a
 * real RGW (presigned UploadPart URLs), driven by the CLI and the SDK as users drive them.
 * A proxy in front of the upload URLs breaks requests the way networks do.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { AbortMultipartUploadCommand, GetObjectCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { SluiceNodeClient } from "@sluice/client/node";
import { runCli, spawnCli } from "./helpers/cli.js";
import { startProxy, type FaultyProxy } from "./helpers/proxy.js";
import { startSluiceOnRgw } from "./helpers/rgw.js";
import { eventually, startServer, waitForFinal, type TestServer } from "./helpers/server.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Small files go in parts too, so that the tests stay small: 5 MiB parts above 1 MiB. */
const MULTIPART_ENV = { SLUICE_MULTIPART_THRESHOLD: String(MiB), SLUICE_PART_SIZE: String(5 * MiB), SLUICE_RECONCILE_INTERVAL: "1" };

interface Setup {
  server: TestServer;
  proxy: FaultyProxy;
  /** Storage's open multipart uploads in staging (their upload ids). */
  openUploads(): Promise<string[]>;
  /** SHA-256 of the archived object. */
  archivedSha256(key: string): Promise<string>;
  close(): Promise<void>;
}

/** Which part a request through the proxy carries: gateway paths end in /parts/N, S3 queries say partNumber=N. */
const partOf = (p: string) => Number(/\/parts\/(\d+)\?/.exec(p)?.[1] ?? /[?&]partNumber=(\d+)/.exec(p)?.[1] ?? NaN);
const partPuts = (proxy: FaultyProxy, from = 0) => proxy.seen.slice(from).filter((s) => s.method === "PUT" && !Number.isNaN(partOf(s.path)));

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MiB })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

const backends: Record<string, (env: Record<string, string>) => Promise<Setup>> = {
  "the filesystem, through the gateway": async (env) => {
    const proxy = await startProxy();
    const server = await startServer({ ...MULTIPART_ENV, SLUICE_PUBLIC_URL: proxy.url, ...env });
    proxy.target = server.url;
    const dir = path.join(server.dataDir, "objects/.multipart");
    return {
      server,
      proxy,
      openUploads: async () => (await fs.readdir(dir).catch(() => [])).sort(),
      archivedSha256: (key) => sha256File(path.join(server.dataDir, "objects/archive", key)),
      async close() {
        await server.stop();
        await proxy.close();
      },
    };
  },
  "S3 (RGW), direct to storage": async (env) => {
    const proxy = await startProxy();
    // Part URLs point at the proxy, which passes them on to RGW with their Host header intact.
    const s = await startSluiceOnRgw((rgw) => {
      proxy.target = rgw.endpoint;
      return { ...MULTIPART_ENV, AWS_ENDPOINT_URL_S3: proxy.url, ...env };
    });
    return {
      server: s.server,
      proxy,
      openUploads: async () => ((await s.s3.send(new ListMultipartUploadsCommand({ Bucket: s.staging }))).Uploads ?? []).map((u) => u.UploadId ?? "").sort(),
      archivedSha256: async (key) => {
        const body = (await s.s3.send(new GetObjectCommand({ Bucket: s.archive, Key: key }))).Body;
        const hash = createHash("sha256");
        for await (const chunk of body as AsyncIterable<Uint8Array>) hash.update(chunk);
        return hash.digest("hex");
      },
      async close() {
        for (const u of (await s.s3.send(new ListMultipartUploadsCommand({ Bucket: s.staging }))).Uploads ?? []) {
          await s.s3.send(new AbortMultipartUploadCommand({ Bucket: s.staging, Key: u.Key, UploadId: u.UploadId }));
        }
        await s.close();
        await proxy.close();
      },
    };
  },
};

for (const [name, open] of Object.entries(backends)) {
  describe(`multipart uploads on ${name}`, () => {
    let setup: Setup;
    let server: TestServer;
    let proxy: FaultyProxy;
    let tmp: string;
    let cliEnv: Record<string, string>;
    let client: SluiceNodeClient;
    before(async () => {
      setup = await open({});
      ({ server, proxy } = setup);
      tmp = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-mp-"));
      cliEnv = { SLUICE_URL: server.url, SLUICE_API_KEY: server.key };
      client = new SluiceNodeClient({ baseUrl: server.url, apiKey: server.key });
    });
    after(async () => {
      await setup.close();
      await fs.rm(tmp, { recursive: true, force: true });
    });

    async function randomFile(name: string, size: number): Promise<{ file: string; sha: string }> {
      const data = randomBytes(size);
      const file = path.join(tmp, name);
      await fs.writeFile(file, data);
      return { file, sha: sha256(data) };
    }

    it("uploads a 2 GiB file with the CLI in parallel parts, and archives it byte for byte", async () => {
      // A sparse file with random bytes at its start, middle and end: 2 GiB without 2 GiB of disk.
      const file = path.join(tmp, "big.bin");
      const handle = await fs.open(file, "w");
      await handle.truncate(2 * GiB + 12345);
      for (const at of [0, GiB, 2 * GiB + 12345 - MiB]) await handle.write(randomBytes(MiB), 0, MiB, at);
      await handle.close();
      const expected = await sha256File(file);
      const run = await runCli(["upload", file, "--json", "--concurrency", "4", "--part-size", String(16 * MiB)], cliEnv);
      assert.equal(run.code, 0, run.stderr + run.stdout);
      const [issued, result] = run.json();
      assert.equal(issued?.event, "issued");
      assert.deepEqual(issued?.multipart, { partSize: 16 * MiB, partCount: 129 });
      assert.equal(result?.state, "archived", run.stdout);
      const file_ = await client.getFile(String(result.fileId));
      assert.equal(file_.size, 2 * GiB + 12345);
      assert.equal(await setup.archivedSha256(`${String(result.id)}/big.bin`), expected);
      assert.deepEqual(await setup.openUploads(), []);
      await client.deleteFile(String(result.fileId)); // frees the in-memory OSD for the tests after
      await fs.rm(file);
    });

    describe("the seeds' one-time scenarios, from the CLI", () => {
      it("a normal upload succeeds", async () => {
        const { file, sha } = await randomFile("normal.bin", 1000);
        const run = await runCli(["upload", file, "--json"], cliEnv);
        assert.equal(run.code, 0, run.stderr);
        const result = run.json().at(-1)!;
        assert.equal(result.state, "archived");
        assert.equal(await setup.archivedSha256(`${String(result.id)}/normal.bin`), sha);
      });

      it("the same URL used twice, then three times: only the first is archived", async () => {
        const { file, sha } = await randomFile("once.bin", 1000);
        const issued = (await runCli(["url", file, "--json"], cliEnv)).json()[0] as { id: string; key: string; upload: { method: string; url: string; headers: Record<string, string> } };
        const send = (body: Uint8Array) => fetch(issued.upload.url, { method: "PUT", headers: issued.upload.headers, body: new Blob([body as BlobPart]) });
        assert.equal((await send(await fs.readFile(file))).status, 200);
        assert.equal((await waitForFinal(server, issued.id)).state, "archived");
        const second = await send(randomBytes(1000));
        const third = await send(randomBytes(1000));
        // The gateway says 410; storage accepts the bytes into an empty staging key, and Sluice removes them.
        for (const r of [second, third]) assert.ok([200, 410, 412].includes(r.status), String(r.status));
        await eventually(async () => {
          const status = await runCli(["status", issued.id, "--json"], cliEnv);
          assert.equal((status.json()[0] as { state: string }).state, "archived");
          assert.equal(await setup.archivedSha256(issued.key), sha);
        }, 10_000);
        const files = (await runCli(["files", "ls", "--json", "--limit", "1000"], cliEnv)).json().filter((f) => f.uploadId === issued.id);
        assert.equal(files.length, 1);
      });

      it("an upload that waits past its expiry is refused", async () => {
        const { file } = await randomFile("late.bin", 1000);
        const issued = (await runCli(["url", file, "--json", "--expires-in", "1"], cliEnv)).json()[0] as { id: string; upload: { url: string; headers: Record<string, string> } };
        await new Promise((r) => setTimeout(r, 2100));
        const late = await fetch(issued.upload.url, { method: "PUT", headers: issued.upload.headers, body: await fs.readFile(file) });
        assert.ok([403, 410].includes(late.status), String(late.status)); // 410 from Sluice, 403 from S3
        const status = await runCli(["status", issued.id, "--json"], cliEnv);
        assert.equal((status.json()[0] as { state: string }).state, "expired");
      });
    });

    it("sends a part again, and only that part, when the network drops it mid-way", async () => {
      const { file, sha } = await randomFile("dropped.bin", 12 * MiB);
      const from = proxy.seen.length;
      let dropped = false;
      proxy.fault = (req) => {
        if (req.method === "PUT" && partOf(req.url ?? "") === 2 && !dropped) {
          dropped = true;
          return { dropAfterBytes: MiB };
        }
        return undefined;
      };
      try {
        const result = await client.upload(file, { concurrency: 2 });
        assert.equal((await waitForFinal(server, result.id)).state, "archived");
        assert.equal(await setup.archivedSha256(result.key), sha);
      } finally {
        proxy.fault = () => undefined;
      }
      const puts = partPuts(proxy, from).map((s) => `${partOf(s.path)}:${s.status}`).sort();
      assert.deepEqual(puts, ["1:200", "2:200", "2:dropped", "3:200"]);
    });

    it("finishes with --resume after the CLI is killed half-way, sending only the missing parts", async () => {
      const { file, sha } = await randomFile("killed.bin", 50 * MiB); // 10 parts
      proxy.fault = (req) => (req.method === "PUT" && !Number.isNaN(partOf(req.url ?? "")) ? { delayMs: 300 } : undefined);
      let id = "";
      try {
        const first = spawnCli(["upload", file, "--json", "--concurrency", "1"], cliEnv);
        // Wait until storage holds half the parts, then kill the CLI outright.
        await eventually(async () => {
          const match = /"id":"(upl_[^"]+)"/.exec(first.output());
          assert.ok(match, "no upload id printed yet");
          id = match[1]!;
          const stored = await server.api("GET", `/v1/uploads/${id}/parts`);
          assert.ok(stored.body.parts.length >= 5, `${stored.body.parts?.length} parts stored`);
        }, 30_000);
        first.child.kill("SIGKILL");
        await first.done;
      } finally {
        proxy.fault = () => undefined;
      }
      // A part the proxy was already passing on may still land: let it, so that the listing
      // below is what the resumed client will find.
      await new Promise((r) => setTimeout(r, 1500));
      const stored = (await server.api("GET", `/v1/uploads/${id}/parts`)).body.parts as { partNumber: number }[];
      assert.ok(stored.length >= 5 && stored.length < 10, `${stored.length} parts stored at the kill`);
      const from = proxy.seen.length;
      const resumed = await runCli(["upload", file, "--resume", id, "--json"], cliEnv);
      assert.equal(resumed.code, 0, resumed.stderr + resumed.stdout);
      assert.equal(resumed.json().at(-1)?.state, "archived");
      const sent = partPuts(proxy, from).map((s) => partOf(s.path)).sort((a, b) => a - b);
      const missing = Array.from({ length: 10 }, (_, i) => i + 1).filter((n) => !stored.some((p) => p.partNumber === n));
      assert.deepEqual(sent, missing);
      assert.equal(await setup.archivedSha256(`${id}/killed.bin`), sha);
    });

    it("completes once when complete is called twice at the same time: one object, one archive, one record", async () => {
      const data = randomBytes(7 * MiB);
      const issued = await client.requestUpload({ filename: "twice.bin", contentType: "application/octet-stream", size: data.byteLength });
      assert.deepEqual(issued.multipart, { partSize: 5 * MiB, partCount: 2 });
      const urls = await client.partUrls(issued.id, [1, 2]);
      const parts = [];
      for (const u of urls) {
        const r = await fetch(u.url, { method: "PUT", headers: u.headers, body: data.subarray((u.partNumber - 1) * 5 * MiB, u.partNumber * 5 * MiB) });
        assert.equal(r.status, 200);
        parts.push({ partNumber: u.partNumber, etag: r.headers.get("etag")! });
      }
      const [a, b] = await Promise.all([server.api("POST", `/v1/uploads/${issued.id}/complete`, { parts }), server.api("POST", `/v1/uploads/${issued.id}/complete`, { parts })]);
      assert.deepEqual([a.status, b.status], [200, 200], JSON.stringify([a.body, b.body]));
      assert.equal((await waitForFinal(server, issued.id)).state, "archived");
      assert.equal(await setup.archivedSha256(issued.key), sha256(data));
      const rows = (await server.api("GET", "/v1/files?limit=1000")).body.items.filter((f: { uploadId: string }) => f.uploadId === issued.id);
      assert.equal(rows.length, 1);
      const again = await server.api("POST", `/v1/uploads/${issued.id}/complete`, { parts });
      assert.equal(again.status, 200);
      assert.equal(again.body.fileId, rows[0].id);
    });

    it("refuses a wrong ETag, a missing part and parts out of order with 400, and can still be completed", async () => {
      const data = randomBytes(11 * MiB);
      const issued = await client.requestUpload({ filename: "mended.bin", contentType: "application/octet-stream", size: data.byteLength });
      const parts: { partNumber: number; etag: string }[] = [];
      for (const u of await client.partUrls(issued.id, [1, 2, 3])) {
        const r = await fetch(u.url, { method: "PUT", headers: u.headers, body: data.subarray((u.partNumber - 1) * 5 * MiB, Math.min(u.partNumber * 5 * MiB, data.byteLength)) });
        parts.push({ partNumber: u.partNumber, etag: r.headers.get("etag")! });
      }
      const complete = (body: unknown) => server.api("POST", `/v1/uploads/${issued.id}/complete`, body);
      const wrongEtag = await complete({ parts: [parts[0], { partNumber: 2, etag: '"0123456789abcdef0123456789abcdef"' }, parts[2]] });
      assert.equal(wrongEtag.status, 400);
      assert.match(wrongEtag.body.error.message, /Part 2's ETag/);
      const missing = await complete({ parts: [parts[0], parts[2]] });
      assert.equal(missing.status, 400);
      assert.match(missing.body.error.message, /Part 2 is missing/);
      const disorder = await complete({ parts: [parts[1], parts[0], parts[2]] });
      assert.equal(disorder.status, 400);
      assert.match(disorder.body.error.message, /ascending order/);
      assert.equal((await server.api("GET", `/v1/uploads/${issued.id}`)).body.state, "issued");
      const good = await complete({ parts });
      assert.equal(good.status, 200, JSON.stringify(good.body));
      assert.equal((await waitForFinal(server, issued.id)).state, "archived");
      assert.equal(await setup.archivedSha256(issued.key), sha256(data));
    });

    it("rejects the file when the SHA-256 given with complete does not match the parts", async () => {
      const data = randomBytes(6 * MiB);
      const issued = await client.requestUpload({ filename: "mismatch.bin", contentType: "application/octet-stream", size: data.byteLength });
      const parts: { partNumber: number; etag: string }[] = [];
      for (const u of await client.partUrls(issued.id, [1, 2])) {
        const r = await fetch(u.url, { method: "PUT", headers: u.headers, body: data.subarray((u.partNumber - 1) * 5 * MiB, Math.min(u.partNumber * 5 * MiB, data.byteLength)) });
        parts.push({ partNumber: u.partNumber, etag: r.headers.get("etag")! });
      }
      const done = await server.api("POST", `/v1/uploads/${issued.id}/complete`, { parts, sha256: sha256(randomBytes(8)) });
      assert.equal(done.status, 200);
      const final = await waitForFinal(server, issued.id);
      assert.equal(final.state, "rejected");
      assert.match(final.reason ?? "", /sha-?256/i);
    });

    it("aborts the upload in storage when it is cancelled, and refuses its parts after", async () => {
      const issued = await client.requestUpload({ filename: "cancelled.bin", contentType: "application/octet-stream", size: 6 * MiB });
      const [url] = await client.partUrls(issued.id, [1]);
      assert.equal((await fetch(url!.url, { method: "PUT", headers: url!.headers, body: randomBytes(5 * MiB) })).status, 200);
      const before = (await setup.openUploads()).length;
      assert.ok(before >= 1);
      assert.equal((await client.cancelUpload(issued.id)).state, "cancelled");
      assert.equal((await setup.openUploads()).length, before - 1);
      assert.equal((await server.api("POST", `/v1/uploads/${issued.id}/parts`, { partNumbers: [2] })).status, 410);
      // Sluice answers before reading a byte of the body (and closes the connection), so only
      // the headers are sent; storage reads the body first, and says NoSuchUpload (404).
      const late = await answerTo(url!.url, url!.headers, 5 * MiB, name.startsWith("S3") ? randomBytes(5 * MiB) : undefined);
      assert.ok([404, 410].includes(late), String(late));
    });

    it("aborts an abandoned multipart upload once its ticket expires, leaving no parts", async () => {
      const issued = await client.requestUpload({ filename: "abandoned.bin", contentType: "application/octet-stream", size: 6 * MiB, expiresIn: 2 });
      const [url] = await client.partUrls(issued.id, [1]);
      assert.equal((await fetch(url!.url, { method: "PUT", headers: url!.headers, body: randomBytes(5 * MiB) })).status, 200);
      assert.equal((await setup.openUploads()).length, 1);
      // The sweep runs every second here; the ticket expires after 2.
      await eventually(async () => assert.deepEqual(await setup.openUploads(), []), 15_000);
      const late = await server.api("GET", `/v1/uploads/${issued.id}/parts`);
      assert.equal(late.status, 410);
    });
  });

  describe(`part URLs that expire on the way, on ${name}`, () => {
    let setup: Setup;
    before(async () => {
      setup = await open({ SLUICE_URL_TTL: "2" });
    });
    after(async () => setup.close());

    it("are signed again, and the upload carries on", async () => {
      const { server, proxy } = setup;
      const client = new SluiceNodeClient({ baseUrl: server.url, apiKey: server.key });
      const data = randomBytes(6 * MiB);
      let held = false;
      proxy.fault = (req) => {
        if (req.method === "PUT" && partOf(req.url ?? "") === 1 && !held) {
          held = true;
          return { delayMs: 3000 }; // longer than the URL lives
        }
        return undefined;
      };
      const from = proxy.seen.length;
      const result = await client.upload({ name: "slow.bin", type: "application/octet-stream", data }, { concurrency: 1 });
      assert.equal((await waitForFinal(server, result.id)).state, "archived");
      assert.equal(await setup.archivedSha256(result.key), sha256(data));
      const first = partPuts(proxy, from).filter((s) => partOf(s.path) === 1).map((s) => s.status);
      assert.equal(first.length, 2);
      // Refused by the server (403 at storage, 410 at the gateway), or given up by the client
      // first when the machine is slow; either way the part went again on a fresh URL.
      assert.ok([403, 410, "dropped"].includes(first[0] as number | string), `the late request was answered ${String(first[0])}`);
      assert.equal(first[1], 200);
    });
  });
}

/** The status a PUT gets: with `body`, sent whole; without, the headers alone (the server must answer before the body). */
function answerTo(url: string, headers: Record<string, string>, length: number, body?: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "PUT", headers: { ...headers, "content-length": String(length) } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on("error", reject);
    if (body) req.end(body);
    else req.flushHeaders();
  });
}
