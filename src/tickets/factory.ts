import type { TicketStoreConfig } from "../config.js";
import { MemoryTicketStore } from "./memory.js";
import type { TicketStore } from "./ticket-store.js";

export function createTicketStore(config: TicketStoreConfig): TicketStore {
  switch (config.kind) {
    case "memory":
      return new MemoryTicketStore();
  }
}
