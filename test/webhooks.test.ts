/**
 * Webhooks end to end (issue 18): the built Sluice, real uploads, and a real receiver that
 * verifies every delivery with the `standardwebhooks` package. Retries are configured short
 * (100 ms to 400 ms) so that the faults play out in seconds; the faults themselves are real: a
 * receiver that answers 500, one that hangs past the timeout, a closed port.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually, freePort, startServer, type TestServer } from "./helpers/server.js";
import { WebhookReceiver, until, uploadText } from "./helpers/webhook-receiver.js";

const FAST_RETRIES = {
  SLUICE_ALLOWED_TYPES: "text/plain",
  SLUICE_WEBHOOK_ALLOW_PRIVATE: "true",
  SLUICE_WEBHOOK_TIMEOUT: "1",
  SLUICE_WEBHOOK_BACKOFF: "100",
  SLUICE_WEBHOOK_BACKOFF_MAX: "400",
  SLUICE_WEBHOOK_RETRY_FOR: "20",
  SLUICE_WEBHOOK_PAUSE_FAILURES: "20",
  SLUICE_WEBHOOK_PAUSE_AFTER: "1",
};

async function addWebhook(server: TestServer, receiver: WebhookReceiver, body: Record<string, unknown> = {}, key?: string) {
  const res = await server.api("POST", "/v1/webhooks", { url: receiver.url, ...body }, key ? { authorization: `Bearer ${key}` } : {});
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.match(res.body.secret, /^whsec_/);
  receiver.secrets = [res.body.secret as string];
  return res.body as { id: string; secret: string };
}

type Attempt = { eventId: string; attempt: number; status: number | null; latencyMs: number; responseHead: string | null; error: string | null };
async function attempts(server: TestServer, id: string): Promise<Attempt[]> {
  const res = await server.api("GET", `/v1/webhooks/${id}/deliveries`);
  assert.equal(res.status, 200);
  return res.body.items as Attempt[];
}

describe("webhook delivery under faults (receiver verifies every delivery with standardwebhooks)", () => {
  let server: TestServer;
  const receivers: WebhookReceiver[] = [];
  const receiver = async () => {
    const r = new WebhookReceiver();
    receivers.push(r);
    return r.listen();
  };
  before(async () => {
    server = await startServer(FAST_RETRIES);
  });
  after(async () => {
    await server.stop();
    await Promise.all(receivers.map((r) => r.close()));
  });

  it("500 three times, then 200: delivered, with four attempts logged", async () => {
    const r = await receiver();
    r.answer = (n) => (n <= 3 ? 500 : 200);
    const wh = await addWebhook(server, r);
    const uploadId = await uploadText(server, "five hundred, thrice");
    await until(() => assert.equal(r.deliveries.length, 4), 10_000);
    const ds = r.verified();
    assert.equal(new Set(ds.map((d) => d.id)).size, 1, "the same webhook-id each time");
    assert.deepEqual([ds[0]!.payload.type, ds[0]!.payload.data.uploadId, ds[0]!.payload.seq], ["upload.archived", uploadId, 1]);
    assert.equal(ds[0]!.payload.id, ds[0]!.id);
    const log = await attempts(server, wh.id);
    assert.deepEqual(log.map((a) => [a.attempt, a.status]), [[4, 200], [3, 500], [2, 500], [1, 500]]);
    assert.equal(log[0]!.responseHead, "thanks");
    assert.equal(log[1]!.responseHead, "no (500)");
    assert.equal(log[1]!.error, "HTTP 500");
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(r.deliveries.length, 4, "nothing more after the 200");
  });

  it("a receiver that hangs past the timeout: the attempt fails at the timeout, the retry delivers", async () => {
    const r = await receiver();
    r.answer = (n) => (n === 1 ? "hang" : 200);
    const wh = await addWebhook(server, r);
    await uploadText(server, "hang on");
    await until(() => assert.equal(r.deliveries.length, 2), 10_000);
    r.verified();
    const log = await attempts(server, wh.id);
    assert.deepEqual(log.map((a) => [a.attempt, a.status]), [[2, 200], [1, null]]);
    assert.match(log[1]!.error ?? "", /timed out after 1000 ms/);
    assert.ok(log[1]!.latencyMs >= 950 && log[1]!.latencyMs < 3000, String(log[1]!.latencyMs));
  });

  it("a receiver that is down (a closed port) for a while, then up: delivered once it is up", async () => {
    const port = await freePort();
    const r = new WebhookReceiver();
    receivers.push(r);
    // Not listening yet: the URL names a closed port.
    const res = await server.api("POST", "/v1/webhooks", { url: `http://127.0.0.1:${port}/hook` });
    assert.equal(res.status, 201);
    r.secrets = [res.body.secret as string];
    const uploadId = await uploadText(server, "anyone there?");
    const downFor = 2000;
    await new Promise((resolve) => setTimeout(resolve, downFor));
    const failed = await attempts(server, res.body.id as string);
    assert.ok(failed.length >= 2, `retried while down: ${failed.length} attempts`);
    for (const a of failed) assert.match(a.error ?? "", /ECONNREFUSED/);
    await r.listen(port);
    await until(() => assert.equal(r.deliveries.length, 1), 10_000);
    assert.equal(r.verified()[0]!.payload.data.uploadId, uploadId);
    const log = await attempts(server, res.body.id as string);
    assert.equal(log[0]!.status, 200);
    assert.equal(log.length, failed.length + 1);
  });

  it("rotation: during the overlap both secrets sign and either verifies; after it, only the new one", async () => {
    const r = await receiver();
    const wh = await addWebhook(server, r);
    const old = wh.secret;
    const rotated = await server.api("POST", `/v1/webhooks/${wh.id}/rotate`, { overlapSeconds: 3600 });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.notEqual(rotated.body.secret, old);
    assert.ok(rotated.body.previousSecretExpiresAt);
    r.secrets = [rotated.body.secret as string, old];
    await uploadText(server, "rotating");
    await until(() => assert.equal(r.deliveries.length, 1), 10_000);
    const [d] = r.deliveries;
    assert.equal(d!.signatures.length, 2);
    assert.deepEqual(d!.verifiedBy, [0, 1]);
    // The secret is never shown again, nor logged.
    const got = await server.api("GET", `/v1/webhooks/${wh.id}`);
    assert.equal(got.body.secret, undefined);
    const logged = JSON.stringify(server.logs);
    assert.ok(!logged.includes(old.slice(6)) && !logged.includes(String(rotated.body.secret).slice(6)), "a secret was logged");
    // No overlap: only the new secret signs.
    const again = await server.api("POST", `/v1/webhooks/${wh.id}/rotate`, { overlapSeconds: 0 });
    r.secrets = [again.body.secret as string, rotated.body.secret as string];
    await uploadText(server, "rotated again");
    await until(() => assert.equal(r.deliveries.length, 2), 10_000);
    assert.equal(r.deliveries[1]!.signatures.length, 1);
    assert.deepEqual(r.deliveries[1]!.verifiedBy, [0]);
  });

  it("an endpoint that keeps failing is paused (logged at error, shown in GET), and resume sends what waited", async () => {
    const r = await receiver();
    let healthy = false;
    r.answer = () => (healthy ? 200 : 503);
    const wh = await addWebhook(server, r);
    const uploadId = await uploadText(server, "pause me");
    await eventually(async () => {
      const got = await server.api("GET", `/v1/webhooks/${wh.id}`);
      assert.equal(got.body.paused, true);
      assert.match(got.body.pausedReason, /failed attempts in a row/);
    }, 15_000);
    // The log line follows the pause it reports, and is read from the server's output as it comes.
    await until(() => assert.ok(server.logs.some((l) => l.level === 50 && l.webhookId === wh.id && /paused/.test(String(l.msg))), "paused is logged at error"), 3000);
    const seen = r.deliveries.length;
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(r.deliveries.length, seen, "no attempt while paused");
    healthy = true;
    const resumed = await server.api("POST", `/v1/webhooks/${wh.id}/resume`);
    assert.equal(resumed.status, 200);
    assert.equal(resumed.body.paused, false);
    await until(() => assert.equal(r.deliveries.at(-1)?.payload.data.uploadId, uploadId), 10_000);
    await eventually(async () => assert.equal((await attempts(server, wh.id))[0]!.status, 200), 5000);
    r.verified();
  });

  it("redelivery of one event and of a time range sends the same webhook-id again", async () => {
    const r = await receiver();
    const wh = await addWebhook(server, r);
    const since = new Date().toISOString();
    await uploadText(server, "first");
    await uploadText(server, "second");
    await until(() => assert.equal(r.deliveries.length, 2), 10_000);
    const [first, second] = r.verified();
    const one = await server.api("POST", `/v1/webhooks/${wh.id}/redeliver`, { eventId: first!.id });
    assert.deepEqual([one.status, one.body.redelivering], [202, 1]);
    await until(() => assert.equal(r.deliveries.length, 3), 10_000);
    assert.equal(r.deliveries[2]!.id, first!.id);
    const range = await server.api("POST", `/v1/webhooks/${wh.id}/redeliver`, { since, until: new Date(Date.now() + 1000).toISOString() });
    assert.deepEqual([range.status, range.body.redelivering], [202, 2]);
    await until(() => assert.equal(r.deliveries.length, 5), 10_000);
    assert.deepEqual(new Set(r.deliveries.slice(3).map((d) => d.id)), new Set([first!.id, second!.id]));
    assert.equal((await server.api("POST", `/v1/webhooks/${wh.id}/redeliver`, { eventId: "evt_nosuchevent" })).status, 404);
    assert.equal((await server.api("POST", `/v1/webhooks/${wh.id}/redeliver`, { since: "2030-01-01T00:00:00Z", until: "2020-01-01T00:00:00Z" })).status, 400);
    r.verified();
  });

  it("a scoped key's webhooks see only its files; it sees and deletes only its own webhooks; tokens may not use the routes", async () => {
    const scoped = await server.api("POST", "/v1/keys", { name: "tenant-a", scope: { keyPrefix: "tenant-a/" } });
    assert.equal(scoped.status, 201);
    const key = scoped.body.key as string;
    const mine = await receiver();
    const everything = await receiver();
    const tenantHook = await addWebhook(server, mine, {}, key);
    const fullHook = await addWebhook(server, everything);
    const tenantUpload = await uploadText(server, "tenant file", key);
    const otherUpload = await uploadText(server, "someone else's");
    await until(() => assert.equal(everything.deliveries.length, 2), 10_000);
    await until(() => assert.equal(mine.deliveries.length, 1), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(mine.verified().map((d) => d.payload.data.uploadId), [tenantUpload]);
    assert.deepEqual(new Set(everything.verified().map((d) => d.payload.data.uploadId)), new Set([tenantUpload, otherUpload]));
    const asTenant = { authorization: `Bearer ${key}` };
    assert.deepEqual((await server.api("GET", "/v1/webhooks", undefined, asTenant)).body.items.map((w: { id: string }) => w.id), [tenantHook.id]);
    assert.equal((await server.api("GET", `/v1/webhooks/${fullHook.id}`, undefined, asTenant)).status, 404);
    assert.equal((await server.api("DELETE", `/v1/webhooks/${fullHook.id}`, undefined, asTenant)).status, 404);
    assert.equal((await server.api("GET", `/v1/webhooks/${fullHook.id}/deliveries`, undefined, asTenant)).status, 404);
    const token = await server.api("POST", "/v1/tokens", { expiresIn: 60 }, asTenant);
    assert.equal(token.status, 201, JSON.stringify(token.body));
    const byToken = await server.api("GET", "/v1/webhooks", undefined, { authorization: `Bearer ${token.body.token as string}` });
    assert.deepEqual([byToken.status, byToken.body.error.code], [403, "token_not_allowed"]);
    assert.equal((await server.api("DELETE", `/v1/webhooks/${tenantHook.id}`, undefined, asTenant)).status, 204);
    assert.equal((await server.api("GET", `/v1/webhooks/${tenantHook.id}`)).status, 404);
  });

  it("filters by event type, tests an endpoint, and refuses bad input", async () => {
    const r = await receiver();
    const wh = await addWebhook(server, r, { eventTypes: ["file.deleted"] });
    const uploadId = await uploadText(server, "deleted soon");
    const file = await server.api("GET", `/v1/uploads/${uploadId}`);
    assert.equal((await server.api("DELETE", `/v1/files/${file.body.fileId as string}`)).status, 204);
    await until(() => assert.equal(r.deliveries.length, 1), 10_000);
    assert.deepEqual([r.verified()[0]!.payload.type, r.deliveries[0]!.payload.data.uploadId], ["file.deleted", uploadId]);
    const test = await server.api("POST", `/v1/webhooks/${wh.id}/test`);
    assert.deepEqual([test.status, test.body.ok, test.body.status], [200, true, 200]);
    assert.equal(r.deliveries.at(-1)!.payload.type, "webhook.test");
    r.verified();
    for (const body of [{ url: "ftp://example.com/" }, { url: "not a url" }, { url: r.url, eventTypes: ["upload.nope"] }, { url: r.url, extra: 1 }]) {
      assert.equal((await server.api("POST", "/v1/webhooks", body)).status, 400, JSON.stringify(body));
    }
    assert.equal((await server.api("GET", "/v1/webhooks/wh_AAAAAAAAAAAAAAAAAAAAAA")).status, 404);
  });
});

describe("SSRF: with SLUICE_WEBHOOK_ALLOW_PRIVATE off", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ SLUICE_ALLOWED_TYPES: "text/plain" });
  });
  after(async () => server.stop());

  it("refuses URLs that are not http(s) or whose host is loopback, private, link-local, CGNAT, unique-local or metadata", async () => {
    const refused = [
      "http://127.0.0.1/hook",
      "http://localhost:8080/hook",
      "http://[::1]/hook",
      "http://[::ffff:127.0.0.1]/hook",
      "http://10.1.2.3/",
      "http://192.168.0.10/",
      "http://169.254.169.254/latest/meta-data/",
      "http://[fd00:ec2::254]/",
      "http://100.100.100.200/",
      "http://0.0.0.0/",
      "http://[fe80::1]/",
      "https://224.0.0.1/",
      "file:///etc/passwd",
      "gopher://example.com/",
      "http://user:pass@93.184.216.34/",
    ];
    for (const url of refused) {
      const res = await server.api("POST", "/v1/webhooks", { url });
      assert.deepEqual([res.status, res.body.error?.code], [400, "invalid_webhook_url"], url);
    }
    // A public address is accepted (nothing is sent to it here: there are no events).
    const ok = await server.api("POST", "/v1/webhooks", { url: "https://93.184.216.34/hook" });
    assert.equal(ok.status, 201);
    assert.equal((await server.api("DELETE", `/v1/webhooks/${ok.body.id as string}`)).status, 204);
  });
});
