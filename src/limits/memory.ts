import { RateLimiterMemory } from "rate-limiter-flexible";
import { CountedWindows } from "./counted-windows.js";
import type { LimitStore } from "./limit-store.js";

/** Limits counted in this process: the default, and a Worker's (per isolate). */
export class MemoryLimitStore implements LimitStore {
  readonly shared = false;
  readonly #windows = new CountedWindows((options) => new RateLimiterMemory(options));
  readonly #open = new Map<string, Map<string, number>>();

  consume: LimitStore["consume"] = (window, subject, points) => this.#windows.consume(window, subject, points);
  refund: LimitStore["refund"] = (window, subject, points) => this.#windows.refund(window, subject, points);

  takeOpen(owner: string, ticketId: string, { expiresAt, limit, now }: { expiresAt: number; limit: number; now: number }): Promise<boolean> {
    const mine = this.#open.get(owner) ?? new Map<string, number>();
    for (const [id, until] of mine) if (until <= now) mine.delete(id);
    if (mine.size >= limit) return Promise.resolve(false);
    mine.set(ticketId, expiresAt);
    this.#open.set(owner, mine);
    return Promise.resolve(true);
  }

  releaseOpen(owner: string, ticketId: string): Promise<void> {
    this.#open.get(owner)?.delete(ticketId);
    return Promise.resolve();
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
