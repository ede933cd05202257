import { RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Consumption, RateWindow } from "./limit-store.js";

/** One rate-limiter-flexible limiter per window, made on first use (keys' scopes may each have their own rate). */
export class CountedWindows {
  readonly #limiters = new Map<string, RateLimiterAbstract>();
  readonly #make: (options: { points: number; duration: number; keyPrefix: string }) => RateLimiterAbstract;

  constructor(make: (options: { points: number; duration: number; keyPrefix: string }) => RateLimiterAbstract) {
    this.#make = make;
  }

  async consume(window: RateWindow, subject: string, points: number): Promise<Consumption> {
    try {
      await this.#limiter(window).consume(subject, points);
      return { ok: true };
    } catch (res) {
      // The library rejects with its result when over the budget, and with an error when its store fails.
      if (res instanceof RateLimiterRes) return { ok: false, msBeforeNext: res.msBeforeNext };
      throw res;
    }
  }

  async refund(window: RateWindow, subject: string, points: number): Promise<void> {
    await this.#limiter(window).reward(subject, points);
  }

  #limiter(window: RateWindow): RateLimiterAbstract {
    let limiter = this.#limiters.get(window.name);
    if (!limiter) {
      limiter = this.#make({ points: window.points, duration: window.durationSeconds, keyPrefix: `sluice:rl:${window.name}` });
      this.#limiters.set(window.name, limiter);
    }
    return limiter;
  }
}
