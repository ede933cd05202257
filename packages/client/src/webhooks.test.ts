import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { verifyWebhook, WebhookVerificationError } from "./webhooks.js";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const body = JSON.stringify({ type: "upload.archived", timestamp: "2026-12-01T00:00:00.000Z", id: "evt_1", seq: 1, data: { uploadId: "upl_1", note: "ünïcode ✓" } });

function signed(at: Date, secrets = [secret]) {
  const signature = secrets.map((s) => new Webhook(s).sign("evt_1", at, body)).join(" ");
  return { "webhook-id": "evt_1", "webhook-timestamp": String(Math.floor(at.getTime() / 1000)), "webhook-signature": signature };
}

describe("verifyWebhook agrees with the standardwebhooks package", () => {
  it("accepts what the package signs (as a plain object and as Headers), and returns the payload", async () => {
    const headers = signed(new Date());
    assert.deepEqual(await verifyWebhook(secret, body, headers), JSON.parse(body));
    assert.equal((await verifyWebhook(secret, body, new Headers(headers))).seq, 1);
    // Two signatures (a rotation's overlap): either secret verifies.
    const other = "whsec_" + Buffer.alloc(32, 7).toString("base64");
    const both = signed(new Date(), [other, secret]);
    assert.equal((await verifyWebhook(secret, body, both)).id, "evt_1");
    assert.equal((await verifyWebhook(other, body, both)).id, "evt_1");
  });

  it("refuses a changed body, another secret, a stale timestamp, and missing headers", async () => {
    const headers = signed(new Date());
    await assert.rejects(verifyWebhook(secret, body.replace("upl_1", "upl_2"), headers), WebhookVerificationError);
    await assert.rejects(verifyWebhook("whsec_" + Buffer.alloc(32, 1).toString("base64"), body, headers), WebhookVerificationError);
    await assert.rejects(verifyWebhook(secret, body, signed(new Date(Date.now() - 10 * 60_000))), /too far/);
    await assert.rejects(verifyWebhook(secret, body, { "webhook-id": "evt_1" }), /Missing webhook-timestamp/);
    // What we accept, the package accepts too.
    assert.doesNotThrow(() => new Webhook(secret).verify(body, headers));
  });
});
