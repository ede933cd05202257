import type { Services } from "../domain/services.js";
import { dispatchOnce, type DispatchReport } from "../webhooks/dispatch.js";

/**
 * Dispatcher passes, one after the other, while a pass still finds work (it enqueued or sent
 * something) and the budget lasts: for the runtimes that dispatch in invocations (Lambda,
 * Workers), where one pass (a batch of deliveries) would leave a backlog to the next schedule.
 * A pass that finds nothing due ends the run; so does a retry not yet due (backoff).
 */
export async function dispatchWhileDue(s: Services, options: { signal: AbortSignal }): Promise<DispatchReport & { passes: number }> {
  const total: DispatchReport & { passes: number } = { enqueued: 0, attempted: 0, delivered: 0, retrying: 0, dead: 0, paused: 0, nextAttemptAt: null, passes: 0 };
  while (!options.signal.aborted) {
    const r = await dispatchOnce(s, { signal: options.signal });
    total.passes++;
    for (const k of ["enqueued", "attempted", "delivered", "retrying", "dead", "paused"] as const) total[k] += r[k];
    if (r.nextAttemptAt !== null) total.nextAttemptAt = Math.min(total.nextAttemptAt ?? Infinity, r.nextAttemptAt);
    if (r.enqueued === 0 && r.attempted === 0) break;
  }
  return total;
}
