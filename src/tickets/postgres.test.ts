import { startPostgres } from "../../test/helpers/backends.js";
import { PostgresTicketStore } from "./postgres.js";
import { describeTicketStore } from "./ticket-store.conformance.js";

describeTicketStore("postgres (a real PostgreSQL server)", async () => {
  const server = await startPostgres();
  const store = new PostgresTicketStore({ url: server.url });
  const peer = new PostgresTicketStore({ url: server.url });
  return {
    store,
    peer,
    async close() {
      await Promise.all([store.close(), peer.close()]);
      await server.stop();
    },
  };
}, { shared: true });
