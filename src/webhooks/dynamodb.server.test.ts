import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { startMotoDynamo } from "../../test/helpers/backends.js";
import { newId } from "../internal/crypto.js";
import { ensureMetadataTable } from "../metadata/dynamodb-table.js";
import { createMetadataStore } from "../metadata/factory.js";
import { DynamoWebhookStore } from "./dynamodb-store.js";
import { webhookStoreBeside } from "./factory.js";
import { describeWebhookStore, event, webhook } from "./webhook-store.conformance.js";

const TABLE = "sluice-metadata";
const T0 = 1_900_000_000_000;

/** A DynamoDB-compatible server from npm (dynalite, in memory), on a free loopback port; each instance with a client of its own. */
async function startDynalite() {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: DynamoDBClient[] = [];
  return {
    instance() {
      const client = new DynamoDBClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
      clients.push(client);
      return { client, store: new DynamoWebhookStore({ client, table: TABLE, migrate: () => ensureMetadataTable(client, TABLE) }) };
    },
    async stop() {
      for (const c of clients) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describeWebhookStore("dynamodb (dynalite, a local DynamoDB-compatible server)", async () => {
  const dynamo = await startDynalite();
  return { store: dynamo.instance().store, peer: dynamo.instance().store, close: () => dynamo.stop() };
});

/**
 * As Sluice builds it: beside the DynamoDB metadata store, through its table accessor, loaded on
 * the first call. On moto's server, the one the metadata store's tests use (it has
 * transactions, which the metadata store needs): a second DynamoDB implementation.
 */
describeWebhookStore("dynamodb beside the DynamoDB metadata store (webhookStoreBeside; moto_server)", async () => {
  const server = await startMotoDynamo();
  const config = { kind: "dynamodb" as const, table: TABLE, region: "us-east-1", endpoint: server.url, credentials: { accessKeyId: "local", secretAccessKey: "local" } };
  const [metadata, peerMetadata] = [await createMetadataStore(config), await createMetadataStore(config)];
  return {
    store: webhookStoreBeside(metadata),
    peer: webhookStoreBeside(peerMetadata),
    close: async () => {
      await Promise.all([metadata.close(), peerMetadata.close()]);
      await server.stop();
    },
  };
});

/** What the DynamoDB layout adds to the port's behaviour: pages of index reads, batches of writes, items left behind. */
describe("DynamoWebhookStore on dynalite", () => {
  let dynamo: Awaited<ReturnType<typeof startDynalite>>;
  let store: DynamoWebhookStore;
  let client: DynamoDBClient;
  before(async () => {
    dynamo = await startDynalite();
    ({ store, client } = dynamo.instance());
    await store.migrate();
  });
  after(() => dynamo.stop());

  const itemsUnder = async (pk: string) => (await client.send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: pk } } }))).Items ?? [];

  it("deliveries waiting behind a lower seq do not hide it, however many fill the first page of the due index", async () => {
    const w = webhook();
    await store.insertWebhook(w);
    const uploads = [newId("upl"), newId("upl"), newId("upl")];
    const events = uploads.flatMap((u) => [event(u, 1), event(u, 2)]);
    await store.enqueueDeliveries({ webhookId: w.id, fromCursor: null, toCursor: "c", events, now: T0, giveUpAt: T0 + 60_000 });
    // Each upload's seq 1 fails once and is retried later; its seq 2, due since T0, waits for it.
    const firsts = await store.leaseDueDeliveries({ owner: "a", now: T0, leaseMs: 10, limit: 10 });
    assert.deepEqual(firsts.map((d) => d.seq), [1, 1, 1]);
    for (const d of firsts) {
      const attempt = { webhookId: w.id, eventId: d.eventId, attempt: 1, at: T0, status: 500, latencyMs: 1, responseHead: "", error: "HTTP 500" };
      assert.equal(await store.recordAttempt({ owner: "a", attempt, outcome: { state: "pending", nextAttemptAt: T0 + 100 } }), true);
    }
    // Two at a time: the seq 2s sort first in the index (due earlier), yet every seq 1 is leased within a few passes.
    const leased: number[] = [];
    for (let pass = 0; pass < 4; pass++) leased.push(...(await store.leaseDueDeliveries({ owner: "b", now: T0 + 100, leaseMs: 1000, limit: 2 })).map((d) => d.seq));
    assert.deepEqual(leased, [1, 1, 1]);
    assert.deepEqual((await store.listAttempts(w.id, { limit: 1 }))[0]?.responseHead, "");
    await store.deleteWebhook(w.id);
  });

  it("a page of many events is written in batches, and deleting the webhook leaves none of its items", async () => {
    const w = webhook();
    await store.insertWebhook(w);
    const events = Array.from({ length: 40 }, () => newId("upl")).flatMap((u) => [event(u, 1), event(u, 2)]);
    assert.equal(await store.enqueueDeliveries({ webhookId: w.id, fromCursor: null, toCursor: "c", events, now: T0, giveUpAt: T0 + 60_000 }), true);
    assert.equal((await itemsUnder(`delivery#${w.id}`)).length, 160); // a delivery and its pointer per event
    const due = await store.leaseDueDeliveries({ owner: "a", now: T0, leaseMs: 1000, limit: 100 });
    assert.equal(due.length, 40);
    assert.ok(due.every((d) => d.seq === 1 && d.leaseOwner === "a"));
    assert.equal(await store.redeliver(w.id, { since: T0, until: T0 + 3 }, { now: T0 + 5000, giveUpAt: T0 + 9000 }), 80);
    assert.equal(await store.deleteWebhook(w.id), true);
    assert.deepEqual([...(await itemsUnder(`delivery#${w.id}`)), ...(await itemsUnder(`attempt#${w.id}`))], []);
    // A fan-out to a deleted webhook writes nothing.
    assert.equal(await store.enqueueDeliveries({ webhookId: w.id, fromCursor: null, toCursor: "d", events, now: T0, giveUpAt: T0 }), false);
    assert.deepEqual(await itemsUnder(`delivery#${w.id}`), []);
  });
});
