import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { WebhookSecretBox, newWebhookSecret } from "./secrets.js";
import { signatureOf, webhookHeaders } from "./signing.js";

describe("Standard Webhooks signing, checked by the standardwebhooks package", () => {
  it("a secret is whsec_ and the base64 of at least 24 random bytes", () => {
    const secret = newWebhookSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    assert.ok(Buffer.from(secret.slice(6), "base64").length >= 24);
    assert.notEqual(newWebhookSecret(), secret);
  });

  it("Webhook.verify accepts our headers, and rejects a changed body, id or timestamp", () => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({ type: "upload.archived", timestamp: new Date().toISOString(), data: { note: "ünïcode ✓" } });
    const id = "evt_abc";
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = webhookHeaders([secret], { id, timestamp, body });
    assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
    // The package's own signature is the same string.
    assert.equal(new Webhook(secret).sign(id, new Date(timestamp * 1000), body), signatureOf(secret, { id, timestamp, body }));
    assert.throws(() => new Webhook(secret).verify(body + " ", headers));
    assert.throws(() => new Webhook(secret).verify(body, { ...headers, "webhook-id": "evt_other" }));
    assert.throws(() => new Webhook(secret).verify(body, { ...headers, "webhook-timestamp": String(timestamp - 1) }));
    assert.throws(() => new Webhook(newWebhookSecret()).verify(body, headers));
  });

  it("during a rotation both signatures are sent, and either secret verifies", () => {
    const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
    const body = "{}";
    const headers = webhookHeaders([current, previous], { id: "evt_x", timestamp: Math.floor(Date.now() / 1000), body });
    assert.equal(headers["webhook-signature"]?.split(" ").length, 2);
    assert.doesNotThrow(() => new Webhook(current).verify(body, headers));
    assert.doesNotThrow(() => new Webhook(previous).verify(body, headers));
  });

  it("secrets are sealed (AES-GCM) under the URL secret, and open only under it", async () => {
    const box = new WebhookSecretBox("a-url-signing-secret-of-some-length");
    const secret = newWebhookSecret();
    const sealed = await box.seal(secret);
    assert.ok(!sealed.includes(secret.slice(6, 20)));
    assert.notEqual(await box.seal(secret), sealed);
    assert.equal(await box.open(sealed), secret);
    await assert.rejects(new WebhookSecretBox("another-url-signing-secret-000").open(sealed));
  });
});
