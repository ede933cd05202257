import { startPostgres } from "../../test/helpers/backends.js";
import { createMetadataStore } from "../metadata/factory.js";
import { webhookStoreBeside } from "./factory.js";
import { describeWebhookStore } from "./webhook-store.conformance.js";

describeWebhookStore("postgres (a real PostgreSQL server)", async () => {
  const server = await startPostgres();
  const metadata = await createMetadataStore({ kind: "postgres", url: server.url });
  const peerMetadata = await createMetadataStore({ kind: "postgres", url: server.url });
  return {
    store: webhookStoreBeside(metadata),
    peer: webhookStoreBeside(peerMetadata),
    close: async () => {
      await Promise.all([metadata.close(), peerMetadata.close()]);
      await server.stop();
    },
  };
});
