import type { Logger } from "../internal/logger.js";
import type { ArrivalQueue } from "../domain/services.js";
import { unref } from "../internal/timers.js";

/**
 * Processing in this process: arrivals are handled as they come, a few at a time. Nothing
 * here needs to be durable: the record in the metadata store is, and the reconcile sweep
 * re-drives anything a crash dropped.
 */
export class InProcessArrivalQueue implements ArrivalQueue {
  readonly #pending: string[] = [];
  readonly #queued = new Set<string>();
  readonly #running = new Set<string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #idleWaiters: (() => void)[] = [];
  readonly #concurrency: number;
  readonly #logger: Logger;
  #handler: ((id: string) => Promise<void>) | undefined;
  #closed = false;

  constructor(options: { concurrency: number; logger: Logger }) {
    this.#concurrency = options.concurrency;
    this.#logger = options.logger;
  }

  /** Sets what runs for each arrival. Separate from the constructor because the handler needs the services this queue is part of. */
  start(handler: (id: string) => Promise<void>): void {
    this.#handler = handler;
    this.#pump();
  }

  enqueue(uploadId: string, at?: number): void {
    if (this.#closed) return;
    const delay = at === undefined ? 0 : at - Date.now();
    if (delay > 0) {
      clearTimeout(this.#timers.get(uploadId));
      const timer = setTimeout(() => {
        this.#timers.delete(uploadId);
        this.enqueue(uploadId);
      }, delay);
      unref(timer);
      this.#timers.set(uploadId, timer);
      return;
    }
    if (this.#queued.has(uploadId)) return; // a duplicate of one still waiting: harmless, dropped
    this.#queued.add(uploadId);
    this.#pending.push(uploadId);
    this.#pump();
  }

  /** Resolves when nothing is waiting or running (timers for later retries aside). */
  idle(): Promise<void> {
    if (this.#pending.length === 0 && this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops taking work and waits for what is running. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#pending.length = 0;
    this.#queued.clear();
    await this.idle();
  }

  #pump(): void {
    const handler = this.#handler;
    if (!handler) return;
    while (this.#running.size < this.#concurrency && this.#pending.length > 0) {
      const id = this.#pending.shift()!;
      this.#queued.delete(id);
      if (this.#running.has(id)) {
        // Already being processed here: look again once that run ends, in case the state moved on.
        unref(setTimeout(() => this.enqueue(id), 50));
        continue;
      }
      this.#running.add(id);
      handler(id)
        .catch((err: unknown) => this.#logger.error({ err, uploadId: id }, "processing crashed"))
        .finally(() => {
          this.#running.delete(id);
          this.#pump();
          if (this.#pending.length === 0 && this.#running.size === 0) {
            for (const resolve of this.#idleWaiters.splice(0)) resolve();
          }
        });
    }
  }
}
