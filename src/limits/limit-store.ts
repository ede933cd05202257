/**
 * The limit-store port: where rate limits and open-upload quotas are counted, in this process
 * (`memory.ts`) or in a Redis every instance shares (`redis.ts`). The domain's `UploadLimits`
 * decides which limits apply and what a refusal says; a store only counts.
 */

/** A budget: `points` per `durationSeconds`, counted under `name` (one window per kind and rate). */
export interface RateWindow {
  name: string;
  points: number;
  durationSeconds: number;
}

export type Consumption = { ok: true } | { ok: false; msBeforeNext: number };

export interface LimitStore {
  /** True when the counts live in a store that can fail (and so is named by /readyz). */
  readonly shared: boolean;
  /** Counts `points` for `subject`; over the budget, says how long until there is room. Throws if the store cannot be reached. */
  consume(window: RateWindow, subject: string, points: number): Promise<Consumption>;
  /** Gives points back (a refused request that should not count). */
  refund(window: RateWindow, subject: string, points: number): Promise<void>;
  /** Records a ticket as open for `owner` until `expiresAt`, unless the owner already has `limit` open ones. */
  takeOpen(owner: string, ticketId: string, options: { expiresAt: number; limit: number; now: number }): Promise<boolean>;
  releaseOpen(owner: string, ticketId: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
