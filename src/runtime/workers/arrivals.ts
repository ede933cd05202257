import { AsyncLocalStorage } from "node:async_hooks";
import type { ArrivalQueue } from "../../domain/services.js";
import type { Logger } from "../../internal/logger.js";

/**
 * Processing on Workers. An isolate serves many requests, and the I/O a request starts belongs
 * to it: it is cancelled when that request's response and `waitUntil` promises are done. So
 * each arrival is processed on behalf of the request (or Cron event) that announced it, and
 * that invocation's `waitUntil` waits for it, through `track()`. A retry due later is left to
 * the reconcile sweep on the Cron Trigger (no timer outlives an invocation).
 */
export class InvocationArrivalQueue implements ArrivalQueue {
  readonly #work = new AsyncLocalStorage<Promise<unknown>[]>();
  readonly #running = new Set<string>();
  readonly #logger: Logger;
  #handler: ((id: string) => Promise<void>) | undefined;

  constructor(options: { logger: Logger }) {
    this.#logger = options.logger;
  }

  start(handler: (id: string) => Promise<void>): void {
    this.#handler = handler;
  }

  /**
   * Runs `fn` as one invocation; resolves with its result and with what processing it started
   * (for `waitUntil`), which resolves with how many arrivals were processed.
   */
  async track<T>(fn: () => Promise<T>): Promise<{ result: T; work: Promise<number> }> {
    const started: Promise<unknown>[] = [];
    const result = await this.#work.run(started, fn);
    // Work may start more work (the same AsyncLocalStorage context); wait until none is left.
    const drain = async (): Promise<number> => {
      let processed = 0;
      while (started.length > 0) {
        const batch = started.splice(0);
        processed += batch.length;
        await Promise.allSettled(batch);
      }
      return processed;
    };
    return { result, work: drain() };
  }

  enqueue(uploadId: string, at?: number): void {
    const handler = this.#handler;
    const started = this.#work.getStore();
    if (!handler || !started) return; // not inside an invocation: the sweep will find it
    if (at !== undefined && at > Date.now()) return; // a retry due later: the sweep's
    if (this.#running.has(uploadId)) return; // already being processed in this isolate
    this.#running.add(uploadId);
    started.push(
      handler(uploadId)
        .catch((err: unknown) => this.#logger.error({ err, uploadId }, "processing crashed"))
        .finally(() => this.#running.delete(uploadId)),
    );
  }

  /** Nothing is kept between invocations: each one waits for its own work. */
  idle(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
