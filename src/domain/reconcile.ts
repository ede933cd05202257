import type { UploadRecord } from "../metadata/metadata-store.js";
import { listAll } from "../storage/object-store.js";
import type { Services } from "./services.js";
import { recordArrival } from "./uploads.js";

/**
 * How long after its URL expires an upload may still arrive: storage checks a signature
 * when a request starts, so a slow direct upload can finish after expiry.
 */
export const EXPIRY_GRACE_MS = 60_000;

export interface ReconcileReport {
  expired: number;
  redriven: number;
  arrivalsFound: number;
  leftoversRemoved: number;
  orphansRemoved: number;
}

/**
 * Compares staging with the metadata store and mends the difference, so that a lost or
 * delayed event delays a file but never loses it. Safe to run at any time, repeatedly, and
 * on several instances at once: every step is a conditional update or an idempotent delete.
 */
export async function reconcileStaging(s: Services, options: { now?: number } = {}): Promise<ReconcileReport> {
  const now = options.now ?? s.now();
  const report: ReconcileReport = { expired: 0, redriven: 0, arrivalsFound: 0, leftoversRemoved: 0, orphansRemoved: 0 };
  const { staging, archive } = s.config.buckets;

  // 1. Tickets that expired (past the grace) with no bytes: expire them, unless bytes are streaming in now.
  for (const record of await s.metadata.findExpiredTickets({ now: now - EXPIRY_GRACE_MS, limit: 1000 })) {
    if (await s.objects.head({ bucket: staging, key: record.key })) continue; // arrived: step 3 records it
    const ticket = await s.tickets.get(record.id);
    if (ticket?.state === "claimed") continue; // a gateway upload that started in time is still running
    await s.tickets.revoke(record.id);
    const applied = await s.metadata.updateUpload(
      record.id,
      { state: "expired", reason: "the upload URL expired before any bytes arrived", updatedAt: now },
      { states: ["issued", "uploading"] },
    );
    if (applied) report.expired++;
  }

  // 2. Processing that is due (new, retried, or abandoned by a dead worker).
  for (const id of await s.metadata.findDueForProcessing({ now, limit: 1000 })) {
    s.arrivals.enqueue(id);
    report.redriven++;
  }

  // 3. Everything in staging must belong to an upload that is still on its way.
  for await (const object of listAll(s.objects, { bucket: staging })) {
    const id = object.key.split("/")[0] ?? "";
    const record: UploadRecord | undefined = id.startsWith("upl_") ? await s.metadata.getUpload(id) : undefined;
    if (!record || record.key !== object.key) {
      await s.objects.delete({ bucket: staging, key: object.key });
      report.orphansRemoved++;
      s.logger.warn({ key: object.key }, "removed an object in staging that no upload issued");
      continue;
    }
    switch (record.state) {
      case "issued":
      case "uploading": {
        // Bytes arrived but the arrival was never recorded (a lost event, or a crash).
        const consumed = await s.tickets.consume(record.id, null);
        if (!consumed.ok && consumed.reason === "claimed") break; // the gateway will record it itself
        await recordArrival(s, { id: record.id, via: "reconcile" });
        report.arrivalsFound++;
        break;
      }
      case "uploaded":
      case "processing":
        break; // step 2 handles it when due
      case "archived": {
        // Archived, and something is in staging again: the delete after archiving never happened
        // (a crash), or the URL was used a second time. Either way the archive copy is the file.
        const archived = await s.objects.head({ bucket: archive, key: record.key });
        if (archived) {
          await s.objects.delete({ bucket: staging, key: object.key });
          report.leftoversRemoved++;
        } else {
          s.logger.error({ uploadId: record.id }, "archived upload is missing from the archive; kept in staging");
        }
        break;
      }
      case "rejected":
      case "expired":
      case "cancelled":
        // A late or repeated upload after the ticket was used up: one-time means it goes.
        await s.objects.delete({ bucket: staging, key: object.key });
        report.leftoversRemoved++;
        s.logger.info({ uploadId: record.id, state: record.state }, "removed an upload that arrived after its ticket was used or expired");
        break;
      case "failed":
        break; // kept for an operator to retry
    }
  }
  return report;
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
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
