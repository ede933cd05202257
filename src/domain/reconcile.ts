import { listAll } from "../storage/object-store.js";
import type { Services } from "./services.js";
import { arrivedInStaging } from "./arrivals.js";
import { expiryGraceMs, expiryWatchOf } from "./upload-events.js";
import { isUploadId, uploadIdOfKey } from "./upload-keys.js";
import { unref } from "../internal/timers.js";

export interface ReconcileReport {
  redriven: number;
  arrivalsFound: number;
  /** Objects no live upload owns: orphans, late or repeated uploads, leftovers of processed ones. */
  removed: number;
  /** Multipart uploads no live upload owns (expired, cancelled, unknown): aborted, their parts gone. */
  multipartAborted: number;
  /** Issued uploads never used, reported `upload.expired`. */
  expired: number;
  /** Events past `SLUICE_EVENTS_RETENTION`, deleted. */
  eventsDeleted: number;
}

/** A multipart upload with no ticket is left alone this long: it may be one being issued right now. */
const UNKNOWN_MULTIPART_GRACE_MS = 10 * 60_000;

/**
 * Compares staging with the records and mends the difference, so that a lost or delayed
 * event delays a file but never loses it. Safe to run at any time, repeatedly, and on
 * several instances at once: every step is a conditional update or an idempotent delete.
 * Unused tickets need no sweep: the ticket store expires them (and those whose expiry watch it
 * keeps, once step 4 has moved the watch).
 */
export async function reconcileStaging(s: Services, options: { now?: number } = {}): Promise<ReconcileReport> {
  const now = options.now ?? s.now();
  const report: ReconcileReport = { redriven: 0, arrivalsFound: 0, removed: 0, multipartAborted: 0, expired: 0, eventsDeleted: 0 };
  const { staging } = s.config.buckets;

  // 1. Processing that is due: new, retried, or abandoned by a dead worker.
  for (const id of await s.metadata.findDueForProcessing({ now, limit: 1000 })) {
    s.arrivals.enqueue(id);
    report.redriven++;
  }

  // 2. Everything in staging must belong to an upload that is still on its way.
  for await (const object of listAll(s.objects, { bucket: staging })) {
    const outcome = await arrivedInStaging(s, object.key, { via: "reconcile", knownToExist: true });
    if (outcome === "recorded") report.arrivalsFound++;
    else if (outcome === "removed") report.removed++;
  }

  // 3. Multipart uploads whose ticket has expired or was cancelled: their parts cost storage
  //    and nobody can finish them. (The lifecycle rule from `sluice setup` is the backstop.)
  for (const upload of await s.objects.multipart.listUploads(staging)) {
    const id = uploadIdOfKey(upload.key);
    const entry = isUploadId(id) ? await s.tickets.get(id) : undefined;
    const live = entry?.ticket.multipart?.uploadId === upload.uploadId && (entry.state === "claimed" || (entry.state === "issued" && entry.ticket.expiresAt > now));
    if (live) continue;
    if (!entry && now - upload.initiated.getTime() < UNKNOWN_MULTIPART_GRACE_MS) continue;
    await s.objects.multipart.abort({ bucket: staging, key: upload.key }, upload.uploadId);
    s.logger.info({ key: upload.key, uploadId: upload.uploadId, ticket: entry?.state ?? "unknown" }, "aborted a multipart upload no live upload owns");
    report.multipartAborted++;
  }

  // 4. Uploads issued and never used: reported expired (after step 2 recorded what arrived),
  //    with the watches a ticket store keeps handed on to the metadata store first.
  await moveExpiryWatches(s, now);
  report.expired = await reportExpired(s, now);
  // 5. Events past their retention.
  report.eventsDeleted = await s.metadata.deleteEventsBefore(now - s.config.eventsRetentionMs);
  return report;
}

/**
 * Hands the expiry watches a ticket store keeps beside its tickets (Redis: `storeAndWatch` in
 * issue.ts) on to the metadata store, where `reportExpired` finds them: those of uploads not
 * used (issued, or claimed and perhaps still in flight); then drops them from the ticket store.
 * A used (consumed) or cancelled (revoked) upload needs no watch.
 * - Every upload issued passes through here, used or not, so it drains in batches until none
 *   is due or half the sweep interval is spent (then the rest waits for the next sweep).
 * - Each batch is claimed for this instance (`WATCH_CLAIM_MS`), so instances sweeping at once
 *   take different watches; a batch whose instance died is taken again when its claim lapses.
 *   Writing a watch again is harmless: it is one watch, reported once.
 * - A watch that could not be written stays claimed, and is tried again once its claim lapses;
 *   it holds up neither the others nor the sweep's later steps.
 * - Moved half a grace after expiry, not at once: a cancel that found the upload live just
 *   before its expiry has revoked its ticket by then; and as the grace is at least two sweep
 *   intervals, a watch is moved before `reportExpired` would report it (memory tickets' journal
 *   holds a watch up to 10 s more, `WATCH_FILE_MS`: with a grace under 20 s it is reported in
 *   the sweep that moves it; later, never lost).
 */
async function moveExpiryWatches(s: Services, now: number): Promise<void> {
  const { tickets } = s;
  if (!tickets.dueWatches || !tickets.settleWatches) return;
  const before = now - expiryGraceMs(s.config) / 2;
  const started = Date.now();
  const budgetMs = Math.max(1000, (s.config.reconcileIntervalSeconds * 1000) / 2);
  while (Date.now() - started < budgetMs) {
    const due = await tickets.dueWatches(before, WATCH_BATCH, { claimMs: WATCH_CLAIM_MS });
    if (due.length === 0) return;
    const unused = due.filter((d) => d.ticket && (d.ticket.state === "issued" || d.ticket.state === "claimed"));
    const written = await Promise.allSettled(unused.map((d) => s.metadata.watchExpiry(expiryWatchOf(d.ticket!.ticket))));
    const failed = new Set(unused.filter((_, i) => written[i]!.status === "rejected").map((d) => d.id));
    if (failed.size > 0) s.logger.warn({ uploads: [...failed], err: written.find((w) => w.status === "rejected")?.reason }, "could not write expiry watches; they are tried again when their claim lapses");
    const lost = due.filter((d) => !d.ticket).map((d) => d.id);
    // Only if no sweep ran for WATCH_HOLD_MS (every instance down), or Redis lost the ticket.
    if (lost.length > 0) s.logger.warn({ uploads: lost }, "expiry watches whose tickets are gone: these uploads cannot be reported expired");
    await tickets.settleWatches(due.filter((d) => !failed.has(d.id)).map((d) => d.id));
  }
  s.logger.warn({ budgetMs }, "expiry watches are still due after this sweep's share of time; the next sweep goes on");
}

const WATCH_BATCH = 500;
/** How long a sweep holds the watches it is moving before another instance may take them. */
const WATCH_CLAIM_MS = 5 * 60_000;

/**
 * Reports `upload.expired` for every watched upload past its expiry and grace with no record,
 * a batch at a time. One whose ticket is claimed is still being uploaded through the gateway (a
 * claim is renewed while bytes flow): it is left for a later sweep, when it has arrived (and
 * its watch is dropped) or its claim has lapsed.
 */
async function reportExpired(s: Services, now: number): Promise<number> {
  const graceMs = expiryGraceMs(s.config);
  const inFlight = async (id: string) => (await s.tickets.get(id))?.state === "claimed";
  let total = 0;
  // Until a batch reports none (what is left is in flight, or for the next sweep), and bounded,
  // so that one sweep's other steps are not held up by a backlog.
  for (let round = 0; round < 50; round++) {
    const reported = await s.metadata.expireDue({ now, graceMs, limit: 200, inFlight });
    if (reported === 0) break;
    total += reported;
    s.events.ring();
  }
  return total;
}

/** Runs the sweep now and then every `intervalMs`, never two at once in this process. */
export function startReconcileLoop(s: Services, intervalMs: number): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const run = () => {
    if (running) return;
    running = reconcileStaging(s)
      .then((report) => {
        if (Object.values(report).some((n) => n > 0)) s.logger.info({ report }, "reconcile sweep");
      })
      .catch((err: unknown) => s.logger.warn({ err }, "reconcile sweep failed; will try again"))
      .finally(() => {
        running = undefined;
      });
  };
  run();
  const timer = setInterval(run, intervalMs);
  unref(timer);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
