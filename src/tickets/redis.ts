import { Redis, type RedisOptions } from "ioredis";
import { newSecret } from "../internal/crypto.js";
import { TOMBSTONE_MS, type ClaimResult, type ConsumeResult, type DueWatch, type Ticket, type TicketState, type TicketStore } from "./ticket-store.js";

/**
 * Tickets in Redis. Each ticket is one hash (`<prefix>t:<id>`):
 *   t  the ticket as JSON      s  state        e  expiresAt (ms)
 *   l  the lease, while held   u  lease until  p  when Redis may forget it (ms, PEXPIREAT)
 *   w  '1' while its expiry watch is kept here (`issueWatched`): it is then kept past its
 *      tombstone (WATCH_HOLD_MS) until the sweep settles the watch.
 * The watches are one sorted set (`<prefix>expiring`): ticket ids, scored by expiry; a sweep
 * moving some claims them into another (`<prefix>expiring:moving`), scored by when its claim
 * lapses.
 * Every transition is one Lua script, so a check and its write are one atomic step on the
 * server, and one round trip. Times are the instances' clocks (passed in), as they are for
 * `expiresAt` and the URLs' own expiry: instances are expected to keep NTP time.
 */
const STATE_ERRORS = new Set(["unknown", "expired", "claimed", "consumed", "revoked", "lease_lost"]);

// KEYS: the expiry watches, then the tickets; ARGV: for each ticket, its JSON, expiresAt,
// purgeAt and id, and '1' to watch its expiry → for each, 1 (issued) or 0 (exists)
const ISSUE_MANY = `
local issued = {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local j = (i - 2) * 5
  if redis.call('EXISTS', key) == 1 then
    issued[i - 1] = 0
  else
    if ARGV[j + 5] == '1' then
      redis.call('HSET', key, 't', ARGV[j + 1], 's', 'issued', 'e', ARGV[j + 2], 'p', ARGV[j + 3], 'w', '1')
      redis.call('ZADD', KEYS[1], ARGV[j + 2], ARGV[j + 4])
    else
      redis.call('HSET', key, 't', ARGV[j + 1], 's', 'issued', 'e', ARGV[j + 2], 'p', ARGV[j + 3])
    end
    redis.call('PEXPIREAT', key, ARGV[j + 3])
    issued[i - 1] = 1
  end
end
return issued`;

// KEYS: the expiry watches, the watches being moved; ARGV: due before, now, claimed until,
// at most → ids. Takes watches whose claim lapsed (an instance died while moving them) first,
// then due ones, and claims each for the caller (scored by when its claim lapses), so that
// instances sweeping at once take different watches.
const CLAIM_WATCHES = `
local limit = tonumber(ARGV[4])
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, limit)
if #ids < limit then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, limit - #ids)) do
    ids[#ids + 1] = id
  end
end
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], ARGV[3], id)
end
return ids`;

// KEYS: the expiry watches, the watches being moved, then the tickets; ARGV: their ids → the
// number of watches dropped. A ticket held for its watch ('w') is kept a tombstone past its
// expiry or lease from then on.
const SETTLE_WATCHES = `
local dropped = 0
for i = 3, #KEYS do
  local id = ARGV[i - 2]
  dropped = dropped + redis.call('ZREM', KEYS[2], id) + redis.call('ZREM', KEYS[1], id)
  local h = redis.call('HMGET', KEYS[i], 'w', 'e', 'u')
  if h[1] then
    local purge = math.max(tonumber(h[2]), tonumber(h[3] or '0')) + ${TOMBSTONE_MS}
    redis.call('HDEL', KEYS[i], 'w')
    redis.call('HSET', KEYS[i], 'p', purge)
    redis.call('PEXPIREAT', KEYS[i], purge)
  end
end
return dropped`;

/**
 * How long a ticket watched by the store is kept at most if its watch is never settled (no
 * sweep ran: every instance was down that long). A sweep settles it soon after its expiry.
 */
export const WATCH_HOLD_MS = 7 * 24 * 3600_000;

/** Tickets issued in one script call at most (a larger batch goes as several calls, sent at once). */
const ISSUE_BATCH = 256;

// Keeps the key until the later of its current purge time and `until` + tombstone.
const KEEP = `
local function keep(key, untilMs)
  local purge = untilMs + ${TOMBSTONE_MS}
  local current = tonumber(redis.call('HGET', key, 'p') or '0')
  if purge > current then
    redis.call('HSET', key, 'p', purge)
    redis.call('PEXPIREAT', key, purge)
  end
end`;

// KEYS[1]; ARGV: now, leaseMs, lease → {'ok', ticket} or {reason}
const CLAIM = `${KEEP}
local h = redis.call('HMGET', KEYS[1], 's', 'u', 'e', 't')
local s = h[1]
if not s then return {'unknown'} end
local now = tonumber(ARGV[1])
if s == 'consumed' or s == 'revoked' then return {s} end
if s == 'claimed' and tonumber(h[2]) > now then return {'claimed'} end
if tonumber(h[3]) <= now then return {'expired'} end
local untilMs = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 's', 'claimed', 'l', ARGV[3], 'u', untilMs)
keep(KEYS[1], untilMs)
return {'ok', h[4]}`;

// KEYS[1]; ARGV: now, leaseMs, lease → 1 or 0
const RENEW = `${KEEP}
local h = redis.call('HMGET', KEYS[1], 's', 'l')
if h[1] ~= 'claimed' or h[2] ~= ARGV[3] then return 0 end
local untilMs = tonumber(ARGV[1]) + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'u', untilMs)
keep(KEYS[1], untilMs)
return 1`;

// KEYS[1]; ARGV: lease → 1 or 0
const RELEASE = `
local h = redis.call('HMGET', KEYS[1], 's', 'l')
if h[1] ~= 'claimed' or h[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 's', 'issued')
redis.call('HDEL', KEYS[1], 'l', 'u')
return 1`;

// KEYS[1]; ARGV: now, lease ('' for none) → {'ok', ticket} or {reason}
const CONSUME = `
local h = redis.call('HMGET', KEYS[1], 's', 'l', 'u', 'e', 't')
local s = h[1]
if not s then return {'unknown'} end
if s == 'consumed' or s == 'revoked' then return {s} end
local now = tonumber(ARGV[1])
if ARGV[2] == '' then
  if s == 'claimed' and tonumber(h[3]) > now then return {'claimed'} end
  if tonumber(h[4]) <= now then return {'expired'} end
elseif s ~= 'claimed' or h[2] ~= ARGV[2] then
  return {'lease_lost'}
end
redis.call('HSET', KEYS[1], 's', 'consumed')
redis.call('HDEL', KEYS[1], 'l', 'u')
return {'ok', h[5]}`;

// KEYS[1]; ARGV: now → 1 or 0
const REVOKE = `
local h = redis.call('HMGET', KEYS[1], 's', 'u')
local s = h[1]
if not s or s == 'consumed' or s == 'revoked' then return 0 end
if s == 'claimed' and tonumber(h[2]) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 's', 'revoked')
redis.call('HDEL', KEYS[1], 'l', 'u')
return 1`;

interface TicketCommands {
  /** `numberOfKeys` first, then the watches' key and the tickets' keys, then five values per ticket. */
  sluiceIssueMany(numberOfKeys: number, ...keysThenValues: (string | number)[]): Promise<number[]>;
  sluiceClaimWatches(watches: string, moving: string, before: number, now: number, claimedUntil: number, limit: number): Promise<string[]>;
  /** `numberOfKeys` first, then the two sets' keys and the tickets' keys, then their ids. */
  sluiceSettleWatches(numberOfKeys: number, ...keysThenIds: string[]): Promise<number>;
  sluiceClaim(key: string, now: number, leaseMs: number, lease: string): Promise<[string, string?]>;
  sluiceRenew(key: string, now: number, leaseMs: number, lease: string): Promise<number>;
  sluiceRelease(key: string, lease: string): Promise<number>;
  sluiceConsume(key: string, now: number, lease: string): Promise<[string, string?]>;
  sluiceRevoke(key: string, now: number): Promise<number>;
}

/**
 * Connection options for a backend that must fail fast: a command waits at most ~2 s (one
 * reconnect attempt, then an error the service answers 503 with), and reconnection goes on
 * in the background at most a second apart, so service resumes when Redis does.
 */
export function failFastRedisOptions(): RedisOptions {
  return {
    connectTimeout: 2000,
    commandTimeout: 2000,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
    enableAutoPipelining: true,
    lazyConnect: false,
  };
}

export class RedisTicketStore implements TicketStore {
  readonly name = "redis ticket store";
  readonly #redis: Redis & TicketCommands;
  readonly #prefix: string;
  /** A sorted set: the ids of the tickets whose expiry is watched, scored by their expiry. */
  readonly #watches: string;
  /** A sorted set: the watches a sweep has claimed to move, scored by when its claim lapses. */
  readonly #moving: string;
  readonly #now: () => number;

  constructor(options: { url: string; prefix?: string; now?: () => number }) {
    // The issue batch is already one command per turn of the event loop: auto-pipelining would
    // only wrap it in a pipeline of one. Measured in this process (issue 19): 110 → 43 µs of CPU
    // for a batch of one ticket, 13–15 → 5.6–6.6 µs a ticket in batches of 20.
    const redis = new Redis(options.url, { ...failFastRedisOptions(), autoPipeliningIgnoredCommands: ["sluiceIssueMany"] });
    // Errors surface on the commands (as 503s); the connection's own error events would
    // otherwise be unhandled and are only the same news again.
    redis.on("error", () => {});
    redis.defineCommand("sluiceIssueMany", { lua: ISSUE_MANY }); // the key count is the first argument
    redis.defineCommand("sluiceClaimWatches", { numberOfKeys: 2, lua: CLAIM_WATCHES });
    redis.defineCommand("sluiceSettleWatches", { lua: SETTLE_WATCHES });
    redis.defineCommand("sluiceClaim", { numberOfKeys: 1, lua: CLAIM });
    redis.defineCommand("sluiceRenew", { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand("sluiceRelease", { numberOfKeys: 1, lua: RELEASE });
    redis.defineCommand("sluiceConsume", { numberOfKeys: 1, lua: CONSUME });
    redis.defineCommand("sluiceRevoke", { numberOfKeys: 1, lua: REVOKE });
    this.#redis = redis as Redis & TicketCommands;
    this.#prefix = options.prefix ?? "sluice:";
    this.#watches = `${this.#prefix}expiring`;
    this.#moving = `${this.#prefix}expiring:moving`;
    this.#now = options.now ?? Date.now;
  }

  #key(id: string): string {
    return `${this.#prefix}t:${id}`;
  }

  /**
   * Issuance is the hot path: the tickets issued while the event loop goes round once are
   * written by one script call (each still checked and set on its own), rather than one call
   * each. Per ticket that is less client work (one command, one reply to parse, for the batch)
   * and less Redis work (one script run); measured in `npm run bench` (issue 19).
   */
  issue(ticket: Ticket): Promise<void> {
    return this.#enqueue(ticket, false);
  }

  /**
   * The ticket and its expiry watch, in the same script run as the ticket: one more command on
   * the server (`ZADD`), where the metadata store's watch was a commit of its own.
   */
  issueWatched(ticket: Ticket): Promise<void> {
    return this.#enqueue(ticket, true);
  }

  #enqueue(ticket: Ticket, watched: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pendingIssues.push({ ticket, watched, resolve, reject });
      if (this.#pendingIssues.length === 1) setImmediate(() => this.#issuePending());
    });
  }

  readonly #pendingIssues: { ticket: Ticket; watched: boolean; resolve: () => void; reject: (err: unknown) => void }[] = [];

  #issuePending(): void {
    while (this.#pendingIssues.length > 0) {
      const batch = this.#pendingIssues.splice(0, ISSUE_BATCH);
      const keys = [this.#watches];
      const values: (string | number)[] = [];
      for (const { ticket, watched } of batch) {
        keys.push(this.#key(ticket.id));
        values.push(JSON.stringify(ticket), ticket.expiresAt, ticket.expiresAt + (watched ? WATCH_HOLD_MS : TOMBSTONE_MS), ticket.id, watched ? 1 : 0);
      }
      this.#redis.sluiceIssueMany(keys.length, ...keys, ...values).then(
        (issued) =>
          batch.forEach((b, i) => {
            if (issued[i] === 1) b.resolve();
            else b.reject(new Error(`Ticket ${b.ticket.id} already exists.`));
          }),
        (err: unknown) => batch.forEach((b) => b.reject(err)),
      );
    }
  }

  /**
   * Claims the due watches for this caller (see CLAIM_WATCHES) for `claimMs`: until they are
   * settled, or the claim lapses, no other caller is given them.
   */
  async dueWatches(before: number, limit: number, { claimMs }: { claimMs: number }): Promise<DueWatch[]> {
    const now = this.#now();
    const ids = await this.#redis.sluiceClaimWatches(this.#watches, this.#moving, before, now, now + claimMs, limit);
    return Promise.all(ids.map(async (id) => ({ id, ticket: await this.get(id) })));
  }

  async settleWatches(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#redis.sluiceSettleWatches(ids.length + 2, this.#watches, this.#moving, ...ids.map((id) => this.#key(id)), ...ids);
  }

  async claim(id: string, { leaseMs }: { leaseMs: number }): Promise<ClaimResult> {
    const lease = newSecret(12);
    const [outcome, json] = await this.#redis.sluiceClaim(this.#key(id), this.#now(), leaseMs, lease);
    if (outcome === "ok" && json !== undefined) return { ok: true, ticket: JSON.parse(json) as Ticket, lease };
    return { ok: false, reason: reason(outcome) as Exclude<ClaimResult, { ok: true }>["reason"] };
  }

  async renew(id: string, lease: string, { leaseMs }: { leaseMs: number }): Promise<boolean> {
    return (await this.#redis.sluiceRenew(this.#key(id), this.#now(), leaseMs, lease)) === 1;
  }

  async release(id: string, lease: string): Promise<boolean> {
    return (await this.#redis.sluiceRelease(this.#key(id), lease)) === 1;
  }

  async consume(id: string, lease: string | null): Promise<ConsumeResult> {
    const [outcome, json] = await this.#redis.sluiceConsume(this.#key(id), this.#now(), lease ?? "");
    if (outcome === "ok" && json !== undefined) return { ok: true, ticket: JSON.parse(json) as Ticket };
    return { ok: false, reason: reason(outcome) };
  }

  async revoke(id: string): Promise<boolean> {
    return (await this.#redis.sluiceRevoke(this.#key(id), this.#now())) === 1;
  }

  async get(id: string): Promise<{ ticket: Ticket; state: TicketState } | undefined> {
    const [json, state, leaseUntil] = await this.#redis.hmget(this.#key(id), "t", "s", "u");
    if (json === null || json === undefined || state === null || state === undefined) return undefined;
    const lapsed = state === "claimed" && Number(leaseUntil ?? 0) <= this.#now();
    return { ticket: JSON.parse(json) as Ticket, state: lapsed ? "issued" : (state as TicketState) };
  }

  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}

function reason(outcome: string): Exclude<ConsumeResult, { ok: true }>["reason"] {
  if (!STATE_ERRORS.has(outcome)) throw new Error(`Unexpected answer from the ticket script: ${outcome}`);
  return outcome as Exclude<ConsumeResult, { ok: true }>["reason"];
}
