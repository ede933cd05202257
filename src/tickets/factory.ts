import type { TicketStoreConfig } from "../config.js";
import { DynamoTicketStore } from "./dynamodb.js";
import { MemcachedTicketStore } from "./memcached.js";
import { MemoryTicketStore } from "./memory.js";
import { PostgresTicketStore } from "./postgres.js";
import { RedisTicketStore } from "./redis.js";
import type { TicketStore } from "./ticket-store.js";

export function createTicketStore(config: TicketStoreConfig): TicketStore {
  switch (config.kind) {
    case "memory":
      return new MemoryTicketStore();
    case "redis":
      return new RedisTicketStore({ url: config.url });
    case "memcached":
      return new MemcachedTicketStore({ servers: config.servers });
    case "postgres":
      return new PostgresTicketStore({ url: config.url });
    case "dynamodb":
      return new DynamoTicketStore({
        table: config.table,
        region: config.region,
        ...(config.endpoint && { endpoint: config.endpoint }),
        ...(config.credentials && { credentials: config.credentials }),
      });
  }
}
