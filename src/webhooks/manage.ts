import type { Principal } from "../domain/principal.js";
import type { Services } from "../domain/services.js";
import { badRequest, notFound } from "../errors.js";
import type { EventType } from "../events/types.js";
import { newId } from "../internal/crypto.js";
import { resolvePublic, systemResolve, type Resolve } from "./addresses.js";
import { newWebhookSecret } from "./secrets.js";
import { sendWebhook, type SendResult } from "./send.js";
import { webhookHeaders } from "./signing.js";
import type { AttemptRecord, WebhookRecord } from "./store.js";

/** How long the old secret keeps signing after a rotation, unless the caller says. */
export const DEFAULT_ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

/**
 * Checks a webhook URL at creation: http(s), and (unless SLUICE_WEBHOOK_ALLOW_PRIVATE) every
 * address its host resolves to is public. This is the early, friendly refusal; the one that
 * holds against DNS rebinding is made again at each delivery on the address connected to.
 */
export async function checkWebhookUrl(s: Services, raw: string, resolve: Resolve = systemResolve): Promise<string> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest("invalid_webhook_url", "The webhook URL is not a URL.");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw badRequest("invalid_webhook_url", `A webhook URL must be http or https, not ${url.protocol.replace(/:$/, "")}.`);
  if (url.username || url.password) throw badRequest("invalid_webhook_url", "A webhook URL may not carry credentials (user:password@).");
  if (!s.config.webhooks.allowPrivate) {
    try {
      await resolvePublic(url.hostname, resolve);
    } catch (err) {
      throw badRequest("invalid_webhook_url", err instanceof Error ? err.message : String(err));
    }
  }
  return url.href;
}

/**
 * Who may see a webhook: a full key sees them all; a scoped key only those it made (and those
 * see only events of files under its key prefix, fixed at creation).
 */
export function canSeeWebhook(principal: Principal, w: WebhookRecord): boolean {
  return !principal.scope || w.ownerKeyId === principal.keyId;
}

export async function getVisibleWebhook(s: Services, principal: Principal, id: string): Promise<WebhookRecord> {
  const w = await s.webhooks.getWebhook(id);
  if (!w || !canSeeWebhook(principal, w)) throw notFound(`Webhook ${id}`);
  return w;
}

export async function createWebhook(
  s: Services,
  principal: Principal,
  input: { url: string; eventTypes?: EventType[] | undefined },
  resolve?: Resolve,
): Promise<{ webhook: WebhookRecord; secret: string }> {
  const url = await checkWebhookUrl(s, input.url, resolve);
  const secret = newWebhookSecret();
  const webhook: WebhookRecord = {
    id: newId("wh"),
    url,
    eventTypes: input.eventTypes && input.eventTypes.length > 0 ? [...new Set(input.eventTypes)] : null,
    keyPrefix: principal.scope?.keyPrefix ?? null,
    ownerKeyId: principal.keyId,
    secretSealed: await s.webhookSecrets.seal(secret),
    previousSecretSealed: null,
    previousSecretUntil: null,
    cursor: await feedTail(s),
    pausedAt: null,
    pausedReason: null,
    lastSuccessAt: null,
    consecutiveFailures: 0,
    createdAt: s.now(),
  };
  await s.webhooks.insertWebhook(webhook);
  s.logger.info({ webhookId: webhook.id, by: principal.keyId, keyPrefix: webhook.keyPrefix }, "webhook created");
  return { webhook, secret };
}

/**
 * Where the feed ends now: a new webhook receives the events committed from its creation on,
 * not the retained past (redelivery cannot reach those either; the pull feed can). Paged to
 * the end once, at creation.
 */
async function feedTail(s: Services): Promise<string> {
  let cursor: string | undefined;
  for (;;) {
    const page = await s.metadata.readEvents({ ...(cursor !== undefined && { after: cursor }), limit: 1000 });
    cursor = page.cursor;
    if (page.events.length < 1000) return cursor;
  }
}

export async function listWebhooks(s: Services, principal: Principal): Promise<WebhookRecord[]> {
  return s.webhooks.listWebhooks(principal.scope ? { ownerKeyId: principal.keyId } : {});
}

export async function deleteWebhook(s: Services, principal: Principal, id: string): Promise<void> {
  await getVisibleWebhook(s, principal, id);
  if (!(await s.webhooks.deleteWebhook(id))) throw notFound(`Webhook ${id}`);
  s.logger.info({ webhookId: id, by: principal.keyId }, "webhook deleted");
}

/**
 * A new secret, shown once; the old one goes on signing beside it (both signatures in
 * `webhook-signature`) for `overlapMs`, so the receiver can switch without a gap.
 */
export async function rotateWebhookSecret(s: Services, principal: Principal, id: string, overlapMs = DEFAULT_ROTATION_OVERLAP_MS): Promise<{ webhook: WebhookRecord; secret: string }> {
  const w = await getVisibleWebhook(s, principal, id);
  const secret = newWebhookSecret();
  const patch = {
    secretSealed: await s.webhookSecrets.seal(secret),
    previousSecretSealed: overlapMs > 0 ? w.secretSealed : null,
    previousSecretUntil: overlapMs > 0 ? s.now() + overlapMs : null,
  };
  if (!(await s.webhooks.updateWebhook(id, patch))) throw notFound(`Webhook ${id}`);
  s.logger.info({ webhookId: id, by: principal.keyId, overlapMs }, "webhook secret rotated");
  return { webhook: { ...w, ...patch }, secret };
}

/** The secrets that sign now: the current one, and the previous one during a rotation's overlap. */
export async function signingSecrets(s: Services, w: WebhookRecord, now: number): Promise<string[]> {
  const secrets = [await s.webhookSecrets.open(w.secretSealed)];
  if (w.previousSecretSealed && w.previousSecretUntil !== null && w.previousSecretUntil > now) secrets.push(await s.webhookSecrets.open(w.previousSecretSealed));
  return secrets;
}

export async function resumeWebhook(s: Services, principal: Principal, id: string): Promise<WebhookRecord> {
  await getVisibleWebhook(s, principal, id);
  const now = s.now();
  await s.webhooks.resumeWebhook(id, { now, giveUpAt: now + s.config.webhooks.retryForMs });
  s.logger.info({ webhookId: id, by: principal.keyId }, "webhook resumed");
  s.events.ring();
  return getVisibleWebhook(s, principal, id);
}

/**
 * Sends a `webhook.test` event at once (not an event of the feed; it is not retried) and
 * logs the attempt with the deliveries, so that the receiver's verification can be tried.
 */
export async function testWebhook(s: Services, principal: Principal, id: string): Promise<{ eventId: string; result: SendResult }> {
  const w = await getVisibleWebhook(s, principal, id);
  const now = s.now();
  const eventId = newId("evt_test");
  const body = JSON.stringify({ type: "webhook.test", timestamp: new Date(now).toISOString(), id: eventId, data: { webhookId: w.id } });
  const headers = webhookHeaders(await signingSecrets(s, w, now), { id: eventId, timestamp: Math.floor(now / 1000), body });
  const result = await sendWebhook({ url: w.url, headers, body, timeoutMs: s.config.webhooks.timeoutMs, allowPrivate: s.config.webhooks.allowPrivate });
  await s.webhooks.recordAttempt({
    owner: s.instanceId,
    attempt: { webhookId: w.id, eventId, attempt: 1, at: now, status: result.status, latencyMs: result.latencyMs, responseHead: result.responseHead, error: result.error },
    // No delivery row: only the attempt is logged.
    outcome: result.ok ? { state: "delivered" } : { state: "dead" },
  });
  return { eventId, result };
}

export async function listDeliveryAttempts(s: Services, principal: Principal, id: string, options: { limit: number; cursor?: string | undefined }): Promise<{ items: AttemptRecord[]; nextCursor: string | null }> {
  await getVisibleWebhook(s, principal, id);
  const before = options.cursor ? decodeAttemptCursor(options.cursor) : undefined;
  const rows = await s.webhooks.listAttempts(id, { limit: options.limit + 1, before });
  const items = rows.slice(0, options.limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > options.limit && last ? Buffer.from(JSON.stringify([last.at, last.eventId, last.attempt])).toString("base64url") : null };
}

function decodeAttemptCursor(cursor: string): { at: number; eventId: string; attempt: number } {
  try {
    const [at, eventId, attempt] = JSON.parse(Buffer.from(cursor, "base64url").toString()) as [unknown, unknown, unknown];
    if (typeof at === "number" && typeof eventId === "string" && typeof attempt === "number") return { at, eventId, attempt };
  } catch {
    /* answered below */
  }
  throw badRequest("invalid_request", "The cursor is not one this list gave.");
}

/** Sends again one event, or every event created in [since, until), that this webhook was to receive. */
export async function redeliverEvents(s: Services, principal: Principal, id: string, selection: { eventId: string } | { since: number; until: number }): Promise<number> {
  await getVisibleWebhook(s, principal, id);
  const now = s.now();
  const count = await s.webhooks.redeliver(id, selection, { now, giveUpAt: now + s.config.webhooks.retryForMs });
  if (count === 0 && "eventId" in selection) throw notFound(`A delivery of ${selection.eventId} to webhook ${id}`);
  s.logger.info({ webhookId: id, by: principal.keyId, count }, "webhook redelivery");
  s.events.ring();
  return count;
}
