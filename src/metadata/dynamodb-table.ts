/**
 * The one DynamoDB table behind `SLUICE_DATABASE=dynamodb://<table>` (issue 19): upload records
 * and their processing jobs, API keys, settings, the events outbox, expiry watches and the
 * webhooks store all live here, told apart by key prefixes (docs/dynamodb.md lists every
 * item type and access pattern). The CDK stack (`infra/sluice-stack.ts`) declares the same
 * table; `ensureMetadataTable` creates it for development and tests.
 *
 * Keys: `pk` (partition) and `sk` (sort), both strings. Two overloaded global secondary
 * indexes, `gsi1` (`gsi1pk`, `gsi1sk`) and `gsi2` (`gsi2pk`, `gsi2sk`), project every attribute
 * and are sparse: an item appears in one only while it carries that index's key attributes.
 * `ttl` (epoch seconds) lets DynamoDB collect items nobody reads any more.
 */
import { CreateTableCommand, DescribeTableCommand, ResourceNotFoundException, UpdateTimeToLiveCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";

export const METADATA_TABLE = {
  partitionKey: "pk",
  sortKey: "sk",
  indexes: [
    { name: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
    { name: "gsi2", partitionKey: "gsi2pk", sortKey: "gsi2sk" },
  ],
  ttlAttribute: "ttl",
} as const;

/** Creates the table if it does not exist (development and tests; deployments create it with the stack). */
export async function ensureMetadataTable(client: DynamoDBClient, table: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: table }));
    return;
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
  }
  const { partitionKey, sortKey, indexes, ttlAttribute } = METADATA_TABLE;
  const names = [partitionKey, sortKey, ...indexes.flatMap((i) => [i.partitionKey, i.sortKey])];
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: names.map((AttributeName) => ({ AttributeName, AttributeType: "S" })),
        KeySchema: [
          { AttributeName: partitionKey, KeyType: "HASH" },
          { AttributeName: sortKey, KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: indexes.map((i) => ({
          IndexName: i.name,
          KeySchema: [
            { AttributeName: i.partitionKey, KeyType: "HASH" },
            { AttributeName: i.sortKey, KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        })),
      }),
    );
  } catch (err) {
    // Another instance created it first.
    if ((err as { name?: string }).name !== "ResourceInUseException") throw err;
  }
  await waitUntilActive(client, table);
  try {
    await client.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true } }));
  } catch {
    // Local emulators (dynalite) do not support TTL; it only collects garbage.
  }
}

async function waitUntilActive(client: DynamoDBClient, table: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    if (Table?.TableStatus === "ACTIVE" && (Table.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === "ACTIVE")) return;
    if (Date.now() > deadline) throw new Error(`DynamoDB table ${table} is not active after 60 s.`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
