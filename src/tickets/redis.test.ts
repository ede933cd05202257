import { startRedis } from "../../test/helpers/backends.js";
import { RedisTicketStore } from "./redis.js";
import { describeTicketStore } from "./ticket-store.conformance.js";

describeTicketStore("redis (a real redis-server)", async () => {
  const server = await startRedis();
  const store = new RedisTicketStore({ url: server.url });
  const peer = new RedisTicketStore({ url: server.url });
  return {
    store,
    peer,
    async close() {
      await Promise.all([store.close(), peer.close()]);
      await server.stop();
    },
  };
}, { shared: true });
