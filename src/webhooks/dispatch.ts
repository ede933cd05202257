import type { Services } from "../domain/services.js";
import { webhookPayload } from "../events/types.js";
import { signingSecrets } from "./manage.js";
import { sendWebhook, type SendOptions, type SendResult } from "./send.js";
import { webhookHeaders } from "./signing.js";
import type { DeliveryRecord, WebhookRecord } from "./store.js";

/** What one pass did, for logs, metrics and the serverless handlers. */
export interface DispatchReport {
  /** Deliveries created from new events. */
  enqueued: number;
  /** Attempts made, and how they ended. */
  attempted: number;
  delivered: number;
  retrying: number;
  dead: number;
  /** Webhooks this pass paused. */
  paused: number;
  /** The earliest retry this pass scheduled (epoch ms), so that a loop can wake for it; null: none. */
  nextAttemptAt: number | null;
}

export interface DispatchOptions {
  /** Deliveries sent at most in this pass (they are sent at once, in parallel). */
  limit?: number;
  signal?: AbortSignal;
  /** The HTTP client (tests stand in a resolver; Workers may bring their own). */
  send?: (o: SendOptions) => Promise<SendResult>;
}

/** Events read per webhook and page during fan-out. */
const FANOUT_PAGE = 500;

/**
 * One dispatcher pass, for every runtime (the Node loop below, the Lambda schedule, Workers'
 * cron): fan new events out into deliveries, lease the due ones, send them, record each
 * attempt. Safe to run on any number of instances at once: fan-out moves each webhook's cursor
 * with a compare-and-set in the same transaction that inserts the deliveries (one per
 * (webhook, event)), and each delivery is leased by one instance at a time. An instance killed
 * mid-send leaves a lease that lapses; another instance sends the delivery again.
 */
export async function dispatchOnce(s: Services, options: DispatchOptions = {}): Promise<DispatchReport> {
  const report: DispatchReport = { enqueued: 0, attempted: 0, delivered: 0, retrying: 0, dead: 0, paused: 0, nextAttemptAt: null };
  const webhooks = await s.webhooks.listWebhooks();
  if (webhooks.length === 0) return report;
  for (const w of webhooks) {
    if (options.signal?.aborted) return report;
    report.enqueued += await fanOut(s, w);
  }
  const cfg = s.config.webhooks;
  const now = s.now();
  // Long enough for every attempt of the batch (they run in parallel, each bounded by the timeout).
  const leaseMs = cfg.timeoutMs * 2 + 5000;
  const due = await s.webhooks.leaseDueDeliveries({ owner: s.instanceId, now, leaseMs, limit: options.limit ?? 32 });
  const byId = new Map(webhooks.map((w) => [w.id, w]));
  await Promise.all(
    due.map(async (d) => {
      const w = byId.get(d.webhookId) ?? (await s.webhooks.getWebhook(d.webhookId));
      if (!w) return; // deleted meanwhile, with its deliveries
      await attemptDelivery(s, w, d, report, options);
    }),
  );
  return report;
}

async function fanOut(s: Services, w: WebhookRecord): Promise<number> {
  let cursor = w.cursor;
  let enqueued = 0;
  for (let page = 0; page < 20; page++) {
    const read = await s.metadata.readEvents({
      ...(cursor !== null && { after: cursor }),
      limit: FANOUT_PAGE,
      ...(w.keyPrefix !== null && { keyPrefix: w.keyPrefix }),
      ...(w.eventTypes !== null && { types: w.eventTypes }),
    });
    if (read.cursor === cursor) break;
    const { events } = read;
    const now = s.now();
    const moved = await s.webhooks.enqueueDeliveries({ webhookId: w.id, fromCursor: cursor, toCursor: read.cursor, events, now, giveUpAt: now + s.config.webhooks.retryForMs });
    // Another instance fanned this page out first: it has the cursor now, and will go on.
    if (!moved) break;
    enqueued += events.length;
    cursor = read.cursor;
    if (read.events.length < FANOUT_PAGE) break;
  }
  return enqueued;
}

/**
 * The delay before retry `attempt` (1 for the first retry): "full jitter", uniformly random
 * below a ceiling that doubles each time up to the maximum, so that many deliveries failing
 * at once do not all come back together.
 */
export function retryDelay(attempt: number, cfg: { backoffMs: number; backoffMaxMs: number }, random = Math.random): number {
  const ceiling = Math.min(cfg.backoffMaxMs, cfg.backoffMs * 2 ** Math.min(attempt - 1, 40));
  return Math.floor(random() * ceiling);
}

async function attemptDelivery(s: Services, w: WebhookRecord, d: DeliveryRecord, report: DispatchReport, options: DispatchOptions): Promise<void> {
  const cfg = s.config.webhooks;
  const started = s.now();
  const body = JSON.stringify(webhookPayload(d.event));
  const headers = webhookHeaders(await signingSecrets(s, w, started), { id: d.eventId, timestamp: Math.floor(started / 1000), body });
  const send = options.send ?? sendWebhook;
  const result = await send({ url: w.url, headers, body, timeoutMs: cfg.timeoutMs, allowPrivate: cfg.allowPrivate, signal: options.signal });
  report.attempted++;
  const attempt = d.attempts + 1;
  const now = s.now();
  const outcome = result.ok
    ? ({ state: "delivered" } as const)
    : now >= d.giveUpAt
      ? ({ state: "dead" } as const)
      : ({ state: "pending", nextAttemptAt: now + retryDelay(attempt, cfg) } as const);
  const recorded = await s.webhooks.recordAttempt({
    owner: s.instanceId,
    attempt: { webhookId: w.id, eventId: d.eventId, attempt, at: started, status: result.status, latencyMs: result.latencyMs, responseHead: result.responseHead, error: result.error },
    outcome,
  });
  if (!recorded) s.logger.warn({ webhookId: w.id, eventId: d.eventId }, "webhook delivery lease lapsed before its attempt was recorded; another instance may send it again");
  if (outcome.state === "delivered") report.delivered++;
  else if (outcome.state === "dead") report.dead++;
  else {
    report.retrying++;
    report.nextAttemptAt = Math.min(report.nextAttemptAt ?? Infinity, outcome.nextAttemptAt);
  }
  const log = { webhookId: w.id, eventId: d.eventId, attempt, status: result.status, ms: result.latencyMs, error: result.error };
  if (outcome.state === "dead") s.logger.warn(log, "webhook delivery dead: retried for SLUICE_WEBHOOK_RETRY_FOR");
  else if (!result.ok) s.logger.info(log, "webhook attempt failed");
  else s.logger.debug(log, "webhook delivered");
  if (!result.ok && (await pauseIfFailing(s, w.id, now))) report.paused++;
}

/**
 * An endpoint that keeps failing (SLUICE_WEBHOOK_PAUSE_FAILURES attempts in a row, and no
 * success for SLUICE_WEBHOOK_PAUSE_AFTER) is paused, not retried forever: its deliveries wait,
 * GET shows why, and `POST /v1/webhooks/{id}/resume` sends them on.
 */
async function pauseIfFailing(s: Services, id: string, now: number): Promise<boolean> {
  const w = await s.webhooks.getWebhook(id);
  if (!w || w.pausedAt !== null) return false;
  const cfg = s.config.webhooks;
  const quietSince = w.lastSuccessAt ?? w.createdAt;
  if (w.consecutiveFailures < cfg.pauseFailures || now - quietSince < cfg.pauseAfterMs) return false;
  const reason = `${w.consecutiveFailures} failed attempts in a row and no success since ${new Date(quietSince).toISOString()}`;
  if (!(await s.webhooks.pauseWebhook(id, { now, reason }))) return false;
  s.logger.error({ webhookId: id, url: w.url, reason }, "webhook paused: its endpoint keeps failing (POST /v1/webhooks/{id}/resume)");
  return true;
}

/** How long the loop lets events gather once woken: a webhook's latency, against a pass per event. */
const GATHER_MS = 25;

/**
 * The Node server's dispatcher: a pass whenever the bell rings (an event was written here) and
 * at least every `intervalMs` (events written by other instances), until stopped.
 */
export function startDispatchLoop(s: Services, options: { intervalMs?: number } = {}): { stop(): Promise<void> } {
  const controller = new AbortController();
  const intervalMs = options.intervalMs ?? 1000;
  const sleep = (ms: number) => s.events.wait(ms, controller.signal);
  // Names this instance as the lease owner in the deliveries table, for an operator reading it.
  s.logger.info({ instanceId: s.instanceId }, "webhook dispatcher started");
  const loop = (async () => {
    // The earliest retry scheduled and not yet due: the loop wakes for it rather than a full interval later.
    let retryAt = Infinity;
    while (!controller.signal.aborted) {
      let busy = false;
      try {
        const r = await dispatchOnce(s, { signal: controller.signal });
        busy = r.attempted > 0 || r.enqueued > 0;
        if (r.nextAttemptAt !== null) retryAt = Math.min(retryAt, r.nextAttemptAt);
      } catch (err) {
        s.logger.warn({ err }, "webhook dispatch pass failed; trying again");
      }
      // A pass that did something may have left more due: go on at once (its sends yielded to
      // I/O); otherwise wait for the bell, the next retry, or the interval.
      if (!busy && !controller.signal.aborted) {
        const now = s.now();
        if (retryAt <= now) retryAt = Infinity;
        await sleep(Math.max(10, Math.min(intervalMs, retryAt - now)));
        // Woken (by the bell, most often): let the events of the same moment gather, so that
        // a burst of archived uploads makes one pass rather than one per event. Each pass reads
        // the webhooks and the feed, so under load the passes themselves cost the uploads CPU.
        if (!controller.signal.aborted) await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
      }
    }
  })();
  return {
    async stop() {
      controller.abort();
      await loop;
    },
  };
}
