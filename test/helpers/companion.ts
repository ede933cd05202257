/**
 * Uppy Companion's S3 routes, called as `@uppy/aws-s3` 6.x calls them (its `CompanionS3`
 * client: the same paths, query strings, bodies and the answers' fields it reads), against a
 * started Sluice: one suite for the filesystem (gateway) and for RGW (direct).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { describe, it } from "node:test";
import { HTML, PNG } from "./fixtures.js";
import { waitForFinal, type TestServer } from "./server.js";

export const MIB = 1024 * 1024;
/** The limit the suite's servers run with: room for two 5 MiB parts, not three. */
export const LIMIT = 12 * MIB;

/** A PNG of `size` bytes: the signature up front, random after. */
export function png(size: number): Buffer {
  const body = randomBytes(size);
  body.set(PNG, 0);
  return body;
}

/**
 * The credential a browser holds. Until browser tokens land (i17-access), a scoped API key
 * stands in for one; the lead switches this to `POST /v1/tokens` at the merge.
 */
export async function browserCredential(server: TestServer, keyPrefix: string): Promise<string> {
  const res = await server.api("POST", "/v1/keys", { name: `browser ${keyPrefix}`, scope: { keyPrefix } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.key as string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
type Answer = { status: number; body: any; headers: Headers };

/** A Companion client for one endpoint and credential, as Uppy's companionEndpoint and companionHeaders give them. */
export function companion(endpoint: string, headers: Record<string, string>) {
  const call = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const res = await fetch(`${endpoint}/s3${path}`, {
      method,
      headers: { ...headers, ...(body !== undefined && { "content-type": "application/json" }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined, headers: res.headers };
  };
  const q = (key: string) => new URLSearchParams({ key }).toString();
  return {
    params: (filename: string, type: string, metadata: Record<string, string> = {}) =>
      call("GET", `/params?${new URLSearchParams({ filename, type, ...Object.fromEntries(Object.entries(metadata).map(([k, v]) => [`metadata[${k}]`, v])) })}`),
    create: (filename: string, type: string, metadata: Record<string, unknown> = {}) => call("POST", "/multipart", { filename, metadata, type }),
    signPart: (uploadId: string, key: string, partNumber: number) => call("GET", `/multipart/${encodeURIComponent(uploadId)}/${partNumber}?${q(key)}`),
    batch: (uploadId: string, key: string, partNumbers: number[]) => call("GET", `/multipart/${encodeURIComponent(uploadId)}/batch?${q(key)}&partNumbers=${partNumbers.join(",")}`),
    listParts: (uploadId: string, key: string) => call("GET", `/multipart/${encodeURIComponent(uploadId)}?${q(key)}`),
    complete: (uploadId: string, key: string, parts: { PartNumber: number; ETag: string }[]) => call("POST", `/multipart/${encodeURIComponent(uploadId)}/complete?${q(key)}`, { parts }),
    abort: (uploadId: string, key: string) => call("DELETE", `/multipart/${encodeURIComponent(uploadId)}?${q(key)}`),
    sts: () => call("GET", "/sts"),
  };
}

/** What Uppy does with a `/s3/params` answer: a multipart/form-data POST of the fields, then `file`. */
export async function postForm(answer: { url: string; fields: Record<string, string> }, data: Uint8Array, type: string): Promise<Answer> {
  const form = new FormData();
  for (const [k, v] of Object.entries(answer.fields)) form.set(k, v);
  form.set("file", new Blob([new Uint8Array(data)], { type }));
  const res = await fetch(answer.url, { method: "POST", body: form });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* storage answers XML or nothing */
  }
  return { status: res.status, body, headers: res.headers };
}

/**
 * `postForm` for a body the server may refuse before reading it all: sent with node:http, in
 * 64 KiB writes, stopping as soon as an answer arrives (as a browser does; Node's fetch instead
 * fails with EPIPE when the server answers before the body is sent).
 */
export async function postFormUntilAnswered(answer: { url: string; fields: Record<string, string> }, data: Uint8Array, type: string): Promise<{ status: number; body: string }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(answer.fields)) form.set(k, v);
  form.set("file", new Blob([new Uint8Array(data)], { type }));
  const encoded = new Request(answer.url, { method: "POST", body: form });
  const bytes = Buffer.from(await encoded.arrayBuffer());
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(answer.url, { method: "POST", headers: { "content-type": encoded.headers.get("content-type")!, "content-length": String(bytes.length) } });
    const timer = setTimeout(() => {
      answered = true;
      req.destroy();
      reject(new Error("no answer in 30 s"));
    }, 30_000);
    req.on("response", (res) => {
      answered = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: text });
      });
    });
    // Storage may reset the connection instead of answering (RGW does, at times, past a POST
    // policy's length): status 0, the refusal a browser reports as a network error.
    req.on("error", (err) => {
      clearTimeout(timer);
      if (!answered) resolve({ status: 0, body: err.message });
    });
    const write = (at: number) => {
      while (at < bytes.length && !answered) {
        const ok = req.write(bytes.subarray(at, at + 64 * 1024));
        at += 64 * 1024;
        if (!ok) return req.once("drain", () => write(at));
      }
      if (!answered) req.end();
    };
    write(0);
  });
}

/** What Uppy does with a part URL: PUT the bytes, read the ETag header (quotes stripped). */
export async function putPart(url: string, data: Uint8Array): Promise<string> {
  const res = await fetch(url, { method: "PUT", body: new Uint8Array(data) });
  assert.equal(res.status, 200, await res.text());
  const etag = res.headers.get("etag");
  assert.ok(etag, "the part's answer carries an ETag");
  return etag.replace(/^"+|"+$/g, "");
}

/** Upload id of an object key `[prefix]<upload id>/<name>`. */
export const idOfKey = (key: string) => key.split("/").at(-2)!;

export interface CompanionSuite {
  server: () => TestServer;
  /** Direct mode: single uploads go to storage, which reports nothing; the test completes them as the sweep or an S3 event would. */
  direct: boolean;
}

/** The Companion routes, as Uppy uses them, and what Sluice holds them to. */
export function companionSuite({ server, direct }: CompanionSuite) {
  const asKey = () => companion(server().url, { authorization: `Bearer ${server().key}` });

  /** A single file's arrival: the gateway form answers after the verdict; a direct POST is confirmed by complete. */
  async function singleVerdict(answer: { url: string; fields: Record<string, string> }, data: Uint8Array, type: string): Promise<Answer> {
    const posted = await postForm(answer, data, type);
    if (!direct) return posted;
    assert.ok(posted.status >= 200 && posted.status < 300, `storage took the form: ${posted.status} ${JSON.stringify(posted.body)}`);
    return server().api("POST", `/v1/uploads/${idOfKey(answer.fields.key!)}/complete?wait=10`);
  }

  describe("single file (GET /s3/params, then the form)", () => {
    it("issues a POST form whose file is checked, archived, and recorded with its real size", async () => {
      const data = png(70_000);
      const params = await asKey().params("cat.png", "image/png", { album: "holidays" });
      assert.equal(params.status, 200, JSON.stringify(params.body));
      assert.equal(params.body.method, "POST");
      assert.equal(typeof params.body.url, "string");
      assert.equal(typeof params.body.fields.key, "string");
      assert.ok(params.body.expires > 0);
      // Direct mode: a POST policy at storage; gateway mode: Sluice's own form URL.
      assert.equal(new URL(params.body.url as string).origin === new URL(server().url).origin, !direct, params.body.url);
      const answer = await singleVerdict(params.body, data, "image/png");
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const id = idOfKey(params.body.fields.key as string);
      assert.equal((await waitForFinal(server(), id)).state, "archived");
      const file = await server().api("GET", `/v1/files/${id.replace(/^upl_/, "fil_")}`);
      assert.equal(file.body.size, data.length);
      assert.deepEqual(file.body.metadata, { album: "holidays" });
    });

    it("shows a rejected file as failed: 422 file_rejected with the reason", async () => {
      const params = await asKey().params("cat.png", "image/png");
      const answer = await singleVerdict(params.body, HTML, "image/png");
      assert.equal(answer.status, 422, JSON.stringify(answer.body));
      assert.equal(answer.body.error.code, "file_rejected");
      assert.match(answer.body.error.message, /type_mismatch/);
    });

    it("refuses a file over the limit, and keeps nothing", async () => {
      const params = await asKey().params("big.png", "image/png");
      // Far over (told by the Content-Length), and one byte over (told by the file's own length).
      for (const size of [LIMIT + MIB, LIMIT + 1]) {
        const posted = await postFormUntilAnswered(params.body, png(size), "image/png");
        assert.ok(posted.status === 413 || (direct && (posted.status === 400 || posted.status === 0)), `${size}: ${posted.status} ${posted.body}`);
      }
      const id = idOfKey(params.body.fields.key as string);
      const status = await server().api("GET", `/v1/uploads/${id}`);
      assert.equal(status.body.state, "issued");
      if (direct) assert.equal((await server().api("POST", `/v1/uploads/${id}/complete`)).body.error.code, "not_uploaded");
    });
  });

  describe("multipart (POST /s3/multipart, parts signed on demand, complete)", () => {
    it("uploads parts of the client's size, lists them, and completes with the verdict", async () => {
      const data = png(5 * MIB + 300_000);
      const c = asKey();
      const created = await c.create("big.png", "image/png", { name: "big.png", type: "image/png", relativePath: null, album: 7 });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const { uploadId, key } = created.body as { uploadId: string; key: string };
      assert.match(uploadId, /^upl_/);
      assert.equal(typeof created.body.bucket, "string");
      const one = await c.signPart(uploadId, key, 1);
      assert.equal(one.status, 200, JSON.stringify(one.body));
      assert.ok(one.body.expires > 0);
      assert.equal(new URL(one.body.url as string).origin === new URL(server().url).origin, !direct, one.body.url);
      const etag1 = await putPart(one.body.url as string, data.subarray(0, 5 * MIB));
      const batch = await c.batch(uploadId, key, [2]);
      assert.equal(batch.status, 200, JSON.stringify(batch.body));
      const etag2 = await putPart(batch.body.presignedUrls["2"] as string, data.subarray(5 * MIB));
      const listed = await c.listParts(uploadId, key);
      assert.equal(listed.status, 200);
      assert.deepEqual(
        (listed.body as { PartNumber: number; ETag: string; Size: number }[]).map((p) => [p.PartNumber, p.ETag.replace(/"/g, ""), p.Size]),
        [
          [1, etag1, 5 * MIB],
          [2, etag2, 300_000],
        ],
      );
      const done = await c.complete(uploadId, key, [
        { PartNumber: 1, ETag: etag1 },
        { PartNumber: 2, ETag: etag2 },
      ]);
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.key, key);
      assert.equal(typeof done.body.location, "string");
      assert.equal(done.body.state, "archived");
      const file = await server().api("GET", `/v1/files/${uploadId.replace(/^upl_/, "fil_")}`);
      assert.equal(file.body.size, data.length);
      assert.deepEqual(file.body.metadata, { name: "big.png", type: "image/png", album: "7" });
    });

    it("answers 422 file_rejected at complete for a rejected file", async () => {
      const c = asKey();
      const { body } = await c.create("page.png", "image/png");
      const etag = await putPart((await c.signPart(body.uploadId, body.key, 1)).body.url as string, HTML);
      const done = await c.complete(body.uploadId, body.key, [{ PartNumber: 1, ETag: etag }]);
      assert.equal(done.status, 422, JSON.stringify(done.body));
      assert.equal(done.body.error.code, "file_rejected");
      assert.match(done.body.error.message, /type_mismatch/);
    });

    it("checks the real size at complete: parts over the limit are refused with 413", async () => {
      const c = asKey();
      const { body } = await c.create("big.png", "image/png");
      const etags: string[] = [];
      for (const [n, size] of [
        [1, 5 * MIB],
        [2, 5 * MIB],
        [3, 3 * MIB],
      ] as const) {
        etags.push(await putPart((await c.signPart(body.uploadId, body.key, n)).body.url as string, png(size)));
      }
      const done = await c.complete(
        body.uploadId,
        body.key,
        etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })),
      );
      assert.equal(done.status, 413, JSON.stringify(done.body));
      assert.equal(done.body.error.code, "too_large");
      assert.equal((await server().api("GET", `/v1/uploads/${body.uploadId as string}`)).body.state, "issued");
      assert.equal((await c.abort(body.uploadId, body.key)).status, 200);
    });

    it("aborts: DELETE cancels the upload and drops its parts", async () => {
      const c = asKey();
      const { body } = await c.create("cat.png", "image/png");
      await putPart((await c.signPart(body.uploadId, body.key, 1)).body.url as string, png(1000));
      const aborted = await c.abort(body.uploadId, body.key);
      assert.equal(aborted.status, 200);
      assert.deepEqual(aborted.body, {});
      assert.equal((await server().api("GET", `/v1/uploads/${body.uploadId as string}`)).body.state, "cancelled");
      assert.equal((await c.signPart(body.uploadId, body.key, 2)).status, 410);
    });

    it("refuses part numbers outside 1 to 10,000 and a key that is not the upload's", async () => {
      const c = asKey();
      const { body } = await c.create("cat.png", "image/png");
      assert.equal((await c.batch(body.uploadId, body.key, [0])).status, 400);
      assert.equal((await c.signPart(body.uploadId, body.key, 10_001)).status, 400);
      assert.equal((await c.signPart(body.uploadId, body.key, 10_000)).status, 400, "a limit of 12 MiB has room for 3 parts");
      assert.equal((await c.signPart(body.uploadId, `x${body.key as string}`, 1)).status, 404);
      assert.equal((await c.signPart("upl_nonexistent", body.key, 1)).status, 404);
    });
  });

  describe("who may call", () => {
    it("needs a key or token: 401 without one", async () => {
      const res = await companion(server().url, {}).params("cat.png", "image/png");
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, "unauthorized");
    });

    it("holds every call to the caller's key scope: another tenant's upload reads as unknown", async () => {
      const a = companion(server().url, { authorization: `Bearer ${await browserCredential(server(), "tenant-a/")}` });
      const b = companion(server().url, { authorization: `Bearer ${await browserCredential(server(), "tenant-b/")}` });
      const { body } = await a.create("cat.png", "image/png");
      assert.ok((body.key as string).startsWith("tenant-a/"), body.key);
      const etag = await putPart((await a.signPart(body.uploadId, body.key, 1)).body.url as string, png(1000));
      for (const res of [
        await b.signPart(body.uploadId, body.key, 1),
        await b.batch(body.uploadId, body.key, [1]),
        await b.listParts(body.uploadId, body.key),
        await b.complete(body.uploadId, body.key, [{ PartNumber: 1, ETag: etag }]),
        await b.abort(body.uploadId, body.key),
      ]) {
        assert.equal(res.status, 404, JSON.stringify(res.body));
      }
      assert.equal((await a.complete(body.uploadId, body.key, [{ PartNumber: 1, ETag: etag }])).status, 200);
    });

    it("takes a scoped credential in the endpoint's path (for @uppy/aws-s3 6.x, which sends no headers), never a full key", async () => {
      const credential = await browserCredential(server(), "tenant-c/");
      const companionEndpoint = `${server().url}/companion/${credential}`;
      const params = await companion(companionEndpoint, {}).params("cat.png", "image/png");
      assert.equal(params.status, 200, JSON.stringify(params.body));
      assert.ok((params.body.fields.key as string).startsWith("tenant-c/"));
      const full = await companion(`${server().url}/companion/${server().key}`, {}).params("cat.png", "image/png");
      assert.equal(full.status, 401);
      const wrong = await companion(`${server().url}/companion/sk_wrong`, {}).params("cat.png", "image/png");
      assert.equal(wrong.status, 401);
    });

    it("never hands out bucket-wide credentials: /s3/sts is 403", async () => {
      const res = await asKey().sts();
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, "bucket_credentials");
    });
  });
}
