import { startPostgres } from "../../test/helpers/backends.js";
import { createMetadataStore } from "./factory.js";
import { describeMetadataStore } from "./metadata-store.conformance.js";

describeMetadataStore("postgres (a real PostgreSQL server)", async () => {
  const server = await startPostgres();
  const store = await createMetadataStore({ kind: "postgres", url: server.url });
  const peer = await createMetadataStore({ kind: "postgres", url: server.url });
  return {
    store,
    peer,
    close: async () => {
      await Promise.all([store.close(), peer.close()]);
      await server.stop();
    },
  };
});
