import { listAll } from "../storage/object-store.js";
import type { Services } from "./services.js";
import { recordArrival } from "./uploads.js";

export interface ReconcileReport {
  redriven: number;
  arrivalsFound: number;
  leftoversRemoved: number;
  orphansRemoved: number;
}

/**
 * Compares staging with the records and mends the difference, so that a lost or delayed
 * event delays a file but never loses it. Safe to run at any time, repeatedly, and on
 * several instances at once: every step is a conditional update or an idempotent delete.
 * Unused tickets need no sweep: the ticket store expires them.
 */
export async function reconcileStaging(s: Services, options: { now?: number } = {}): Promise<ReconcileReport> {
  const now = options.now ?? s.now();
  const report: ReconcileReport = { redriven: 0, arrivalsFound: 0, leftoversRemoved: 0, orphansRemoved: 0 };
  const { staging, archive } = s.config.buckets;

  // 1. Processing that is due: new, retried, or abandoned by a dead worker.
  for (const id of await s.metadata.findDueForProcessing({ now, limit: 1000 })) {
    s.arrivals.enqueue(id);
    report.redriven++;
  }

  // 2. Everything in staging must belong to an upload that is still on its way.
  for await (const object of listAll(s.objects, { bucket: staging })) {
    const id = object.key.split("/")[0] ?? "";
    const record = id.startsWith("upl_") ? await s.metadata.getUpload(id) : undefined;
    if (!record) {
      const entry = id.startsWith("upl_") ? await s.tickets.get(id) : undefined;
      if (entry?.ticket.kind === "upload" && entry.ticket.key === object.key && (entry.state === "issued" || entry.state === "consumed")) {
        // Bytes arrived but the arrival was never recorded (a lost event, or a crash). Storage
        // checks a URL when a request starts, so bytes may land after the ticket's expiry.
        await recordArrival(s, { ticket: entry.ticket, via: "reconcile", consume: null });
        report.arrivalsFound++;
      } else if (entry?.state === "claimed") {
        // A gateway upload is finishing; it records the arrival itself.
      } else {
        // No ticket (never issued, or long gone) or a cancelled one: one-time means it goes.
        await s.objects.delete({ bucket: staging, key: object.key });
        report.orphansRemoved++;
        s.logger.warn({ key: object.key }, "removed an object in staging that no live upload owns");
      }
      continue;
    }
    if (record.key !== object.key) {
      await s.objects.delete({ bucket: staging, key: object.key });
      report.orphansRemoved++;
      continue;
    }
    switch (record.state) {
      case "archived": {
        // Archived, and something is in staging again: the delete after archiving never happened
        // (a crash), or the URL was used a second time. Either way the archive copy is the file.
        if (await s.objects.head({ bucket: archive, key: record.key })) {
          await s.objects.delete({ bucket: staging, key: object.key });
          report.leftoversRemoved++;
        } else {
          s.logger.error({ uploadId: record.id }, "archived upload is missing from the archive; kept in staging");
        }
        break;
      }
      case "rejected":
        // The rejected file is already deleted or quarantined: this is a late or repeated upload.
        await s.objects.delete({ bucket: staging, key: object.key });
        report.leftoversRemoved++;
        break;
      default:
        break; // uploaded/processing: step 1 handles it when due; failed: kept for an operator
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
