import { memcachedUrl, startMemcached } from "../../test/helpers/backends.js";
import { parseMemcachedUrl } from "../config.js";
import { MemcachedTicketStore } from "./memcached.js";
import { describeTicketStore } from "./ticket-store.conformance.js";

describeTicketStore("memcached (two real memcached servers, consistent hashing)", async () => {
  const servers = [await startMemcached(), await startMemcached()];
  const store = new MemcachedTicketStore({ servers: parseMemcachedUrl(memcachedUrl(servers)) });
  const peer = new MemcachedTicketStore({ servers: parseMemcachedUrl(memcachedUrl(servers)) });
  return {
    store,
    peer,
    async close() {
      await Promise.all([store.close(), peer.close()]);
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}, { shared: true });
