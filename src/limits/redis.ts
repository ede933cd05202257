import type { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { CountedWindows } from "./counted-windows.js";
import type { LimitStore } from "./limit-store.js";

/** A sorted set per key: ticket ids scored by expiry. Expired ones are dropped before counting, all in one script. */
const TAKE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1`;

type OpenTicketCommands = Redis & { sluiceTakeOpen(key: string, now: number, limit: number, expiresAt: number, id: string): Promise<number> };

/** Limits counted in a Redis every instance shares, so that a burst spread over instances is counted once. */
export class RedisLimitStore implements LimitStore {
  readonly shared = true;
  readonly #redis: OpenTicketCommands;
  readonly #windows: CountedWindows;

  /** `redis`: a client the runtime connected (the driver is loaded only when limits live in Redis). */
  constructor(redis: Redis) {
    redis.on("error", () => {}); // surfaces on the calls, as 503s
    redis.defineCommand("sluiceTakeOpen", { numberOfKeys: 1, lua: TAKE });
    this.#redis = redis as OpenTicketCommands;
    this.#windows = new CountedWindows((options) => new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true }));
  }

  consume: LimitStore["consume"] = (window, subject, points) => this.#windows.consume(window, subject, points);
  refund: LimitStore["refund"] = (window, subject, points) => this.#windows.refund(window, subject, points);

  async takeOpen(owner: string, ticketId: string, { expiresAt, limit, now }: { expiresAt: number; limit: number; now: number }): Promise<boolean> {
    return (await this.#redis.sluiceTakeOpen(`sluice:open:${owner}`, now, limit, expiresAt, ticketId)) === 1;
  }

  async releaseOpen(owner: string, ticketId: string): Promise<void> {
    await this.#redis.zrem(`sluice:open:${owner}`, ticketId);
  }

  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
