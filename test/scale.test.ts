/**
 * Several Sluice instances on shared servers: real Redis, Memcached (two nodes) and
 * PostgreSQL, started here on free loopback ports, and one Ceph RGW. Each instance is a real
 * `npm start` process; they share nothing but those servers.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import type { S3Client } from "@aws-sdk/client-s3";
import { createDatabase, memcachedUrl, startMemcached, startPostgres, startRedis, type BackendServer } from "./helpers/backends.js";
import { PNG, awsS3Event, uploadRequest } from "./helpers/fixtures.js";
import { keysIn, removeBuckets, s3ClientFor, sluiceS3Env, useRgw, type Rgw } from "./helpers/rgw.js";
import { eventually, startServer, waitForFinal, type TestServer } from "./helpers/server.js";

let rgw: Rgw;
let s3: S3Client;
let redis: BackendServer;
let memcached: BackendServer[];
let postgres: BackendServer;
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  rgw = await useRgw();
  s3 = s3ClientFor(rgw);
  [redis, postgres, ...memcached] = await Promise.all([startRedis(), startPostgres(), startMemcached(), startMemcached()]);
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await Promise.all([redis, postgres, ...memcached].map((s) => s?.stop()));
  s3?.destroy();
  await rgw?.stop();
});

interface Cluster {
  a: TestServer;
  b: TestServer;
  staging: string;
  archive: string;
  databaseUrl: string;
  env: Record<string, string>;
}


/** The environment of instances sharing a ticket store, a PostgreSQL database of their own, and buckets of their own on RGW. */
async function clusterEnv(tickets: string, shared: Record<string, string> = {}) {
  const suffix = randomBytes(4).toString("hex");
  const staging = `staging-${suffix}`;
  const archive = `archive-${suffix}`;
  const databaseUrl = await createDatabase(postgres, `sluice_${suffix}`);
  const env = sluiceS3Env(rgw, {
    SLUICE_UPLOAD_MODE: "gateway",
    SLUICE_STAGING_BUCKET: staging,
    SLUICE_ARCHIVE_BUCKET: archive,
    SLUICE_TICKETS: tickets,
    SLUICE_DATABASE: databaseUrl,
    SLUICE_API_KEYS: `sk_scale_${suffix}_0123456789abcdef`,
    SLUICE_RECONCILE_INTERVAL: "1",
    ...shared,
  });
  cleanups.push(() => removeBuckets(s3, [staging, archive]));
  return { staging, archive, databaseUrl, env };
}

async function instance(env: Record<string, string>): Promise<TestServer> {
  const server = await startServer(env);
  cleanups.push(() => server.stop());
  return server;
}

/** Two instances that start at once: they migrate the same database and agree on one signing secret. */
async function startCluster(tickets: string, shared: Record<string, string> = {}): Promise<Cluster> {
  const c = await clusterEnv(tickets, shared);
  const [a, b] = await Promise.all([instance(c.env), instance(c.env)]);
  return { ...c, a, b };
}

/** The same URL on another instance (the signature covers the path and query, not the host). */
const via = (server: TestServer, url: string) => server.url + new URL(url).pathname + new URL(url).search;

async function issue(server: TestServer, body: Buffer = PNG, overrides: Record<string, unknown> = {}) {
  const res = await server.api("POST", "/v1/uploads", uploadRequest(body, overrides));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string; key: string; upload: { method: string; url: string; headers: Record<string, string> } };
}

async function put(url: string, headers: Record<string, string>, body: Buffer): Promise<number> {
  const res = await fetch(url, { method: "PUT", headers, body: new Uint8Array(body) });
  await res.arrayBuffer();
  return res.status;
}

async function rowsFor(databaseUrl: string, id: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM uploads WHERE key LIKE $1", [`%${id}/%`]);
    return Number(rows[0]?.n);
  } finally {
    await client.end();
  }
}

const stores: [string, () => string][] = [
  ["redis", () => redis.url],
  ["memcached (two nodes, consistent hashing)", () => memcachedUrl(memcached)],
  ["postgres", () => postgres.url],
];

describe("two instances sharing each ticket store, PostgreSQL and RGW", () => {
  for (const [name, url] of stores) {
    describe(`tickets in ${name}`, () => {
      let cluster: Cluster;
      before(async () => {
        cluster = await startCluster(url());
      });

      it("lets exactly one of 200 concurrent uses win, spread across both instances: one object, one row", async () => {
        const { a, b } = cluster;
        const issued = await issue(a);
        const statuses = await Promise.all(
          Array.from({ length: 200 }, (_, i) => put(i % 2 ? via(b, issued.upload.url) : issued.upload.url, issued.upload.headers, PNG)),
        );
        const counts = statuses.reduce<Record<number, number>>((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {});
        assert.equal(counts[200], 1, `${name}: ${JSON.stringify(counts)}`);
        assert.ok(statuses.every((s) => s === 200 || s === 409 || s === 410), `${name}: ${JSON.stringify(counts)}`);
        assert.equal((await waitForFinal(b, issued.id)).state, "archived");
        assert.deepEqual((await keysIn(s3, cluster.archive)).filter((k) => k.startsWith(`${issued.id}/`)), [issued.key]);
        await eventually(async () => assert.deepEqual((await keysIn(s3, cluster.staging)).filter((k) => k.startsWith(`${issued.id}/`)), []));
        assert.equal(await rowsFor(cluster.databaseUrl, issued.id), 1);
        assert.equal(await put(via(b, issued.upload.url), issued.upload.headers, PNG), 410);
      });

      it("serves a URL issued by one instance through the other, and both report the same state", async () => {
        const { a, b } = cluster;
        const issued = await issue(b);
        assert.equal((await a.api("GET", `/v1/uploads/${issued.id}`)).body.state, "issued");
        assert.equal(await put(via(a, issued.upload.url), issued.upload.headers, PNG), 200);
        assert.equal((await waitForFinal(b, issued.id)).state, "archived");
        assert.equal((await a.api("GET", `/v1/uploads/${issued.id}`)).body.state, "archived");
      });
    });
  }
});

describe("storage events reaching either instance", () => {
  it("records a direct upload issued by one instance from events sent to the other, once, however often they come", async () => {
    const secret = "events-secret-0123456789abcdef";
    const { a, b, staging, archive, databaseUrl } = await startCluster(postgres.url, { SLUICE_UPLOAD_MODE: "direct", SLUICE_EVENTS_SECRET: secret });
    const issued = await issue(a);
    assert.ok(issued.upload.url.startsWith(rgw.endpoint), "direct: the URL is RGW's");
    assert.equal(await put(issued.upload.url, issued.upload.headers, PNG), 200);
    // The AWS format, as S3 sends it; the key form-encoded.
    const event = awsS3Event(staging, issued.key, PNG.byteLength);
    const send = (server: TestServer) =>
      fetch(`${server.url}/v1/events/s3`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${secret}` }, body: JSON.stringify(event) }).then(async (r) => ({ status: r.status, body: (await r.json()) as { results: { outcome: string }[] } }));
    // Delivered at least once, duplicated, to both instances at once.
    const answers = await Promise.all([send(b), send(b), send(a)]);
    for (const answer of answers) assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal((await waitForFinal(a, issued.id)).state, "archived");
    assert.deepEqual((await keysIn(s3, archive)).filter((k) => k.startsWith(`${issued.id}/`)), [issued.key]);
    assert.equal(await rowsFor(databaseUrl, issued.id), 1);
    const late = await send(b); // a late duplicate, after archiving
    assert.equal(late.status, 200);
    assert.equal((await b.api("GET", `/v1/uploads/${issued.id}`)).body.state, "archived");
  });
});

describe("an instance killed while it holds claims and processing jobs", () => {
  it("leaves every file to the other instance once the leases lapse: none lost, none archived twice", async () => {
    const marks = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-marks-"));
    cleanups.push(() => fs.rm(marks, { recursive: true, force: true }));
    // On instance A this processor announces each file and never returns (A is about to die);
    // on B, without the marks directory, it passes every file.
    const processor = path.join(marks, "hold.mjs");
    await fs.writeFile(
      processor,
      `import fs from "node:fs";
       export default async ({ file }) => {
         const dir = process.env.SLUICE_TEST_MARKS;
         if (!dir) return;
         fs.writeFileSync(dir + "/" + file.id, String(process.pid));
         await new Promise(() => {});
       };`,
    );
    const { env, archive } = await clusterEnv(redis.url, { SLUICE_TICKET_LEASE: "3", SLUICE_PROCESSING_LEASE: "4", SLUICE_PROCESSORS: processor });
    // B starts once A holds every job, so that B's sweep cannot take one first.
    const a = await instance({ ...env, SLUICE_TEST_MARKS: marks });

    // Processing jobs held by A: five files uploaded through A, each stuck in A's processor.
    const processed = await Promise.all(Array.from({ length: 5 }, () => issue(a)));
    for (const u of processed) assert.equal(await put(u.upload.url, u.upload.headers, PNG), 200);
    // A works on as many at once as its queue's concurrency (2 on two cores); the rest wait in
    // A's memory, recorded as uploaded but not leased.
    await eventually(async () => assert.ok((await fs.readdir(marks)).filter((f) => f.startsWith("upl_")).length >= 2), 10_000);
    const heldByA = (await fs.readdir(marks)).filter((f) => f.startsWith("upl_"));
    const b = await instance(env);

    // A claim held by A: an upload that sent half its body and waits.
    const held = await issue(a, Buffer.alloc(64 * 1024, 1), { contentType: "application/octet-stream", filename: "held.bin" });
    const controller = new AbortController();
    const half = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(32 * 1024));
      },
    });
    const pending = fetch(held.upload.url, { method: "PUT", headers: held.upload.headers, body: half, duplex: "half", signal: controller.signal } as RequestInit).catch(() => undefined);
    await eventually(async () => assert.equal((await b.api("GET", `/v1/uploads/${held.id}`)).body.state, "uploading"), 5000);
    assert.equal(await put(via(b, held.upload.url), held.upload.headers, Buffer.alloc(64 * 1024, 1)), 409, "A holds the claim");

    a.process.kill("SIGKILL");
    controller.abort();
    await pending;

    // The claim lapses (3 s): the same URL now works through B.
    await eventually(async () => assert.equal(await put(via(b, held.upload.url), held.upload.headers, Buffer.alloc(64 * 1024, 1)), 200), 15_000);
    // The processing leases lapse (4 s): B's sweep takes every job and finishes it.
    for (const u of [...processed, held]) assert.equal((await waitForFinal(b, u.id, 30_000)).state, "archived", u.id);
    const archived = await keysIn(s3, archive);
    for (const u of [...processed, held]) assert.deepEqual(archived.filter((k) => k.startsWith(`${u.id}/`)), [u.key]);
    // Archived once: B archived each file once, and A (killed inside its processor) none. B
    // writes its log line after the state it reports, and the test reads B's output as it comes.
    let archivedByB: unknown[] = [];
    await eventually(() => {
      archivedByB = b.logs.filter((l) => l.msg === "file archived").map((l) => l.uploadId);
      assert.deepEqual([...archivedByB].sort(), [...processed, held].map((u) => u.id).sort());
      return Promise.resolve();
    }, 5000);
    assert.equal(a.logs.filter((l) => l.msg === "file archived").length, 0);
    for (const id of heldByA) assert.ok(archivedByB.includes(id), `${id}, held by A when it died, archived by B`);
  });
});

describe("a backend that stops and comes back", () => {
  const cases = [
    { backend: "redis", env: () => ({ SLUICE_TICKETS: redis.url }), server: () => redis, names: "ticket store" },
    { backend: "memcached", env: () => ({ SLUICE_TICKETS: memcachedUrl(memcached) }), server: () => memcached[1]!, names: "ticket store" },
    { backend: "postgres", env: () => ({ SLUICE_TICKETS: postgres.url }), server: () => postgres, names: "metadata store" },
  ];
  for (const c of cases) {
    it(`answers 503 while ${c.backend} is down, /readyz names it, and serves again on its own when it returns`, async () => {
      const { a } = await startCluster(c.env().SLUICE_TICKETS);
      await issue(a);
      await c.server().halt();
      try {
        // Issuing (and a gateway upload) must be refused within seconds, never hang or succeed.
        await eventually(async () => {
          const res = await a.api("POST", "/v1/uploads", uploadRequest(PNG));
          assert.equal(res.status, 503, JSON.stringify(res.body));
          assert.equal(res.body.error.code, "backend_unavailable");
        }, 10_000);
        const ready = await a.api("GET", "/readyz");
        assert.equal(ready.status, 503);
        assert.equal(ready.body.backends[c.names], "down", JSON.stringify(ready.body));
        assert.match(ready.body.error.message, new RegExp(c.names));
      } finally {
        await c.server().resume();
      }
      const resumedAt = Date.now();
      await eventually(async () => assert.equal((await a.api("GET", "/readyz")).status, 200), 15_000);
      console.log(`${c.backend}: ready ${Date.now() - resumedAt} ms after it came back`);
      await eventually(async () => {
        await issue(a);
      }, 15_000);
      const issued = await issue(a);
      assert.equal(await put(issued.upload.url, issued.upload.headers, PNG), 200);
      assert.equal((await waitForFinal(a, issued.id)).state, "archived");
    });
  }
});

describe("API keys and rate limits across instances", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster(redis.url, { SLUICE_RATE_LIMIT: "10/min" });
  });

  it("refuses a key revoked on one instance on the other within 5 s", async () => {
    const { a, b } = cluster;
    const created = await a.api("POST", "/v1/keys", { name: "tenant" });
    assert.equal(created.status, 201);
    const key = created.body.key as string;
    const asKey = (server: TestServer) => fetch(`${server.url}/v1/files?limit=1`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);
    assert.equal(await asKey(b), 200); // B has now seen (and cached) the key as good
    assert.equal((await a.api("DELETE", `/v1/keys/${created.body.id}`)).status, 204);
    const revokedAt = Date.now();
    await eventually(async () => assert.equal(await asKey(b), 401), 5000);
    const took = Date.now() - revokedAt;
    assert.ok(took <= 5000, `took ${took} ms`);
    assert.equal(await asKey(a), 401);
  });

  it("counts a key's quotas (open uploads, bytes a day) across both instances", async () => {
    const { a, b } = cluster;
    const created = await a.api("POST", "/v1/keys", { name: "quota", scope: { openTickets: 2, bytesPerDay: 10_000 } });
    const asKey = (server: TestServer, size: number) =>
      fetch(`${server.url}/v1/uploads`, {
        method: "POST",
        headers: { authorization: `Bearer ${created.body.key as string}`, "content-type": "application/json" },
        body: JSON.stringify(uploadRequest(PNG, { size })),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: { code: string } } }));
    assert.equal((await asKey(a, 100)).status, 201);
    assert.equal((await asKey(b, 100)).status, 201);
    const third = await asKey(a, 100);
    assert.deepEqual([third.status, third.body.error?.code], [429, "quota_exceeded"]);
    const second = await b.api("DELETE", `/v1/keys/${created.body.id}`); // tidy: the key is done
    assert.equal(second.status, 204);
    const bytes = await a.api("POST", "/v1/keys", { name: "bytes", scope: { bytesPerDay: 1000 } });
    const spend = (server: TestServer, size: number) =>
      fetch(`${server.url}/v1/uploads`, {
        method: "POST",
        headers: { authorization: `Bearer ${bytes.body.key as string}`, "content-type": "application/json" },
        body: JSON.stringify(uploadRequest(PNG, { size })),
      }).then((r) => r.status);
    assert.deepEqual([await spend(a, 600), await spend(b, 600), await spend(b, 400)], [201, 429, 201]);
  });

  it("counts a burst across both instances in Redis: over the limit is 429 with the time left in Retry-After", async () => {
    const { a, b } = cluster;
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => (i % 2 ? b : a).api("POST", "/v1/uploads", uploadRequest(PNG))),
    );
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 201).length, 10, JSON.stringify(statuses));
    const limited = results.filter((r) => r.status === 429);
    assert.equal(limited.length, 6);
    const elapsed = Math.ceil((Date.now() - started) / 1000);
    for (const r of limited) {
      assert.equal(r.body.error.code, "rate_limited");
      const retryAfter = Number(r.headers.get("retry-after"));
      // The window opened with the first request of the burst: about a minute remains.
      assert.ok(retryAfter >= 60 - elapsed - 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    }
  });
});
