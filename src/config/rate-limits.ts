/** Rate limits and quotas: how much, per what, and where they are counted. */
import { z } from "zod";
import { ConfigError, documented, isUrl, wholeNumber } from "./fields.js";
import type { RateLimitConfig, RateLimitStoreConfig, TicketStoreConfig } from "./types.js";

export const RATE_PATTERN = /^(off|[1-9]\d{0,8}\/(s|sec|second|m|min|minute|h|hour))$/i;

/** `N/sec`, `N/min`, `N/hour` (or `off`, undefined) → points per window. */
export function parseRate(s: string): RateLimitConfig | undefined {
  if (s.toLowerCase() === "off") return undefined;
  const [n, unit] = s.toLowerCase().split("/") as [string, string];
  const durationSeconds = unit.startsWith("s") ? 1 : unit.startsWith("m") ? 60 : 3600;
  return { points: Number(n), durationSeconds };
}

export function formatRate(rate: RateLimitConfig): string {
  return `${rate.points}/${rate.durationSeconds === 1 ? "sec" : rate.durationSeconds === 60 ? "min" : "hour"}`;
}

const rate = () => z.string().regex(RATE_PATTERN, "expected N/sec, N/min, N/hour or off").transform(parseRate);

export const rateLimitFields = {
  SLUICE_RATE_LIMIT: documented(rate().prefault("60/min"), {
    description:
      "`POST /v1/uploads` per API key: `N/sec`, `N/min`, `N/hour` or `off`; over it: `429` with `Retry-After`. A scoped key may have its own",
  }),
  SLUICE_RATE_LIMIT_IP: documented(rate().prefault("off"), {
    description: "`POST /v1/uploads` per client address, same format",
  }),
  SLUICE_RATE_LIMIT_STORE: documented(z.string().min(1).optional(), {
    description: "where limits and quotas are counted: `memory` (per instance) or `redis://…` (shared by every instance)",
    default: "the Redis of `SLUICE_TICKETS` if it is one, else `memory`",
  }),
  SLUICE_TRUST_PROXY: documented(wholeNumber("a count of proxies", 0, 10).default(0), {
    description:
      "how many proxies in front of Sluice append to `X-Forwarded-For`; the client address is the entry the outermost one appended (0: the socket's peer)",
  }),
};

type RateLimitEnv = z.output<z.ZodObject<typeof rateLimitFields>>;

/** Unset, the limiters count where the tickets are when that is a Redis every instance shares. */
export function parseRateLimitStore(e: RateLimitEnv, tickets: TicketStoreConfig): RateLimitStoreConfig {
  const value = e.SLUICE_RATE_LIMIT_STORE ?? (tickets.kind === "redis" ? tickets.url : "memory");
  if (value === "memory") return { kind: "memory" };
  if (isUrl(value, ["redis:", "rediss:"])) return { kind: "redis", url: value };
  throw new ConfigError("Invalid SLUICE_RATE_LIMIT_STORE: expected memory or redis://host:port");
}
