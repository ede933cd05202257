import { MemoryTicketStore } from "./memory.js";
import { describeTicketStore } from "./ticket-store.conformance.js";

describeTicketStore("memory", () => {
  const store = new MemoryTicketStore();
  return Promise.resolve({ store, close: () => store.close() });
});
