import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { HTML, PNG, sha256, uploadRequest } from "./helpers/fixtures.js";
import { eventually, filesUnder, startServer, waitForFinal, type TestServer } from "./helpers/server.js";

let server: TestServer;
const EVENTS_SECRET = "api-test-events-secret-0123456789";
before(async () => {
  server = await startServer({ SLUICE_ALLOWED_TYPES: "image/*,text/plain,application/octet-stream", SLUICE_MAX_SIZE: "1048576", SLUICE_EVENTS_SECRET: EVENTS_SECRET });
});
after(async () => server.stop());

async function put(url: string, body: Uint8Array | string, headers: Record<string, string>) {
  const res = await fetch(url, { method: "PUT", headers, body: typeof body === "string" ? body : new Uint8Array(body) });
  return { status: res.status, body: (await res.json()) as { error?: { code: string }; state?: string; sha256?: string } };
}

/** What an upload has in staging. */
async function stagingOf(id: string) {
  return (await filesUnder(`${server.dataDir}/objects/staging`)).filter((k) => k.startsWith(`${id}/`));
}

/** Asserts the JSON error shape and status. */
function assertError(res: { status: number; body: unknown }, status: number, code?: string) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  const error = (res.body as { error?: { code?: unknown; message?: unknown } }).error;
  assert.equal(typeof error?.code, "string");
  assert.equal(typeof error?.message, "string");
  assert.ok((error!.message as string).length > 0);
  if (code) assert.equal(error?.code, code);
}

describe("authentication", () => {
  it("refuses a missing key with 401 JSON", async () => {
    const res = await fetch(`${server.url}/v1/uploads`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(uploadRequest(PNG)) });
    assertError({ status: res.status, body: await res.json() }, 401, "unauthorized");
  });
  it("refuses a wrong key with 401 JSON", async () => {
    assertError(await server.api("POST", "/v1/uploads", uploadRequest(PNG), { authorization: "Bearer sk_wrong" }), 401, "unauthorized");
    assertError(await server.api("GET", "/v1/files", undefined, { authorization: "Basic abc" }), 401, "unauthorized");
  });
  it("never writes the key or a signature to the logs", async () => {
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(PNG));
    await put(issued.body.upload.url, PNG, issued.body.upload.headers);
    await waitForFinal(server, issued.body.id);
    const signature = new URL(issued.body.upload.url).searchParams.get("signature")!;
    const logged = JSON.stringify(server.logs);
    assert.ok(server.logs.length > 0);
    assert.ok(!logged.includes(server.key), "the API key was logged");
    assert.ok(!logged.includes(signature), "a URL signature was logged");
  });
});

describe("asking for an upload: bad input", () => {
  const cases: [string, unknown, number, string][] = [
    ["no filename", { contentType: "image/png", size: 3 }, 400, "invalid_request"],
    ["no size", { filename: "a.png", contentType: "image/png" }, 400, "invalid_request"],
    ["a negative size", { filename: "a.png", contentType: "image/png", size: -1 }, 400, "invalid_request"],
    ["a fractional size", { filename: "a.png", contentType: "image/png", size: 1.5 }, 400, "invalid_request"],
    ["an absurd size", { filename: "a.png", contentType: "image/png", size: 1e300 }, 400, "invalid_request"],
    ["a size as a string", { filename: "a.png", contentType: "image/png", size: "12" }, 400, "invalid_request"],
    ["a size over the limit", { filename: "a.png", contentType: "image/png", size: 1048577 }, 413, "too_large"],
    ["a type not allowed", { filename: "a.html", contentType: "text/html", size: 3 }, 415, "type_not_allowed"],
    ["a malformed type", { filename: "a", contentType: "not a type", size: 3 }, 400, "invalid_request"],
    ["a bad sha256", { filename: "a.png", contentType: "image/png", size: 3, sha256: "xyz" }, 400, "invalid_request"],
    ["a filename over 1024 characters", { filename: "a".repeat(1025), contentType: "image/png", size: 3 }, 400, "invalid_request"],
    ["a NUL in the filename", { filename: "a\u0000.png", contentType: "image/png", size: 3 }, 422, "invalid_filename"],
    ["a control character in the filename", { filename: "a\u001b[31m.png", contentType: "image/png", size: 3 }, 422, "invalid_filename"],
    ["too many metadata entries", { ...uploadRequest(PNG), metadata: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"])) }, 400, "invalid_request"],
    ["a metadata value that is not a string", { ...uploadRequest(PNG), metadata: { n: 1 } }, 400, "invalid_request"],
    ["an unknown field", { ...uploadRequest(PNG), owner: "me" }, 400, "invalid_request"],
  ];
  for (const [name, body, status, code] of cases) {
    it(`refuses ${name} with ${status}`, async () => {
      assertError(await server.api("POST", "/v1/uploads", body), status, code);
    });
  }

  it("refuses malformed JSON with 400", async () => {
    assertError(await server.api("POST", "/v1/uploads", "{not json"), 400, "invalid_json");
  });
  it("refuses a body over 64 KiB with 413", async () => {
    assertError(await server.api("POST", "/v1/uploads", { ...uploadRequest(PNG), metadata: { big: "x".repeat(70_000) } }), 413);
  });
  // A chunked JSON body is accepted up to the same limit: test/limits.test.ts "request bodies".

  it("leaves nothing behind when it refuses", async () => {
    const before = (await server.api("GET", "/v1/files?limit=1000")).body.items.length;
    await server.api("POST", "/v1/uploads", { filename: "a.html", contentType: "text/html", size: 3 });
    await server.api("POST", "/v1/uploads", "{not json");
    assert.equal((await server.api("GET", "/v1/files?limit=1000")).body.items.length, before);
    await eventually(async () => assert.deepEqual(await filesUnder(`${server.dataDir}/objects/staging`), []));
  });
});

describe("file names", () => {
  const names = ["../../etc/passwd", "..", "...", "a/b\\c.png", "ünïcødé 😀.png", `${"x".repeat(1000)}.png`, ".hidden", "con.png"];
  for (const filename of names) {
    it(`keeps ${JSON.stringify(filename.slice(0, 40))} as given and stores a safe key`, async () => {
      const issued = await server.api("POST", "/v1/uploads", uploadRequest(PNG, { filename }));
      assert.equal(issued.status, 201, JSON.stringify(issued.body));
      const key: string = issued.body.key;
      const [prefix, name, ...rest] = key.split("/");
      assert.equal(prefix, issued.body.id);
      assert.deepEqual(rest, []);
      assert.match(name!, /^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$/);
      assert.ok(!name!.includes(".."));
      assert.equal((await put(issued.body.upload.url, PNG, issued.body.upload.headers)).status, 200);
      const final = await waitForFinal(server, issued.body.id);
      assert.equal(final.state, "archived");
      const file = await server.api("GET", `/v1/files/${final.fileId}`);
      assert.equal(file.body.filename, filename);
      const download = await server.api("GET", `/v1/files/${final.fileId}/download`);
      const res = await fetch(download.body.url);
      const disposition = res.headers.get("content-disposition")!;
      assert.match(disposition, /^attachment; filename="[A-Za-z0-9._-]+"; filename\*=UTF-8''[A-Za-z0-9%._~!-]+$/);
      assert.equal(decodeURIComponent(disposition.split("''")[1]!), filename.split(/[/\\]/).pop() || "file");
      await res.arrayBuffer();
    });
  }
});

describe("the lifecycle", () => {
  it("issues, uploads, archives, lists and downloads a file byte-identical", async () => {
    const issued = await server.api("POST", "/v1/uploads", { ...uploadRequest(PNG), sha256: sha256(PNG), metadata: { album: "cats" }, expiresIn: 999999 });
    assert.equal(issued.status, 201);
    assert.match(issued.body.id, /^upl_[A-Za-z0-9_-]{22}$/);
    assert.equal(issued.body.state, "issued");
    assert.equal(issued.body.upload.method, "PUT");
    assert.ok(issued.body.upload.url.startsWith(`${server.url}/v1/uploads/${issued.body.id}/content?`));
    const ttl = Date.parse(issued.body.expiresAt) - Date.now();
    assert.ok(ttl > 3500_000 && ttl <= 3600_000, `expiresIn is clamped to the maximum, got ${ttl} ms`);

    const uploaded = await put(issued.body.upload.url, PNG, issued.body.upload.headers);
    assert.equal(uploaded.status, 200);
    assert.equal(uploaded.body.state, "uploaded");
    assert.equal(uploaded.body.sha256, sha256(PNG));

    const final = await waitForFinal(server, issued.body.id);
    assert.equal(final.state, "archived");
    const file = await server.api("GET", `/v1/files/${final.fileId}`);
    assert.equal(file.status, 200);
    assert.deepEqual(
      { ...file.body, createdAt: undefined, archivedAt: undefined },
      {
        id: final.fileId,
        uploadId: issued.body.id,
        filename: "cat.png",
        declaredContentType: "image/png",
        contentType: "image/png",
        size: PNG.byteLength,
        sha256: sha256(PNG),
        state: "archived",
        metadata: { album: "cats" },
        createdAt: undefined,
        archivedAt: undefined,
      },
    );
    await eventually(async () => assert.deepEqual(await stagingOf(issued.body.id), []));
    assert.ok((await filesUnder(`${server.dataDir}/objects/archive`)).includes(issued.body.key));

    const listed = await server.api("GET", "/v1/files?state=archived&limit=1000");
    assert.ok(listed.body.items.some((f: { id: string }) => f.id === final.fileId));

    const download = await server.api("GET", `/v1/files/${final.fileId}/download?expiresIn=999999`);
    assert.equal(download.status, 200, JSON.stringify(download.body));
    const downloadTtl = Date.parse(download.body.expiresAt) - Date.now();
    assert.ok(downloadTtl > 3500_000 && downloadTtl <= 3600_000, `a download's expiresIn is clamped too, got ${downloadTtl} ms`);
    const res = await fetch(download.body.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), PNG);
    // Not one-time: a second fetch works too.
    assert.equal((await fetch(download.body.url)).status, 200);
  });

  it("serves a once=true download URL one time only", async () => {
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(PNG));
    await put(issued.body.upload.url, PNG, issued.body.upload.headers);
    const { fileId } = await waitForFinal(server, issued.body.id);
    const download = await server.api("GET", `/v1/files/${fileId}/download?once=true`);
    const first = await fetch(download.body.url);
    assert.deepEqual(Buffer.from(await first.arrayBuffer()), PNG);
    const second = await fetch(download.body.url);
    assertError({ status: second.status, body: await second.json() }, 410, "already_used");
  });

  it("refuses a download URL with a tampered signature or file id", async () => {
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(PNG));
    await put(issued.body.upload.url, PNG, issued.body.upload.headers);
    const { fileId } = await waitForFinal(server, issued.body.id);
    const { url } = (await server.api("GET", `/v1/files/${fileId}/download`)).body as { url: string };
    const tampered = new URL(url);
    tampered.searchParams.set("expires", String(Number(tampered.searchParams.get("expires")) + 3600));
    const res = await fetch(tampered);
    assertError({ status: res.status, body: await res.json() }, 403, "invalid_signature");
  });

  it("cancels an upload, after which its URL is gone", async () => {
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(PNG));
    const cancelled = await server.api("DELETE", `/v1/uploads/${issued.body.id}`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, "cancelled");
    assert.equal((await server.api("DELETE", `/v1/uploads/${issued.body.id}`)).body.state, "cancelled");
    const res = await put(issued.body.upload.url, PNG, issued.body.upload.headers);
    assertError(res, 410, "cancelled");
  });

  it("answers complete idempotently, and 409 before any bytes arrived", async () => {
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(PNG));
    assertError(await server.api("POST", `/v1/uploads/${issued.body.id}/complete`), 409, "not_uploaded");
    await put(issued.body.upload.url, PNG, issued.body.upload.headers);
    const a = await server.api("POST", `/v1/uploads/${issued.body.id}/complete`);
    const b = await server.api("POST", `/v1/uploads/${issued.body.id}/complete`);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal((await waitForFinal(server, issued.body.id)).state, "archived");
  });

  it("deletes a file", async () => {
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(PNG));
    await put(issued.body.upload.url, PNG, issued.body.upload.headers);
    const { fileId } = await waitForFinal(server, issued.body.id);
    assert.equal((await server.api("DELETE", `/v1/files/${fileId}`)).status, 204);
    assertError(await server.api("GET", `/v1/files/${fileId}`), 404, "not_found");
    assert.ok(!(await filesUnder(`${server.dataDir}/objects/archive`)).includes(issued.body.key));
  });

  it("rejects HTML declared as image/png, and removes it", async () => {
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(HTML, { filename: "cat.png" }));
    assert.equal((await put(issued.body.upload.url, HTML, issued.body.upload.headers)).status, 200);
    const final = await waitForFinal(server, issued.body.id);
    assert.equal(final.state, "rejected");
    assert.match(final.reason!, /^type_mismatch: declared image\/png/);
    await eventually(async () => assert.deepEqual(await stagingOf(issued.body.id), []));
    assert.ok(!(await filesUnder(`${server.dataDir}/objects/archive`)).includes(issued.body.key));
    assertError(await server.api("GET", `/v1/files/${final.fileId}/download`), 409, "not_archived");
  });

  it("rejects HTML declared as text/plain", async () => {
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(HTML, { filename: "notes.txt", contentType: "text/plain" }));
    await put(issued.body.upload.url, HTML, issued.body.upload.headers);
    const final = await waitForFinal(server, issued.body.id);
    assert.equal(final.state, "rejected");
    assert.match(final.reason!, /content is HTML/);
  });

  it("rejects a body whose checksum differs from the promised sha256", async () => {
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(PNG, { sha256: "0".repeat(64) }));
    await put(issued.body.upload.url, PNG, issued.body.upload.headers);
    const final = await waitForFinal(server, issued.body.id);
    assert.equal(final.state, "rejected");
    assert.match(final.reason!, /^checksum_mismatch/);
  });

  it("takes the detected type for application/octet-stream, and checks it against the allow-list", async () => {
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(PNG, { filename: "blob", contentType: "application/octet-stream" }));
    await put(issued.body.upload.url, PNG, issued.body.upload.headers);
    const final = await waitForFinal(server, issued.body.id);
    assert.equal(final.state, "archived");
    assert.equal((await server.api("GET", `/v1/files/${final.fileId}`)).body.contentType, "image/png");
  });

  it("archives a zero-byte file", async () => {
    const issued = await server.api("POST", "/v1/uploads", { filename: "empty.txt", contentType: "text/plain", size: 0 });
    assert.equal((await put(issued.body.upload.url, "", issued.body.upload.headers)).status, 200);
    assert.equal((await waitForFinal(server, issued.body.id)).state, "archived");
  });
});

describe("storage events with keys Sluice could never have issued", () => {
  const TRAVERSAL = "..%2F..%2Fetc%2Fpasswd";
  /** The event Ceph RGW really sent (test/fixtures), with each record's key and bucket replaced. */
  async function rgwEvent(records: { key: string; bucket?: string }[]) {
    const sample = JSON.parse(await fs.readFile(path.join(import.meta.dirname, "fixtures/rgw-event-sample.json"), "utf8")) as { Records: { s3: { bucket: { name: string }; object: { key: string } } }[] };
    const [record] = sample.Records;
    return {
      Records: records.map(({ key, bucket = "staging" }) => {
        const r = structuredClone(record!);
        r.s3.bucket.name = bucket;
        r.s3.object.key = key;
        return r;
      }),
    };
  }
  const send = async (event: unknown) => {
    const res = await fetch(`${server.url}/v1/events/s3`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${EVENTS_SECRET}` }, body: JSON.stringify(event) });
    return { status: res.status, body: (await res.json()) as { results?: { key: string; outcome: string }[]; error?: { code: string; message: string } } };
  };
  const ignoredCount = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return Number(/^sluice_storage_event_records_ignored_total\{reason="invalid_key"\} (\d+)$/m.exec(text)?.[1] ?? 0);
  };

  it("answers an event made only of a traversal-shaped key with 400 invalid_key (not 503), and counts it", async () => {
    const before = await ignoredCount();
    const res = await send(await rgwEvent([{ key: TRAVERSAL }]));
    assertError(res, 400, "invalid_key");
    assert.equal(await ignoredCount(), before + 1);
    for (const key of ["a//b", "./x", "%00x", "a/%5C..", "%E0%A4%A"]) assertError(await send(await rgwEvent([{ key }])), 400, "invalid_key");
  });

  it("skips the bad key in a batch and handles the others: 200, and the good upload is archived", async () => {
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(PNG));
    // The bytes land in staging behind Sluice's back, as a direct upload to storage would.
    const file = path.join(server.dataDir, "objects/staging", issued.body.key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, PNG);
    const res = await send(await rgwEvent([{ key: TRAVERSAL }, { key: issued.body.key }, { key: "x", bucket: "elsewhere" }]));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.results!.map((r) => [r.key, r.outcome]),
      [["../../etc/passwd", "invalid_key"], [issued.body.key, "recorded"], ["x", "ignored"]],
    );
    assert.equal((await waitForFinal(server, issued.body.id)).state, "archived");
    // The same event again, as a sender that retries would send it: still 200, nothing changes.
    assert.equal((await send(await rgwEvent([{ key: TRAVERSAL }, { key: issued.body.key }]))).status, 200);
  });
});

describe("unknown things", () => {
  it("answers an unknown route with 404 JSON", async () => {
    const res = await fetch(`${server.url}/no/such/route`);
    assertError({ status: res.status, body: await res.json() }, 404, "not_found");
  });
  it("answers an unknown upload or file with 404 and a malformed id with 400", async () => {
    assertError(await server.api("GET", "/v1/uploads/upl_AAAAAAAAAAAAAAAAAAAAAA"), 404, "not_found");
    assertError(await server.api("GET", "/v1/files/fil_AAAAAAAAAAAAAAAAAAAAAA"), 404, "not_found");
    assertError(await server.api("GET", "/v1/uploads/../../etc"), 404);
    assertError(await server.api("GET", "/v1/uploads/nope"), 400, "invalid_request");
  });
});

describe("operations", () => {
  it("serves health, readiness, metrics and the OpenAPI document", async () => {
    assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: "ok" });
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: "ready", backends: { "object store": "up", "ticket store": "up", "metadata store": "up" } });
    assert.equal((await fetch(`${server.url}/no/such/route`)).status, 404);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /sluice_http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} [1-9]/);
    for (const name of ["sluice_uploads_issued_total", "sluice_uploads_received_total", "sluice_files_archived_total", "sluice_files_rejected_total", "sluice_http_request_duration_seconds_bucket"]) {
      assert.ok(metrics.includes(name), name);
    }
    assert.match(metrics, /sluice_files_archived_total [1-9]/);
    assert.match(metrics, /sluice_http_request_duration_seconds_count\{method="POST",route="\/v1\/uploads",status="201"\} [1-9]/);
    assert.match(metrics, /sluice_http_request_duration_seconds_count\{method="POST",route="\/v1\/uploads",status="401"\} [1-9]/, "refused keys are counted as 401");
    assert.match(metrics, /sluice_http_request_duration_seconds_count\{method="PUT",route="\/v1\/uploads\/:id\/content",status="200"\} [1-9]/);
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.equal(doc.openapi, "3.1.0");
    const expected: [string, string][] = [
      ["/v1/uploads", "post"],
      ["/v1/uploads/{id}", "get"],
      ["/v1/uploads/{id}", "delete"],
      ["/v1/uploads/{id}/complete", "post"],
      ["/v1/uploads/{id}/content", "put"],
      ["/v1/files", "get"],
      ["/v1/files/{id}", "get"],
      ["/v1/files/{id}", "delete"],
      ["/v1/files/{id}/download", "get"],
      ["/v1/files/{id}/content", "get"],
      ["/healthz", "get"],
      ["/readyz", "get"],
      ["/metrics", "get"],
    ];
    for (const [p, method] of expected) assert.ok(doc.paths[p]?.[method], `${method.toUpperCase()} ${p} is documented`);
  });
});
