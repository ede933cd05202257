/**
 * The dispatcher on the real assembly (SQLite, the events written by the metadata store's own
 * outbox API) against a real receiver on 127.0.0.1 that verifies every delivery with
 * `standardwebhooks`. Each pass is driven by the test (`dispatchOnce`), with a clock it moves.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { EventData, NewEvent } from "../events/types.js";
import { newId } from "../internal/crypto.js";
import { upload } from "../metadata/metadata-store.conformance.js";
import { makeServices, type Harness } from "../../test/helpers/services.js";
import { WebhookReceiver } from "../../test/helpers/webhook-receiver.js";
import { dispatchOnce, retryDelay } from "./dispatch.js";
import { createWebhook } from "./manage.js";
import type { Principal } from "../domain/principal.js";

const FULL: Principal = { kind: "key", keyId: "key_full" };

function eventOf(r: ReturnType<typeof upload>, type: NewEvent["type"], state: EventData["state"], at: number): NewEvent {
  return {
    type,
    uploadId: r.id,
    createdAt: at,
    data: { uploadId: r.id, key: r.key, filename: r.filename, size: r.size, declaredContentType: r.declaredType, contentType: null, sha256: null, metadata: r.metadata, apiKeyId: null, state },
  };
}

describe("dispatchOnce against a real receiver", () => {
  let h: Harness;
  let clock = Date.now();
  const receiver = new WebhookReceiver();
  before(async () => {
    await receiver.listen();
    h = await makeServices({
      env: { SLUICE_WEBHOOK_ALLOW_PRIVATE: "true", SLUICE_WEBHOOK_TIMEOUT: "1", SLUICE_WEBHOOK_BACKOFF: "1000", SLUICE_WEBHOOK_BACKOFF_MAX: "8000", SLUICE_WEBHOOK_RETRY_FOR: "60", SLUICE_WEBHOOK_PAUSE_FAILURES: "4", SLUICE_WEBHOOK_PAUSE_AFTER: "30" },
    });
    h.services.now = () => clock;
  });
  after(async () => {
    await h.close();
    await receiver.close();
  });

  it("full jitter: each delay is below a ceiling that doubles up to the maximum", () => {
    const cfg = { backoffMs: 1000, backoffMaxMs: 8000 };
    assert.deepEqual([1, 2, 3, 4, 5, 9].map((n) => retryDelay(n, cfg, () => 0.999999)), [999, 1999, 3999, 7999, 7999, 7999]);
    assert.equal(retryDelay(3, cfg, () => 0), 0);
  });

  it("delivers an upload's events in seq order, retries a failure after its backoff, and records every attempt", async () => {
    const s = h.services;
    const { webhook, secret } = await createWebhook(s, FULL, { url: receiver.url });
    receiver.secrets = [secret];
    const r = upload();
    assert.equal(await s.metadata.insertUpload(r, eventOf(r, "upload.archived", "archived", clock)), true);
    assert.equal(await s.metadata.updateUpload(r.id, { deletedAt: clock + 1 }, { notDeleted: true }, eventOf(r, "file.deleted", "deleted", clock + 1)), true);
    receiver.answer = (n) => (n === 1 ? 500 : 200);

    const first = await dispatchOnce(s);
    assert.deepEqual([first.enqueued, first.attempted, first.retrying], [2, 1, 1], "seq 2 waits for seq 1");
    assert.deepEqual((await dispatchOnce(s)).attempted, 0, "seq 1 waits for its backoff, and seq 2 for it");
    clock += 1000;
    const second = await dispatchOnce(s);
    assert.deepEqual([second.attempted, second.delivered], [1, 1]);
    clock += 1;
    const third = await dispatchOnce(s);
    assert.deepEqual([third.attempted, third.delivered], [1, 1]);
    const got = receiver.verified();
    assert.deepEqual(got.map((d) => [d.payload.type, d.payload.seq]), [["upload.archived", 1], ["upload.archived", 1], ["file.deleted", 2]]);
    assert.equal(got[0]!.timestamp, String(Math.floor((clock - 1001) / 1000)));
    const log = await s.webhooks.listAttempts(webhook.id, { limit: 10 });
    assert.deepEqual(log.map((a) => [a.eventId === got[0]!.id ? "archived" : "deleted", a.attempt, a.status]), [["deleted", 1, 200], ["archived", 2, 200], ["archived", 1, 500]]);
    assert.equal((await dispatchOnce(s)).attempted, 0);
    await s.webhooks.deleteWebhook(webhook.id);
  });

  it("pauses an endpoint that keeps failing, then dead after the retry window once resumed and still failing", async () => {
    const s = h.services;
    receiver.deliveries.length = 0;
    receiver.answer = () => 503;
    const { webhook, secret } = await createWebhook(s, FULL, { url: receiver.url });
    receiver.secrets = [secret];
    const r = upload();
    await s.metadata.insertUpload(r, eventOf(r, "upload.archived", "archived", clock));
    let paused = 0;
    for (let i = 0; i < 10 && paused === 0; i++) {
      // Past any backoff (at most 8 s), within the retry window (60 s); paused once 4 have failed and 30 s passed.
      clock += 10_000;
      paused += (await dispatchOnce(s)).paused;
    }
    assert.equal(paused, 1);
    const w = await s.webhooks.getWebhook(webhook.id);
    assert.match(w?.pausedReason ?? "", /^4 failed attempts in a row/);
    clock += 60_000;
    assert.equal((await dispatchOnce(s)).attempted, 0, "paused: nothing sent");
    await s.webhooks.resumeWebhook(webhook.id, { now: clock, giveUpAt: clock + 60_000 });
    const after = await dispatchOnce(s);
    assert.equal(after.attempted, 1);
    clock += 61_000;
    const last = await dispatchOnce(s);
    assert.deepEqual([last.attempted, last.dead], [1, 1]);
    assert.equal((await s.webhooks.getDelivery(webhook.id, receiver.deliveries[0]!.id))?.state, "dead");
    receiver.verified();
    await s.webhooks.deleteWebhook(webhook.id);
  });

  it("a webhook made after an event does not receive it; a scoped key's receives only its prefix's", async () => {
    const s = h.services;
    // Back to the real time: the receiver refuses timestamps 5 minutes away from it.
    clock = Date.now();
    receiver.deliveries.length = 0;
    receiver.answer = () => 200;
    const before = upload();
    await s.metadata.insertUpload(before, eventOf(before, "upload.archived", "archived", clock));
    const scoped: Principal = { kind: "key", keyId: newId("key"), scope: { keyPrefix: "tenant-a/" } };
    const { webhook, secret } = await createWebhook(s, scoped, { url: receiver.url });
    receiver.secrets = [secret];
    const id = newId("upl");
    const mine = upload({ id, key: `tenant-a/${id}/a.txt` });
    const other = upload();
    await s.metadata.insertUpload(mine, eventOf(mine, "upload.archived", "archived", clock));
    await s.metadata.insertUpload(other, eventOf(other, "upload.archived", "archived", clock));
    await dispatchOnce(s);
    assert.deepEqual(receiver.verified().map((d) => d.payload.data.uploadId), [mine.id]);
    await s.webhooks.deleteWebhook(webhook.id);
  });
});
