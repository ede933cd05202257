import { listAll } from "../storage/object-store.js";
import type { Services } from "./services.js";
import { arrivedInStaging } from "./arrivals.js";

export interface ReconcileReport {
  redriven: number;
  arrivalsFound: number;
  /** Objects no live upload owns: orphans, late or repeated uploads, leftovers of processed ones. */
  removed: number;
}

/**
 * Compares staging with the records and mends the difference, so that a lost or delayed
 * event delays a file but never loses it. Safe to run at any time, repeatedly, and on
 * several instances at once: every step is a conditional update or an idempotent delete.
 * Unused tickets need no sweep: the ticket store expires them.
 */
export async function reconcileStaging(s: Services, options: { now?: number } = {}): Promise<ReconcileReport> {
  const now = options.now ?? s.now();
  const report: ReconcileReport = { redriven: 0, arrivalsFound: 0, removed: 0 };
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
