/** The ticket store: which one, and where. Parsing loads no driver; the tickets factory does. */
import path from "node:path";
import { z } from "zod";
import type { AwsConnection } from "./aws.js";
import { ConfigError, httpUrl, isUrl } from "./fields.js";
import type { DatabaseConfig, TicketStoreConfig } from "./types.js";

export const ticketFields = {
  SLUICE_TICKETS: z.string().min(1).default("memory"),
  AWS_ENDPOINT_URL_DYNAMODB: httpUrl().optional(),
};

type TicketEnv = z.output<z.ZodObject<typeof ticketFields>>;

export function parseTickets(e: TicketEnv, aws: AwsConnection, database: DatabaseConfig): TicketStoreConfig {
  const value = e.SLUICE_TICKETS;
  // Memory tickets journal their expiry watches beside a SQLite database: on the same disk,
  // as durable as the database was. With any other database the watch stays in it (a
  // container's local disk may not outlive a redeploy; the database does).
  if (value === "memory") return database.kind === "sqlite" && database.path !== ":memory:" ? { kind: "memory", watchDir: path.join(path.dirname(database.path), "expiry-watches") } : { kind: "memory" };
  const table = /^dynamodb:\/\/([A-Za-z0-9_.-]{3,255})$/.exec(value)?.[1];
  if (table) return { kind: "dynamodb", table, region: aws.region, endpoint: e.AWS_ENDPOINT_URL_DYNAMODB ?? aws.endpoint, credentials: aws.credentials };
  if (isUrl(value, ["redis:", "rediss:"])) return { kind: "redis", url: value };
  if (isUrl(value, ["postgres:", "postgresql:"])) return { kind: "postgres", url: value };
  if (value.startsWith("memcached://")) {
    try {
      return { kind: "memcached", servers: parseMemcachedUrl(value) };
    } catch {
      // falls through to the message below
    }
  }
  throw new ConfigError("Invalid SLUICE_TICKETS: expected memory, redis://host:port, memcached://host:port[,host:port…], postgres://… or dynamodb://<table>");
}

/** `memcached://host:port[,host:port…]` → the server list. */
export function parseMemcachedUrl(url: string): string[] {
  const rest = url.replace(/^memcached:\/\//, "").replace(/\/.*$/, "");
  const servers = rest.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (servers.length === 0 || servers.some((s) => !/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/.test(s))) {
    throw new Error("expected memcached://host:port[,host:port…]");
  }
  return servers;
}
