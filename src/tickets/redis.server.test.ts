import { startRedis, type BackendServer } from "../../test/helpers/backends.js";
import { RedisTicketStore } from "./redis.js";
import { describeSharedTicketStore } from "./ticket-store.conformance.js";

let server: BackendServer;
describeSharedTicketStore(
  "redis (a real redis-server)",
  async () => [(server = await startRedis())],
  () => new RedisTicketStore({ url: server.url }),
);
