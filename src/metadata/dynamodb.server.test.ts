import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newId } from "../internal/crypto.js";
import { startMotoDynamo } from "../../test/helpers/backends.js";
import { startProxy } from "../../test/helpers/proxy.js";
import { allocatePosition, eventItems } from "./dynamodb-feed.js";
import { writeAtomically } from "./dynamodb-items.js";
import { createMetadataStore } from "./factory.js";
import { describeMetadataStore, upload } from "./metadata-store.conformance.js";
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

describe("dynamodb metadata store: a write whose reply is lost", () => {
  it("counts as done when the SDK's retry finds the store's own write there, for an insert and for an update", async () => {
    const server = await startMotoDynamo();
    const proxy = await startProxy(server.url);
    const config = { kind: "dynamodb" as const, table: "sluice-lost-replies", region: "us-east-1", endpoint: proxy.url, credentials: { accessKeyId: "local", secretAccessKey: "local" } };
    const store = await createMetadataStore(config);
    try {
      await store.migrate();
      // The first PutItem after `lose` is set reaches the server and is applied; its reply is cut.
      let lose = false;
      proxy.fault = (req) => {
        if (!lose || req.headers["x-amz-target"] !== "DynamoDB_20120810.PutItem") return undefined;
        lose = false;
        return { loseReply: true };
      };
      const r = upload({ state: "rejected", reason: "type_not_allowed: test" });
      lose = true;
      assert.equal(await store.insertUpload(r), true, "the insert is this call's, though DynamoDB refused its retry");
      assert.equal(lose, false, "a reply was lost");
      assert.equal(await store.insertUpload(r), false, "a second insert is still refused");
      lose = true;
      assert.equal(await store.updateUpload(r.id, { state: "cancelled" }, { states: ["rejected"] }), true, "the update is this call's, though its retry found the state moved");
      assert.equal(lose, false, "a reply was lost");
      assert.equal((await store.getUpload(r.id))?.state, "cancelled");
      assert.ok(proxy.seen.filter((s) => s.status === "dropped").length >= 2);
    } finally {
      await store.close();
      await proxy.close();
      await server.stop();
    }
  });
});
