/**
 * The issue's "a receiver that is down for a minute, then up", played out in real time: a closed
 * port for 60 s, retries with backoff (1 s, doubling to at most 8 s, full jitter) meanwhile, then
 * a receiver on that port that verifies the delivery with `standardwebhooks`. In a file of its
 * own, so that its minute overlaps other files' tests.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { freePort, startServer, type TestServer } from "./helpers/server.js";
import { WebhookReceiver, until, uploadText } from "./helpers/webhook-receiver.js";

const DOWN_MS = 60_000;

type Attempt = { eventId: string; attempt: number; status: number | null; error: string | null };

describe("a webhook receiver down for a minute", () => {
  let server: TestServer;
  const receiver = new WebhookReceiver();
  before(async () => {
    server = await startServer({
      SLUICE_ALLOWED_TYPES: "text/plain",
      SLUICE_WEBHOOK_ALLOW_PRIVATE: "true",
      SLUICE_WEBHOOK_BACKOFF: "1000",
      SLUICE_WEBHOOK_BACKOFF_MAX: "8000",
    });
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  it("is retried with backoff while down, and delivered once it is up", async () => {
    const port = await freePort(); // closed again: nothing listens there for the next minute
    const created = await server.api("POST", "/v1/webhooks", { url: `http://127.0.0.1:${port}/hook` });
    assert.equal(created.status, 201);
    receiver.secrets = [created.body.secret as string];
    const webhookId = created.body.id as string;
    const uploadId = await uploadText(server, "is anyone there?");
    const downSince = Date.now();

    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    const whileDown = (await server.api("GET", `/v1/webhooks/${webhookId}/deliveries?limit=100`)).body.items as Attempt[];
    // Backoff, not a busy loop: with a ceiling of at most 8 s, a minute holds a handful of attempts.
    assert.ok(whileDown.length >= 4 && whileDown.length <= 40, `${whileDown.length} attempts in ${DOWN_MS / 1000} s`);
    for (const a of whileDown) assert.match(a.error ?? "", /ECONNREFUSED/);
    const webhook = (await server.api("GET", `/v1/webhooks/${webhookId}`)).body as { paused: boolean };
    assert.equal(webhook.paused, false, "a minute down pauses nothing (the defaults pause after hours)");

    await receiver.listen(port);
    const upAt = Date.now();
    await until(() => assert.equal(receiver.deliveries.length, 1), 20_000);
    const [delivery] = receiver.verified();
    assert.equal(delivery!.payload.type, "upload.archived");
    assert.equal(delivery!.payload.data.uploadId, uploadId);
    const log = (await server.api("GET", `/v1/webhooks/${webhookId}/deliveries?limit=100`)).body.items as Attempt[];
    assert.equal(log[0]!.status, 200);
    assert.equal(log.length, whileDown.length + 1);
    console.log(`down ${Math.round((upAt - downSince) / 1000)} s, ${whileDown.length} failed attempts, delivered ${delivery!.at - upAt} ms after the receiver came up`);
  });
});
