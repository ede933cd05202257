/**
 * The pull feed (`GET /v1/events`, long polling), an upload's server-sent events
 * (`GET /v1/uploads/{id}/events`), the SDK's `waitForUpload`, `listEvents` and `tailEvents`,
 * and `sluice events tail`, against the built server. The snippets in docs/clients.md and
 * docs/events.md are taken from here.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { EventStreamParser, SluiceApiError, SluiceClient, type SluiceEvent, type UploadStatus } from "@sluice/client";
import { spawnCli } from "./helpers/cli.js";
import { HTML, PNG } from "./helpers/fixtures.js";
import { startServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
before(async () => {
  server = await startServer({ SLUICE_CORS_ORIGINS: "http://app.example" });
});
after(() => server?.stop());

/** A key that sees only the uploads under its own prefix: a feed of its own, whatever else the server does. */
async function scopedKey(prefix: string): Promise<string> {
  const res = await server.api("POST", "/v1/keys", { name: prefix, scope: { keyPrefix: prefix } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return (res.body as { key: string }).key;
}

const clientFor = (apiKey: string) => new SluiceClient({ baseUrl: server.url, apiKey });

/** Uploads a file through the SDK and waits for its verdict (polling: these tests are about the feed). */
async function uploadAndSettle(client: SluiceClient, name: string, bytes: typeof PNG, options: { checksum?: boolean } = {}): Promise<UploadStatus> {
  const { id } = await client.upload(new File([bytes], name, { type: "image/png" }), options);
  return client.waitForUpload(id, { transport: "poll", intervalMs: 50, timeoutMs: 15_000 });
}

async function feed(key: string, query: string): Promise<{ status: number; body: { events: SluiceEvent[]; cursor: string; error?: { code: string } } }> {
  const res = await fetch(`${server.url}/v1/events${query}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as { events: SluiceEvent[]; cursor: string } };
}

/** Every message of an upload's stream until the server ends it, read with fetch and the SDK's parser. */
async function readStream(path: string, credential: string, headers: Record<string, string> = {}, onMessage?: (m: { event: string; data: string; id: string | undefined }) => void) {
  const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${credential}`, accept: "text/event-stream", ...headers } });
  const messages: { event: string; data: string; id: string | undefined }[] = [];
  if (res.status !== 200 || !res.body) return { status: res.status, headers: res.headers, messages, body: await res.text() };
  const parser = new EventStreamParser({
    onEvent: (e) => {
      messages.push(e);
      onMessage?.(e);
    },
  });
  const decoder = new TextDecoder();
  let raw = "";
  const reader = res.body.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    const text = decoder.decode(chunk.value, { stream: true });
    raw += text;
    parser.feed(text);
  }
  return { status: res.status, headers: res.headers, messages, body: raw };
}

describe("the pull feed", () => {
  it("gives a key's events in commit order, page by page, with a cursor that stands still when nothing is new", async () => {
    const key = await scopedKey("feed-order/");
    const client = clientFor(key);
    const settled = [await uploadAndSettle(client, "one.png", PNG, { checksum: true }), await uploadAndSettle(client, "two.png", HTML), await uploadAndSettle(client, "three.png", PNG)];
    assert.deepEqual(settled.map((s) => s.state), ["archived", "rejected", "archived"]);

    const seen: SluiceEvent[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await client.listEvents({ limit: 2, ...(cursor && { after: cursor }) });
      assert.ok(page.events.length <= 2);
      seen.push(...page.events);
      if (page.events.length === 0) {
        assert.equal(page.cursor, cursor, "an empty page gives back the same cursor");
        break;
      }
      cursor = page.cursor;
    }
    assert.deepEqual(seen.map((e) => [e.type, e.data.uploadId]), [
      ["upload.archived", settled[0]!.id],
      ["upload.rejected", settled[1]!.id],
      ["upload.archived", settled[2]!.id],
    ]);
    assert.equal(new Set(seen.map((e) => e.id)).size, 3);
    for (const e of seen) {
      assert.match(e.id, /^evt_/);
      assert.equal(e.seq, 1);
      assert.ok(!Number.isNaN(Date.parse(e.timestamp)));
    }
    assert.equal(seen[0]!.data.sha256?.length, 64);
    assert.equal(seen[0]!.data.contentType, "image/png");
    assert.match(seen[1]!.data.reason ?? "", /^type_mismatch: /);

    const rejected = await feed(key, "?types=upload.rejected");
    assert.deepEqual(rejected.body.events.map((e) => e.data.uploadId), [settled[1]!.id]);
  });

  it("answers a long poll as soon as an event is written", async () => {
    const key = await scopedKey("feed-wait/");
    const client = clientFor(key);
    const { cursor } = await client.listEvents();
    const started = Date.now();
    const polled = client.listEvents({ after: cursor, wait: 20 }).then((page) => ({ page, at: Date.now() }));
    await new Promise((r) => setTimeout(r, 300));
    const status = await uploadAndSettle(client, "late.png", PNG);
    const { page, at } = await polled;
    assert.deepEqual(page.events.map((e) => [e.type, e.data.uploadId]), [["upload.archived", status.id]]);
    // Measured, not asserted tightly: the bell wakes the poll in this process at once.
    const committed = Date.parse(page.events[0]!.timestamp);
    console.log(`long poll answered ${at - committed} ms after the event was committed (${at - started} ms after it was sent)`);
    assert.ok(at - started < 15_000, "well before the 20 s wait");
  });

  it("keeps a scoped key to its own files' events; a full key sees them all", async () => {
    const a = clientFor(await scopedKey("tenant-a/"));
    const b = clientFor(await scopedKey("tenant-b/"));
    const ua = await uploadAndSettle(a, "a.png", PNG);
    const ub = await uploadAndSettle(b, "b.png", PNG);
    const ids = async (c: SluiceClient) => (await c.listEvents({ limit: 1000 })).events.map((e) => e.data.uploadId);
    assert.deepEqual(await ids(a), [ua.id]);
    assert.deepEqual(await ids(b), [ub.id]);
    const all = await ids(clientFor(server.key));
    assert.ok(all.includes(ua.id) && all.includes(ub.id));
  });

  it("refuses a cursor it did not give out, an unknown type, and a browser token", async () => {
    const bad = await feed(server.key, "?after=not-a-cursor");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error?.code, "invalid_cursor");
    const type = await feed(server.key, "?types=upload.archived,upload.exploded");
    assert.equal(type.status, 400);
    assert.equal(type.body.error?.code, "invalid_request");
    const { token } = await clientFor(server.key).createToken({});
    const refused = await feed(token, "");
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error?.code, "token_not_allowed");
    await assert.rejects(new SluiceClient({ baseUrl: server.url, token }).listEvents(), (err: unknown) => err instanceof SluiceApiError && err.code === "token_not_allowed");
  });
});

describe("the long poll's wait is clamped", () => {
  let short: TestServer;
  before(async () => {
    // A 3 s idle timeout closes a connection silent for 3 s: the wait is clamped under it.
    short = await startServer({ SLUICE_BODY_IDLE_TIMEOUT: "3" });
  });
  after(() => short?.stop());

  it("reads wait=999 as what the server allows (here 2 s, under its idle timeout), and answers empty", async () => {
    const first = await fetch(`${short.url}/v1/events`, { headers: { authorization: `Bearer ${short.key}` } });
    const { cursor } = (await first.json()) as { cursor: string };
    const started = Date.now();
    const res = await fetch(`${short.url}/v1/events?after=${encodeURIComponent(cursor)}&wait=999`, { headers: { authorization: `Bearer ${short.key}` } });
    const took = Date.now() - started;
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { events: unknown[] }).events, []);
    assert.ok(took >= 1800 && took < 10_000, `answered after ${took} ms`);
  });
});

describe("server-sent events for one upload", () => {
  it("streams the state, then the verdict's event and the state it left, then ends", async () => {
    const client = clientFor(server.key);
    const issued = await client.requestUpload({ filename: "cat.png", contentType: "image/png", size: PNG.byteLength });
    const states: string[] = [];
    let sent = false;
    const stream = readStream(`/v1/uploads/${issued.id}/events`, server.key, {}, (m) => {
      if (m.event === "state") states.push((JSON.parse(m.data) as UploadStatus).state);
      // Once the stream said where the upload stands, send the bytes.
      if (!sent && m.event === "state") {
        sent = true;
        void fetch(issued.upload!.url, { method: issued.upload!.method, headers: issued.upload!.headers, body: PNG });
      }
    });
    const { status, headers, messages } = await stream;
    assert.equal(status, 200);
    assert.match(headers.get("content-type") ?? "", /^text\/event-stream/);
    assert.equal(states[0], "issued");
    const archived = messages.find((m) => m.event === "upload.archived");
    assert.ok(archived, `no upload.archived in ${JSON.stringify(messages)}`);
    assert.match(archived.id ?? "", /^evt_/);
    const payload = JSON.parse(archived.data) as SluiceEvent;
    assert.equal(payload.id, archived.id);
    assert.equal(payload.data.uploadId, issued.id);
    assert.deepEqual(Object.keys(payload), ["type", "timestamp", "id", "seq", "data"], "the webhook payload's shape");
    const last = messages.at(-1)!;
    assert.equal(last.event, "state");
    assert.equal((JSON.parse(last.data) as UploadStatus).state, "archived");
  });

  it("answers a settled upload with its state and ends at once; Last-Event-ID resends only what came after", async () => {
    const client = clientFor(server.key);
    const done = await uploadAndSettle(client, "settled.png", PNG);
    const plain = await readStream(`/v1/uploads/${done.id}/events`, server.key);
    assert.deepEqual(plain.messages.map((m) => m.event), ["state"]);
    assert.match(plain.body, /^retry: \d+$/m, "a reconnect hint");
    const head = await fetch(`${server.url}/v1/uploads/${done.id}/events`, { method: "HEAD", headers: { authorization: `Bearer ${server.key}` } });
    assert.equal(head.status, 200);
    assert.match(head.headers.get("content-type") ?? "", /^text\/event-stream/);

    const all = await readStream(`/v1/uploads/${done.id}/events`, server.key, { "last-event-id": "evt_not_one_of_these" });
    assert.deepEqual(all.messages.map((m) => m.event), ["state", "upload.archived"]);
    const archivedId = all.messages[1]!.id!;

    await client.deleteFile(done.fileId!);
    const resumed = await readStream(`/v1/uploads/${done.id}/events`, server.key, { "last-event-id": archivedId });
    assert.deepEqual(resumed.messages.map((m) => m.event), ["state", "file.deleted"]);
    assert.equal((JSON.parse(resumed.messages[1]!.data) as SluiceEvent).seq, 2);
  });

  it("lets a browser token follow its own uploads only, cross-origin", async () => {
    const sluice = clientFor(server.key);
    const mine = new SluiceClient({ baseUrl: server.url, token: (await sluice.createToken({})).token });
    const { token: other } = await sluice.createToken({});
    const issued = await mine.requestUpload({ filename: "cat.png", contentType: "image/png", size: PNG.byteLength });
    const res = await fetch(`${server.url}/v1/uploads/${issued.id}/events`, { headers: { authorization: `Bearer ${other}` } });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "not_found");

    const { token } = await sluice.createToken({});
    const own = new SluiceClient({ baseUrl: server.url, token });
    const upload = await own.requestUpload({ filename: "cat.png", contentType: "image/png", size: PNG.byteLength });
    // What a browser on the app's origin does: a preflight (Authorization and Last-Event-ID are not simple headers), then the GET.
    const preflight = await fetch(`${server.url}/v1/uploads/${upload.id}/events`, {
      method: "OPTIONS",
      headers: { origin: "http://app.example", "access-control-request-method": "GET", "access-control-request-headers": "authorization,last-event-id" },
    });
    assert.equal(preflight.headers.get("access-control-allow-origin"), "http://app.example");
    assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /last-event-id/);
    const controller = new AbortController();
    const opened = await fetch(`${server.url}/v1/uploads/${upload.id}/events`, { headers: { authorization: `Bearer ${token}`, origin: "http://app.example" }, signal: controller.signal });
    assert.equal(opened.status, 200);
    assert.equal(opened.headers.get("access-control-allow-origin"), "http://app.example");
    const reader = opened.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /^event: state\ndata: \{"id":"upl_[^"]+","state":"issued"/m);
    controller.abort();
  });
});

describe("the SDK", () => {
  /** A fetch that notes what the SDK asked for. */
  function countingFetch(log: string[]): typeof fetch {
    return (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      log.push(`${init?.method ?? "GET"} ${url.pathname}`);
      return fetch(input, init);
    };
  }

  it("waitForUpload follows the upload's server-sent events, without polling", async () => {
    const log: string[] = [];
    const client = new SluiceClient({ baseUrl: server.url, apiKey: server.key, fetch: countingFetch(log) });
    const states: string[] = [];
    const { id } = await client.upload(new File([PNG], "cat.png", { type: "image/png" }));
    const status = await client.waitForUpload(id, { timeoutMs: 15_000, onState: (s) => states.push(s.state) });
    assert.equal(status.state, "archived");
    assert.equal(states.at(-1), "archived");
    assert.deepEqual(log.filter((l) => l.startsWith(`GET /v1/uploads/${id}`)), [`GET /v1/uploads/${id}/events`]);
  });

  it("waitForUpload polls when told to, and when a proxy refuses the stream", async () => {
    const forced: string[] = [];
    const direct = new SluiceClient({ baseUrl: server.url, apiKey: server.key, fetch: countingFetch(forced) });
    const one = await direct.upload(new File([PNG], "cat.png", { type: "image/png" }));
    assert.equal((await direct.waitForUpload(one.id, { transport: "poll", timeoutMs: 15_000 })).state, "archived");
    assert.ok(!forced.some((l) => l.endsWith("/events")));

    // A proxy in front of Sluice that will not carry a stream (some corporate proxies refuse text/event-stream).
    const proxied: string[] = [];
    const proxy = http.createServer((req, res) => {
      proxied.push(`${req.method} ${req.url}`);
      if ((req.headers.accept ?? "").includes("text/event-stream")) {
        res.writeHead(502, { "content-type": "text/html" }).end("<h1>Streaming is not allowed</h1>");
        return;
      }
      const target = new URL(server.url);
      const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(out);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const viaProxy = new SluiceClient({ baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, apiKey: server.key });
      const two = await direct.upload(new File([PNG], "cat.png", { type: "image/png" }));
      const status = await viaProxy.waitForUpload(two.id, { timeoutMs: 15_000 });
      assert.equal(status.state, "archived");
      assert.ok(proxied.includes(`GET /v1/uploads/${two.id}/events`), "it tried the stream first");
      assert.ok(proxied.includes(`GET /v1/uploads/${two.id}`), "then polled");
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it("waitForUpload gives up at its timeout", async () => {
    const client = clientFor(server.key);
    const issued = await client.requestUpload({ filename: "never.png", contentType: "image/png", size: PNG.byteLength });
    const started = Date.now();
    await assert.rejects(client.waitForUpload(issued.id, { timeoutMs: 500 }), (err: unknown) => err instanceof SluiceApiError && err.code === "timeout");
    assert.ok(Date.now() - started < 5000);
  });

  it("tailEvents follows the feed as events are written", async () => {
    const sluice = clientFor(await scopedKey("tail-sdk/"));
    const uploaded = (async () => [await uploadAndSettle(sluice, "a.png", PNG), await uploadAndSettle(sluice, "b.png", HTML)])();
    const controller = new AbortController();
    const seen: string[] = [];
    const cursors: string[] = [];
    try {
      for await (const event of sluice.tailEvents({ wait: 5, signal: controller.signal, onCursor: (c) => cursors.push(c) })) {
        seen.push(`${event.type} ${event.data.uploadId}`);
        if (seen.length === 2) controller.abort();
      }
    } catch (err) {
      if (!(err instanceof SluiceApiError && err.code === "aborted")) throw err;
    }
    const [a, b] = await uploaded;
    assert.deepEqual(seen, [`upload.archived ${a!.id}`, `upload.rejected ${b!.id}`]);
  });
});

describe("sluice events tail", () => {
  it("--json prints each event as it is committed, and the cursor to resume from on Ctrl-C", async () => {
    const key = await scopedKey("tail-cli/");
    const tail = spawnCli(["events", "tail", "--json", "--wait", "5"], { SLUICE_URL: server.url, SLUICE_API_KEY: key });
    const status = await uploadAndSettle(clientFor(key), "cli.png", PNG);
    const deadline = Date.now() + 15_000;
    while (!tail.output().includes(status.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    tail.child.kill("SIGINT");
    const run = await tail.done;
    assert.equal(run.code, 0, run.stderr);
    const events = run.json() as unknown as SluiceEvent[];
    assert.deepEqual(events.map((e) => [e.type, e.data.uploadId]), [["upload.archived", status.id]]);
    assert.match(run.stderr, /resume with --after \S+/);
  });
});
