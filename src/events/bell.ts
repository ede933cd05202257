import { unref } from "../internal/timers.js";

/**
 * Wakes, in this process, whoever waits for new events (the feed's long poll, the webhook
 * dispatcher) as soon as a write that carried one has committed. It carries no event and
 * promises nothing across processes: those that wait also read the store again every second
 * or so, which is how they learn of other instances' events.
 */
export class EventBell {
  readonly #waiters = new Set<() => void>();

  /** Wakes every current waiter. Called after the write that carried an event resolved. */
  ring(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves at the next ring, after `timeoutMs`, or when `signal` aborts, whichever comes first. Never rejects. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const wake = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        signal?.removeEventListener("abort", wake);
        resolve();
      };
      // A wait must not keep a process alive that has nothing else to do.
      const timer = unref(setTimeout(wake, Math.max(0, timeoutMs)));
      this.#waiters.add(wake);
      signal?.addEventListener("abort", wake, { once: true });
    });
  }

  /** How many wait now (for tests and metrics). */
  get waiting(): number {
    return this.#waiters.size;
  }
}
