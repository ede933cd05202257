/** Rate limits and quotas: how much, per what, and where they are counted. */
import { z } from "zod";
import { ConfigError, isUrl, wholeNumber } from "./fields.js";
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
  SLUICE_RATE_LIMIT: rate().prefault("60/min"),
  SLUICE_RATE_LIMIT_IP: rate().prefault("off"),
  SLUICE_RATE_LIMIT_STORE: z.string().min(1).optional(),
  SLUICE_TRUST_PROXY: wholeNumber("a count of proxies", 0, 10).default(0),
};

type RateLimitEnv = z.output<z.ZodObject<typeof rateLimitFields>>;

/** Unset, the limiters count where the tickets are when that is a Redis every instance shares. */
export function parseRateLimitStore(e: RateLimitEnv, tickets: TicketStoreConfig): RateLimitStoreConfig {
  const value = e.SLUICE_RATE_LIMIT_STORE ?? (tickets.kind === "redis" ? tickets.url : "memory");
  if (value === "memory") return { kind: "memory" };
  if (isUrl(value, ["redis:", "rediss:"])) return { kind: "redis", url: value };
  throw new ConfigError("Invalid SLUICE_RATE_LIMIT_STORE: expected memory or redis://host:port");
}
