import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newId } from "../internal/crypto.js";
import { startMotoDynamo, type BackendServer } from "../../test/helpers/backends.js";
import { startProxy, type FaultyProxy } from "../../test/helpers/proxy.js";
import { GAP_WAIT_MS, allocatePosition, eventItems } from "./dynamodb-feed.js";
import { writeAtomically } from "./dynamodb-items.js";
import { createMetadataStore } from "./factory.js";
import { describeMetadataStore, eventFor, eventsOf, upload } from "./metadata-store.conformance.js";
import type { DynamoMetadataStore } from "./dynamodb-store.js";

/**
 * The conformance suite on a DynamoDB-compatible server (moto's: dynalite has no transactions),
 * as two instances with clients of their own on one table.
 */
describeMetadataStore("dynamodb (moto's server, a local DynamoDB-compatible server, two instances)", async () => {
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

describe("dynamodb metadata store, beyond the conformance suite", () => {
  let server: BackendServer;
  let proxy: FaultyProxy;
  let store: DynamoMetadataStore;
  before(async () => {
    server = await startMotoDynamo();
    proxy = await startProxy(server.url);
    const config = { kind: "dynamodb" as const, table: "sluice-more", region: "us-east-1", endpoint: proxy.url, credentials: { accessKeyId: "local", secretAccessKey: "local" } };
    store = (await createMetadataStore(config)) as DynamoMetadataStore;
    await store.migrate();
  });
  after(async () => {
    await store.close();
    await proxy.close();
    await server.stop();
  });

  it("counts a write whose reply was lost as done when the SDK's retry finds the store's own write there, for an insert and for an update", async () => {
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
    proxy.fault = () => undefined;
  });

  it("waits on a position whose writer never comes, fills it once it has waited GAP_WAIT_MS, and the writer coming late then fails whole", async () => {
    const start = await readToEnd(store);
    const lost = await allocatePosition(store.table);
    const later = upload({ state: "rejected" });
    await store.insertUpload(later, eventFor(later, "upload.rejected"));
    const waiting = await store.readEvents({ limit: 100, after: start });
    assert.deepEqual(waiting.events, [], "the later event waits behind the missing position");
    assert.equal(waiting.cursor, start);
    await new Promise((resolve) => setTimeout(resolve, GAP_WAIT_MS + 300));
    const filled = await store.readEvents({ limit: 100, after: start });
    assert.deepEqual(filled.events.map((e) => e.uploadId), [later.id], "once the gap has waited long enough, it is filled and the feed goes on");
    const late = upload();
    const outcome = await writeAtomically(store.table, eventItems(store.table, lost, { id: newId("evt"), type: "upload.failed", uploadId: late.id, seq: 1, createdAt: Date.now(), data: eventFor(late, "upload.failed").data }, late.key));
    assert.deepEqual(outcome, { ok: false, reasons: ["ConditionalCheckFailed", "None"] }, "the late writer's transaction fails, its copy included");
    assert.deepEqual(await eventsOf(store, late.id), []);
    assert.deepEqual((await store.readEvents({ limit: 100, after: filled.cursor })).events, []);
  });
});

async function readToEnd(store: DynamoMetadataStore): Promise<string> {
  let cursor: string | undefined;
  for (;;) {
    const page = await store.readEvents({ limit: 1000, ...(cursor !== undefined && { after: cursor }) });
    if (page.events.length === 0) return page.cursor;
    cursor = page.cursor;
  }
}
