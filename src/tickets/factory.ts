import type { TicketStoreConfig } from "../config.js";
import type { TicketStore } from "./ticket-store.js";

/** The configured ticket store. Only its own code (and client library) is loaded. */
export async function createTicketStore(config: TicketStoreConfig): Promise<TicketStore> {
  switch (config.kind) {
    case "memory": {
      if (!config.watchDir) {
        const { MemoryTicketStore } = await import("./memory.js");
        return new MemoryTicketStore();
      }
      const { JournaledMemoryTicketStore } = await import("./memory-watches.js");
      return new JournaledMemoryTicketStore({ dir: config.watchDir });
    }
    case "redis": {
      const { RedisTicketStore } = await import("./redis.js");
      return new RedisTicketStore({ url: config.url });
    }
    case "memcached": {
      const { MemcachedTicketStore } = await import("./memcached.js");
      return new MemcachedTicketStore({ servers: config.servers });
    }
    case "postgres": {
      const { PostgresTicketStore } = await import("./postgres.js");
      return new PostgresTicketStore({ url: config.url });
    }
    case "dynamodb": {
      const { DynamoTicketStore } = await import("./dynamodb.js");
      return new DynamoTicketStore({
        table: config.table,
        region: config.region,
        ...(config.endpoint && { endpoint: config.endpoint }),
        ...(config.credentials && { credentials: config.credentials }),
      });
    }
  }
}
