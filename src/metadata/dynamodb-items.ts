/**
 * Small typed pieces shared by the DynamoDB metadata store and its event feed: attribute values,
 * sortable numbers, shards, and one transaction call that says why it was cancelled.
 * (`@aws-sdk/util-dynamodb` is not installed; the store writes few attribute shapes, all here.)
 */
import { randomUUID } from "node:crypto";
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  TransactionCanceledException,
  type AttributeValue,
  type DynamoDBClient,
  type TransactWriteItem,
} from "@aws-sdk/client-dynamodb";

/** The table and the client that reaches it (the webhooks store shares both: `webhooks/factory.ts`). */
export interface DynamoTable {
  client: DynamoDBClient;
  name: string;
}

export type Item = Record<string, AttributeValue>;

export const S = (value: string): AttributeValue => ({ S: value });
export const N = (value: number): AttributeValue => ({ N: String(value) });
export const str = (item: Item | undefined, name: string): string | undefined => item?.[name]?.S;
export const num = (item: Item | undefined, name: string): number | undefined => (item?.[name]?.N === undefined ? undefined : Number(item[name].N));

/** A whole number as a fixed-width string, so that sort keys order as the numbers do (times in ms, positions). */
export const pad = (n: number): string => String(Math.max(0, Math.trunc(n))).padStart(16, "0");

/**
 * Which of `shards` index partitions an id's entry goes to. An index partition takes about 1000
 * writes a second; entries every upload writes (listing, due jobs, expiry watches) are spread
 * over a few, and readers query them all and merge (docs/dynamodb.md, "Limits and costs").
 */
export function shardOf(id: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % shards;
}

/** Each item's reason code when a transaction is cancelled (`None`, `ConditionalCheckFailed`, `TransactionConflict`, …). */
export type WriteOutcome = { ok: true } | { ok: false; reasons: string[] };

/**
 * Writes the items atomically: one item as a plain (cheaper) PutItem or DeleteItem, several as
 * one TransactWriteItems. A failed condition, or a conflict with another transaction, comes back
 * as a reason per item (the caller decides: refuse, or read again and retry); any other error
 * is thrown. The request token makes the SDK's own retry of a transaction idempotent: a retry
 * after a lost answer does not fail on the very condition the first attempt satisfied.
 */
export async function writeAtomically(table: DynamoTable, items: TransactWriteItem[]): Promise<WriteOutcome> {
  const only = items.length === 1 ? items[0]! : undefined;
  try {
    if (only?.Put) await table.client.send(new PutItemCommand({ ...only.Put, TableName: table.name }));
    else if (only?.Delete) await table.client.send(new DeleteItemCommand({ ...only.Delete, TableName: table.name }));
    else await table.client.send(new TransactWriteItemsCommand({ TransactItems: items, ClientRequestToken: randomUUID() }));
    return { ok: true };
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return { ok: false, reasons: ["ConditionalCheckFailed"] };
    if (err instanceof TransactionCanceledException) {
      const reasons = (err.CancellationReasons ?? []).map((r) => r.Code ?? "None");
      // Cancelled for capacity or validation: not a verdict on the data, so an error.
      if (reasons.every((r) => r === "None" || r === "ConditionalCheckFailed" || r === "TransactionConflict")) return { ok: false, reasons };
    }
    throw err;
  }
}

export const isConditionFailure = (outcome: WriteOutcome, index: number) => !outcome.ok && outcome.reasons[index] === "ConditionalCheckFailed";
export const isConflict = (outcome: WriteOutcome) => !outcome.ok && outcome.reasons.includes("TransactionConflict");

/** A short random pause before an optimistic write is tried again, so that racing writers spread out. */
export const backoff = (attempt: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
