/**
 * Webhooks with two instances on one PostgreSQL (issue 18): an instance SIGKILLed while it
 * holds leased deliveries loses nothing. 200 uploads archive while the receiver hangs every
 * request (so both instances hold leased deliveries in flight); A is killed; the receiver
 * recovers; B delivers everything, A's leased deliveries once their lease lapses. The receiver
 * verifies every delivery with `standardwebhooks` and dedupes by webhook-id. Also: the feed
 * holds the same events, in the same order per upload, as the webhook delivered them.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createDatabase, startPostgres, type BackendServer } from "./helpers/backends.js";
import { eventually, startServer, type TestServer } from "./helpers/server.js";
import { WebhookReceiver, until, uploadText } from "./helpers/webhook-receiver.js";

const UPLOADS = 200;
const DELETED = 50;

describe("two instances on PostgreSQL, one SIGKILLed while it holds leased deliveries", () => {
  let postgres: BackendServer;
  let databaseUrl: string;
  const servers: TestServer[] = [];
  const receiver = new WebhookReceiver();
  before(async () => {
    postgres = await startPostgres();
    databaseUrl = await createDatabase(postgres, "webhooks_sigkill");
    await receiver.listen();
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await receiver.close();
    await postgres.stop();
  });

  it("every event reaches the receiver at least once, each webhook-id once after dedupe, and in the feed's order per upload", async () => {
    const key = `sk_test_sigkill_${Math.random().toString(36).slice(2)}`;
    const env = {
      SLUICE_API_KEYS: key,
      SLUICE_DATABASE: databaseUrl,
      SLUICE_ALLOWED_TYPES: "text/plain",
      SLUICE_WEBHOOK_ALLOW_PRIVATE: "true",
      SLUICE_WEBHOOK_TIMEOUT: "4", // a lease is 2 × timeout + 5 s = 13 s
      SLUICE_WEBHOOK_BACKOFF: "200",
      SLUICE_WEBHOOK_BACKOFF_MAX: "1000",
      SLUICE_WEBHOOK_PAUSE_FAILURES: "100000",
    };
    const a = await startServer(env);
    servers.push(a);
    const b = await startServer(env);
    servers.push(b);
    const instanceOf = (s: TestServer) => s.logs.find((l) => l.msg === "webhook dispatcher started")?.instanceId as string;
    await until(() => assert.ok(instanceOf(a) && instanceOf(b)), 5000);

    // Every request hangs: deliveries stay leased, in flight, on both instances.
    receiver.answer = () => "hang";
    const created = await a.api("POST", "/v1/webhooks", { url: receiver.url });
    assert.equal(created.status, 201);
    receiver.secrets = [created.body.secret as string];
    const webhookId = created.body.id as string;

    const uploads: string[] = [];
    for (let i = 0; i < UPLOADS; i += 10) uploads.push(...(await Promise.all(Array.from({ length: 10 }, (_, j) => uploadText(a, `file ${i + j}`)))));
    // A second event for some uploads (file.deleted after upload.archived): order per upload matters.
    for (const id of uploads.slice(0, DELETED)) {
      const fileId = (await a.api("GET", `/v1/uploads/${id}`)).body.fileId as string;
      assert.equal((await a.api("DELETE", `/v1/files/${fileId}`)).status, 204);
    }

    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const leasedBy = async (owner: string) =>
        Number((await db.query("select count(*) as n from webhook_deliveries where lease_owner = $1 and lease_until > $2 and state = 'pending'", [owner, Date.now()])).rows[0].n);
      await eventually(async () => {
        assert.ok((await leasedBy(instanceOf(a))) > 0, "A holds leased deliveries");
        assert.ok((await leasedBy(instanceOf(b))) > 0, "B holds leased deliveries");
      }, 20_000);
      const heldByA = await leasedBy(instanceOf(a));
      const sentByBeforeKill = receiver.deliveries.length;
      a.process.kill("SIGKILL");
      await new Promise((resolve) => a.process.once("exit", resolve));
      assert.ok(heldByA > 0 && sentByBeforeKill > 0);

      // The receiver recovers: it answers 200 from now on, and drops what it left hanging.
      receiver.answer = () => 200;
      receiver.dropHanging();

      const eventCount = UPLOADS + DELETED;
      await eventually(async () => {
        const { rows } = await db.query("select state, count(*) as n from webhook_deliveries where webhook_id = $1 group by state", [webhookId]);
        assert.deepEqual(rows.map((r: { state: string; n: string }) => [r.state, Number(r.n)]), [["delivered", eventCount]]);
      }, 90_000);

      // At least once, verified, and each id once after the receiver dedupes.
      const all = receiver.verified();
      const firstOk = new Map<string, (typeof all)[number]>();
      for (const d of all) if (d.answered === 200 && !firstOk.has(d.id)) firstOk.set(d.id, d);
      const unique = new Set(all.map((d) => d.id));
      assert.equal(unique.size, eventCount, "each event's webhook-id, once after dedupe");
      assert.equal(firstOk.size, eventCount, "each answered 200 at least once");
      assert.ok(all.length > eventCount, `some were sent twice (the killed instance's): ${all.length} requests for ${eventCount} events`);
      const byUpload = new Map<string, string[]>();
      for (const d of all) if (d.answered === 200) byUpload.set(d.payload.data.uploadId, [...(byUpload.get(d.payload.data.uploadId) ?? []), d.id]);
      assert.deepEqual(new Set(byUpload.keys()), new Set(uploads));

      // The feed (GET /v1/events on the instance still running): the same events, and per
      // upload in the same order as the webhook delivered them (first 200 of each id).
      const feed: { id: string; data: { uploadId: string } }[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await b.api("GET", `/v1/events?limit=100${cursor ? `&after=${encodeURIComponent(cursor)}` : ""}`);
        assert.equal(page.status, 200);
        const events = page.body.events as { id: string; data: { uploadId: string } }[];
        feed.push(...events);
        cursor = page.body.cursor as string;
        if (events.length < 100) break;
      }
      assert.deepEqual(new Set(feed.map((e) => e.id)), unique);
      for (const id of uploads) {
        const inFeed = feed.filter((e) => e.data.uploadId === id).map((e) => e.id);
        const delivered = [...new Set(byUpload.get(id))];
        assert.deepEqual(delivered, inFeed, `upload ${id}: delivered in the feed's order`);
        assert.equal(inFeed.length, uploads.indexOf(id) < DELETED ? 2 : 1);
      }
    } finally {
      await db.end();
    }
  });
});
