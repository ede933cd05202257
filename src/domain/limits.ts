import type { Config, RateLimitConfig } from "../config.js";
import { SluiceError, toSluiceError, type CodeWithStatus } from "../errors.js";
import type { LimitStore } from "../limits/limit-store.js";
import type { Ticket } from "../tickets/ticket-store.js";
import type { Principal, TokenGrant } from "./principal.js";
import { TOKEN_MAX_SECONDS } from "./tokens.js";

/**
 * Rate limits and quotas on `POST /v1/uploads`, counted in a limit store (this process, or a
 * Redis that every instance shares: then a burst spread over instances is counted once):
 * - per client address (`SLUICE_RATE_LIMIT_IP`);
 * - per API key (`SLUICE_RATE_LIMIT`, or the key's own scope);
 * - per key, bytes issued per day and tickets open at once (the key's scope).
 * Over a limit: 429 with Retry-After. The counting store unreachable: 503 (fail closed).
 */
export class UploadLimits {
  readonly #config: Pick<Config, "rateLimit" | "ipRateLimit">;
  readonly #store: LimitStore;

  /** `store`: where the counts live, chosen by the runtime from `rateLimitStore`. */
  constructor(config: Pick<Config, "rateLimit" | "ipRateLimit">, store: LimitStore) {
    this.#config = config;
    this.#store = store;
  }

  /** True when the limits are counted in a store that can fail (and so is named by /readyz). */
  get shared(): boolean {
    return this.#store.shared;
  }

  /**
   * Counts one request to issue `size` bytes; rejects with 429 (or 503) if it may not go
   * ahead. Undefined when no limit applies: no promise to await on the hottest path.
   */
  admit(principal: Principal, clientAddress: string | undefined, size: number): Promise<void> | undefined {
    const keyRate = principal.scope?.rateLimit ?? this.#config.rateLimit;
    if (!keyRate && !this.#config.ipRateLimit && principal.scope?.bytesPerDay === undefined) return undefined;
    return this.#admit(principal, clientAddress, size);
  }

  async #admit(principal: Principal, clientAddress: string | undefined, size: number): Promise<void> {
    const { ipRateLimit } = this.#config;
    if (ipRateLimit && clientAddress) await this.#consume("ip", ipRateLimit, clientAddress, 1, "rate_limited", "Too many uploads requested from this address");
    const keyRate = principal.scope?.rateLimit ?? this.#config.rateLimit;
    if (keyRate) await this.#consume("key", keyRate, principal.keyId, 1, "rate_limited", "Too many uploads requested");
    const bytesPerDay = principal.scope?.bytesPerDay;
    if (bytesPerDay !== undefined) {
      if (size > bytesPerDay) throw new SluiceError(429, "quota_exceeded", `This key may issue at most ${bytesPerDay} bytes a day; the file alone is larger.`);
      await this.#consume("bytes", { points: bytesPerDay, durationSeconds: 86_400 }, principal.keyId, size, "quota_exceeded", `This key's quota of ${bytesPerDay} bytes a day is used up`, {
        refund: true,
      });
    }
  }

  /**
   * Counts one upload issued by a browser token with a `maxUploads`; 403 once it has issued
   * that many. Counted under the token's id in the limit store, so the count holds across
   * instances when that store is shared (Redis); in memory it is per process. The window is a
   * token's longest life, so it outlasts any token. Undefined when there is nothing to count.
   */
  countTokenUpload(grant: TokenGrant | undefined): Promise<void> | undefined {
    if (grant?.maxUploads === undefined) return undefined;
    return this.#countTokenUpload(grant.id, grant.maxUploads);
  }

  async #countTokenUpload(tokenId: string, maxUploads: number): Promise<void> {
    const counted = await guardLimiter(() => this.#store.consume(tokenUploads(maxUploads), tokenId, 1));
    if (!counted.ok) throw new SluiceError(403, "token_used_up", `This browser upload token may issue ${maxUploads} upload${maxUploads === 1 ? "" : "s"}, and has.`);
  }

  /** Gives back what `countTokenUpload` counted, for an upload that was not issued after all. */
  async uncountTokenUpload(grant: TokenGrant | undefined): Promise<void> {
    if (grant?.maxUploads !== undefined) await this.#store.refund(tokenUploads(grant.maxUploads), grant.id, 1);
  }

  /** Takes one of the key's open-ticket slots for `ticketId` until it expires or is ended (`close`). Undefined when the key has no such quota. */
  open(principal: Principal, ticketId: string, expiresAt: number): Promise<void> | undefined {
    const limit = principal.scope?.openTickets;
    return limit === undefined ? undefined : this.#take(principal.keyId, ticketId, expiresAt, limit);
  }

  async #take(keyId: string, ticketId: string, expiresAt: number, limit: number): Promise<void> {
    const taken = await guardLimiter(() => this.#store.takeOpen(keyId, ticketId, { expiresAt, limit, now: Date.now() }));
    if (!taken) throw new SluiceError(429, "quota_exceeded", `This key may have at most ${limit} uploads open at once; finish or cancel one first.`, { "retry-after": "1" });
  }

  /** Gives the slot back: the upload arrived, or was cancelled. Idempotent; nothing to do (no round trip) for an upload that holds none. */
  async close(ticket: Pick<Ticket, "id" | "ownerId" | "holdsSlot">): Promise<void> {
    if (ticket.holdsSlot && ticket.ownerId) await this.#store.releaseOpen(ticket.ownerId, ticket.id);
  }

  ping(): Promise<void> {
    return this.#store.ping();
  }

  shutdown(): Promise<void> {
    return this.#store.close();
  }

  /** `refund`: a refused request gives its points back (a quota counts what was issued, not what was asked). */
  async #consume(kind: string, rate: RateLimitConfig, subject: string, points: number, code: CodeWithStatus<429>, message: string, options: { refund?: boolean } = {}): Promise<void> {
    // One window per kind and rate: keys' scopes may each have their own rate.
    const window = { name: `${kind}:${rate.points}/${rate.durationSeconds}`, points: rate.points, durationSeconds: rate.durationSeconds };
    const counted = await guardLimiter(() => this.#store.consume(window, subject, points));
    if (counted.ok) return;
    if (options.refund) await this.#store.refund(window, subject, points).catch(() => undefined);
    const retryAfter = String(Math.max(1, Math.ceil(counted.msBeforeNext / 1000)));
    throw new SluiceError(429, code, `${message}; try again in ${retryAfter} s.`, { "retry-after": retryAfter });
  }
}

const tokenUploads = (maxUploads: number) => ({ name: `token-uploads:${maxUploads}`, points: maxUploads, durationSeconds: TOKEN_MAX_SECONDS });

async function guardLimiter<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toSluiceError("rate limiter", err);
  }
}
