import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Config, RateLimitConfig } from "../config.js";
import { SluiceError, toSluiceError, type CodeWithStatus } from "../errors.js";
import type { Ticket } from "../tickets/ticket-store.js";
import type { Principal } from "./uploads.js";

/**
 * Rate limits and quotas on `POST /v1/uploads`, counted in this process or in a Redis that
 * every instance shares (then a burst spread over instances is counted once):
 * - per client address (`SLUICE_RATE_LIMIT_IP`);
 * - per API key (`SLUICE_RATE_LIMIT`, or the key's own scope);
 * - per key, bytes issued per day and tickets open at once (the key's scope).
 * Over a limit: 429 with Retry-After. The counting store unreachable: 503 (fail closed).
 */
export class UploadLimits {
  readonly #config: Pick<Config, "rateLimit" | "ipRateLimit">;
  readonly #redis: Redis | undefined;
  readonly #limiters = new Map<string, RateLimiterAbstract>();
  readonly #open: OpenTickets;

  /** `redis`: the client for `rateLimitStore` when that is Redis (the runtime loads the driver only then). */
  constructor(config: Pick<Config, "rateLimit" | "ipRateLimit" | "rateLimitStore">, options: { redis?: Redis | undefined } = {}) {
    this.#config = config;
    if (config.rateLimitStore.kind === "redis") {
      if (!options.redis) throw new Error("Limits counted in Redis need a Redis client.");
      this.#redis = options.redis;
      this.#redis.on("error", () => {}); // surfaces on the calls, as 503s
      this.#open = new RedisOpenTickets(this.#redis);
    } else {
      this.#redis = undefined;
      this.#open = new MemoryOpenTickets();
    }
  }

  /** True when the limits are counted in a store that can fail (and so is named by /readyz). */
  get shared(): boolean {
    return this.#redis !== undefined;
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

  /** Takes one of the key's open-ticket slots for `ticketId` until it expires or is ended (`close`). Undefined when the key has no such quota. */
  open(principal: Principal, ticketId: string, expiresAt: number): Promise<void> | undefined {
    const limit = principal.scope?.openTickets;
    return limit === undefined ? undefined : this.#take(principal.keyId, ticketId, expiresAt, limit);
  }

  async #take(keyId: string, ticketId: string, expiresAt: number, limit: number): Promise<void> {
    const taken = await guardLimiter(() => this.#open.take(keyId, ticketId, expiresAt, limit, Date.now()));
    if (!taken) throw new SluiceError(429, "quota_exceeded", `This key may have at most ${limit} uploads open at once; finish or cancel one first.`, { "retry-after": "1" });
  }

  /** Gives the slot back: the upload arrived, or was cancelled. Idempotent; nothing to do (no round trip) for an upload that holds none. */
  async close(ticket: Pick<Ticket, "id" | "ownerId" | "holdsSlot">): Promise<void> {
    if (ticket.holdsSlot && ticket.ownerId) await this.#open.release(ticket.ownerId, ticket.id);
  }

  async ping(): Promise<void> {
    await this.#redis?.ping();
  }

  async shutdown(): Promise<void> {
    await this.#redis?.quit().catch(() => this.#redis?.disconnect());
  }

  /** `refund`: a refused request gives its points back (a quota counts what was issued, not what was asked). */
  async #consume(kind: string, rate: RateLimitConfig, subject: string, points: number, code: CodeWithStatus<429>, message: string, options: { refund?: boolean } = {}): Promise<void> {
    const limiter = this.#limiter(kind, rate);
    try {
      await limiter.consume(subject, points);
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw toSluiceError("rate limiter", res);
      if (options.refund) await limiter.reward(subject, points).catch(() => undefined);
      const retryAfter = String(Math.max(1, Math.ceil(res.msBeforeNext / 1000)));
      throw new SluiceError(429, code, `${message}; try again in ${retryAfter} s.`, { "retry-after": retryAfter });
    }
  }

  /** One limiter per kind and rate (keys' scopes may each have their own rate). */
  #limiter(kind: string, rate: RateLimitConfig): RateLimiterAbstract {
    const name = `${kind}:${rate.points}/${rate.durationSeconds}`;
    let limiter = this.#limiters.get(name);
    if (!limiter) {
      const options = { points: rate.points, duration: rate.durationSeconds, keyPrefix: `sluice:rl:${name}` };
      limiter = this.#redis ? new RateLimiterRedis({ ...options, storeClient: this.#redis, rejectIfRedisNotReady: true }) : new RateLimiterMemory(options);
      this.#limiters.set(name, limiter);
    }
    return limiter;
  }
}

async function guardLimiter<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toSluiceError("rate limiter", err);
  }
}

interface OpenTickets {
  /** Records the ticket as open unless the owner already has `limit` open ones. */
  take(owner: string, ticketId: string, expiresAt: number, limit: number, now: number): Promise<boolean>;
  release(owner: string, ticketId: string): Promise<void>;
}

class MemoryOpenTickets implements OpenTickets {
  readonly #open = new Map<string, Map<string, number>>();

  take(owner: string, ticketId: string, expiresAt: number, limit: number, now: number): Promise<boolean> {
    const mine = this.#open.get(owner) ?? new Map<string, number>();
    for (const [id, until] of mine) if (until <= now) mine.delete(id);
    if (mine.size >= limit) return Promise.resolve(false);
    mine.set(ticketId, expiresAt);
    this.#open.set(owner, mine);
    return Promise.resolve(true);
  }

  release(owner: string, ticketId: string): Promise<void> {
    this.#open.get(owner)?.delete(ticketId);
    return Promise.resolve();
  }
}

/** A sorted set per key: ticket ids scored by expiry. Expired ones are dropped before counting, all in one script. */
const TAKE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1`;

type OpenTicketCommands = Redis & { sluiceTakeOpen(key: string, now: number, limit: number, expiresAt: number, id: string): Promise<number> };

class RedisOpenTickets implements OpenTickets {
  readonly #redis: OpenTicketCommands;

  constructor(redis: Redis) {
    redis.defineCommand("sluiceTakeOpen", { numberOfKeys: 1, lua: TAKE });
    this.#redis = redis as OpenTicketCommands;
  }

  async take(owner: string, ticketId: string, expiresAt: number, limit: number, now: number): Promise<boolean> {
    return (await this.#redis.sluiceTakeOpen(`sluice:open:${owner}`, now, limit, expiresAt, ticketId)) === 1;
  }

  async release(owner: string, ticketId: string): Promise<void> {
    await this.#redis.zrem(`sluice:open:${owner}`, ticketId);
  }
}
