import { newId } from "../internal/crypto.js";
import { startMotoDynamo } from "../../test/helpers/backends.js";
import { allocatePosition, eventItems } from "./dynamodb-feed.js";
import { writeAtomically } from "./dynamodb-items.js";
import { createMetadataStore } from "./factory.js";
import { describeMetadataStore } from "./metadata-store.conformance.js";
import type { DynamoMetadataStore } from "./dynamodb-store.js";

/**
 * The conformance suite on a DynamoDB-compatible server (moto's: dynalite has no transactions),
 * as two instances with clients of their own on one table.
 */
describeMetadataStore("dynamodb (moto_server, a local DynamoDB-compatible server)", async () => {
  const server = await startMotoDynamo();
  const config = { kind: "dynamodb" as const, table: `sluice-${newId("t").slice(2, 12)}`, region: "us-east-1", endpoint: server.url, credentials: { accessKeyId: "local", secretAccessKey: "local" } };
  const store = (await createMetadataStore(config)) as DynamoMetadataStore;
  const peer = await createMetadataStore(config);
  return {
    store,
    peer,
    /**
     * A writer that has taken its position (as a PostgreSQL writer holds its transaction id
     * from its first write) and commits its event only when told: the store's own steps,
     * with the pause between them that a slow writer has.
     */
    async openWriter() {
      const position = await allocatePosition(store.table);
      let uploadId = "";
      return {
        writeEvent: (id: string) => {
          uploadId = id;
          return Promise.resolve();
        },
        commit: async () => {
          const key = `${uploadId}/held`;
          const data = { uploadId, key, filename: "held", size: 0, declaredContentType: "application/octet-stream", contentType: null, sha256: null, metadata: {}, apiKeyId: null, state: "failed" as const };
          const outcome = await writeAtomically(store.table, eventItems(store.table, position, { id: newId("evt"), type: "upload.failed", uploadId, seq: 1, createdAt: Date.now(), data }, key));
          if (!outcome.ok) throw new Error(`The held writer's position was taken: ${outcome.reasons.join(", ")}`);
        },
      };
    },
    close: async () => {
      await Promise.all([store.close(), peer.close()]);
      await server.stop();
    },
  };
});
