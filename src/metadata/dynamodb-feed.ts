/**
 * The events feed on DynamoDB (docs/dynamodb.md, "The events feed on DynamoDB").
 *
 * DynamoDB has no transaction ids and no snapshot to tell a reader what may still commit, so
 * the feed is a gapless sequence of positions instead:
 * - A writer takes the next position from a counter item (UpdateItem ADD) before its
 *   transaction, and the transaction puts the event at that position only if the position is
 *   still free (`attribute_not_exists`).
 * - A reader returns positions in order and stops at the first one not written yet: that
 *   writer may still commit. Once the position after it has been waiting longer than
 *   GAP_WAIT_MS (its writer has crashed, or gave the position up), the reader fills it with a
 *   tombstone, also only if free. Whichever of the two puts comes first wins: a writer that
 *   finds its position taken fails whole, and tries again at a new position. So no event is
 *   ever skipped, and none is written half.
 * - The retention sweep deletes events, which leaves gaps that no writer will fill. Only
 *   positions at or below the *settled* mark (every position up to it is written or was, seen by
 *   a reader) are deleted, and a reader passes gaps at or below that mark at once.
 * Each event is also copied into its upload's partition (`upload#<id>`, `event#<position>`), in
 * the same transaction, so that one upload's events are read without scanning the feed.
 */
import { BatchWriteItemCommand, ConditionalCheckFailedException, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand, type TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { badRequest } from "../errors.js";
import type { EventPage, SluiceEvent } from "../events/types.js";
import { isWithinKeyPrefix } from "../domain/scopes.js";
import { N, S, num, pad, str, type DynamoTable, type Item } from "./dynamodb-items.js";
import type { EventQuery } from "./metadata-store.js";

const FEED_PK = "events";
const COUNTER_KEY = { pk: S("counter#events"), sk: S("counter") };
const SETTLED_KEY = { pk: S("counter#events-settled"), sk: S("counter") };
/** gsi1 partition of every feed item, by creation time: what the retention sweep deletes. */
const BY_AGE = "m#events-by-age";
/** How long a reader waits on an allocated, unwritten position before it fills it with a tombstone. */
export const GAP_WAIT_MS = 5000;
/** Feed items one read looks at, at most: a filtered reader far behind moves on in steps. */
const SCAN_CAP = 2000;
/** Positions one read fills at most (a crashed writer leaves one; a burst of them, a few). */
const FILL_CAP = 100;

/** A position in the feed, and when it was handed out (the writer's clock). */
export interface FeedPosition {
  position: number;
  at: number;
}

/** The next position, for an event that is about to be written (one write to the counter item). */
export async function allocatePosition(table: DynamoTable): Promise<FeedPosition> {
  const out = await table.client.send(
    new UpdateItemCommand({
      TableName: table.name,
      Key: COUNTER_KEY,
      UpdateExpression: "ADD #n :one",
      ExpressionAttributeNames: { "#n": "n" },
      ExpressionAttributeValues: { ":one": N(1) },
      ReturnValues: "UPDATED_NEW",
    }),
  );
  return { position: num(out.Attributes, "n")!, at: Date.now() };
}

/**
 * The event's two items for its change's transaction, in this order: the feed's (its condition
 * fails if a reader filled the position first) and the upload's copy. `key` is the object key the
 * feed's key-prefix filter reads.
 */
export function eventItems(table: DynamoTable, { position, at }: FeedPosition, event: SluiceEvent, key: string): TransactWriteItem[] {
  const body = S(JSON.stringify({ ...event, key }));
  return [
    {
      Put: {
        TableName: table.name,
        Item: { pk: S(FEED_PK), sk: S(pad(position)), pos: N(position), at: N(at), e: body, gsi1pk: S(BY_AGE), gsi1sk: S(`${pad(event.createdAt)}#${pad(position)}`) },
        ConditionExpression: "attribute_not_exists(pk)",
      },
    },
    { Put: { TableName: table.name, Item: { pk: S(`upload#${event.uploadId}`), sk: S(`event#${pad(position)}`), pos: N(position), e: body } } },
  ];
}

/**
 * Fills a position with a tombstone if nothing is there: a reader's, for a writer that never
 * came, or a writer's own, for a position it gave up (so that readers need not wait for it).
 * False if the position was written.
 */
export async function fillWithTombstone(table: DynamoTable, position: number): Promise<boolean> {
  const now = Date.now();
  try {
    await table.client.send(
      new PutItemCommand({
        TableName: table.name,
        Item: { pk: S(FEED_PK), sk: S(pad(position)), pos: N(position), at: N(now), gsi1pk: S(BY_AGE), gsi1sk: S(`${pad(now)}#${pad(position)}`) },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}

/** A writer gives its position up (its change was refused, or must be tried again): best effort, readers fill it otherwise. */
export async function abandonPosition(table: DynamoTable, position: number): Promise<void> {
  await fillWithTombstone(table, position).catch(() => false);
}

type Stored = SluiceEvent & { key: string; position: number };

function storedEvent(item: Item): Stored | undefined {
  const body = str(item, "e");
  if (body === undefined) return undefined;
  const { key, ...event } = JSON.parse(body) as SluiceEvent & { key: string };
  return { ...event, key, position: num(item, "pos")! };
}

const asEvent = ({ id, type, uploadId, seq, createdAt, data }: Stored): SluiceEvent => ({ id, type, uploadId, seq, createdAt, data });

export async function readEvents(table: DynamoTable, query: EventQuery): Promise<EventPage> {
  const after = query.after === undefined ? 0 : decodeEventCursor(query.after);
  const matches = (e: Stored) =>
    (query.types === undefined || query.types.includes(e.type)) && (!query.keyPrefix || isWithinKeyPrefix(query.keyPrefix, e.key));
  if (query.limit <= 0) return { events: [], cursor: encodeEventCursor(after) };
  if (query.uploadId !== undefined) return readUploadEvents(table, query.uploadId, after, query.limit, matches);
  const { events, end } = await scanFeed(table, { after, limit: query.limit, matches });
  return { events: events.map(asEvent), cursor: encodeEventCursor(end) };
}

/**
 * Walks the feed from `after` in position order, up to the first position that may still be
 * written, `limit` matching events, or SCAN_CAP items. `end` is where the next read goes on:
 * the last event returned if the page is full, otherwise the last position looked at (so that a
 * filtered reader does not look at the same foreign events again). Raises the settled mark if
 * this walk began at or below it.
 */
async function scanFeed(table: DynamoTable, options: { after: number; limit: number; matches: (e: Stored) => boolean; cap?: number }) {
  const settledRead = readSettled(table);
  settledRead.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
  let settled: number | undefined;
  const events: Stored[] = [];
  let end = options.after;
  let looked = 0;
  walk: for (;;) {
    const page = await table.client.send(
      new QueryCommand({
        TableName: table.name,
        KeyConditionExpression: "pk = :pk AND sk > :from",
        ExpressionAttributeValues: { ":pk": S(FEED_PK), ":from": S(pad(end)) },
        ConsistentRead: true,
        Limit: Math.min(1000, Math.max(100, options.limit + 1)),
      }),
    );
    const items = page.Items ?? [];
    for (const item of items) {
      const position = num(item, "pos")!;
      if (position > end + 1) {
        settled ??= await settledRead;
        const from = Math.max(end + 1, settled + 1);
        if (from < position) {
          // Positions from..position-1 were handed out and not written yet: their writers may still commit.
          if (Date.now() - (num(item, "at") ?? 0) < GAP_WAIT_MS) break walk;
          const last = Math.min(position - 1, from + FILL_CAP - 1);
          const filled = await Promise.all(Array.from({ length: last - from + 1 }, (_, i) => fillWithTombstone(table, from + i)));
          // A writer got into the gap first, or the gap is longer than one read fills: read on from `end`.
          if (!filled.every(Boolean) || last < position - 1) continue walk;
        }
      }
      end = position;
      const event = storedEvent(item);
      if (event && options.matches(event)) {
        events.push(event);
        if (events.length >= options.limit) break walk;
      }
      if (++looked >= (options.cap ?? SCAN_CAP)) break walk;
    }
    if (!page.LastEvaluatedKey || items.length === 0) break;
  }
  settled ??= await settledRead;
  if (options.after <= settled && end > settled) await raiseSettled(table, end);
  return { events, end };
}

/**
 * One upload's events from its own partition (a consistent Query): one upload's events are
 * written one after another (each conditioned on the upload's `eventSeq`), and each took its
 * position after the previous one committed, so their positions rise with `seq`. A Query is
 * not a snapshot: one that ran while two commits landed could see the second without the first,
 * so a hole in `seq` is read again once (a hole that stays is an event the retention deleted).
 */
async function readUploadEvents(table: DynamoTable, uploadId: string, after: number, limit: number, matches: (e: Stored) => boolean): Promise<EventPage> {
  const load = async () => {
    const out: Stored[] = [];
    let start: Item | undefined;
    do {
      const page = await table.client.send(
        new QueryCommand({
          TableName: table.name,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :event)",
          ExpressionAttributeValues: { ":pk": S(`upload#${uploadId}`), ":event": S("event#") },
          ConsistentRead: true,
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      for (const item of page.Items ?? []) {
        const e = storedEvent(item);
        if (e) out.push(e);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  };
  let all = await load();
  if (all.some((e, i) => i > 0 && e.seq > all[i - 1]!.seq + 1)) all = await load();
  const events: Stored[] = [];
  let end = after;
  for (const e of all) {
    if (e.position <= after) continue;
    end = e.position;
    if (matches(e)) events.push(e);
    if (events.length >= limit) break;
  }
  return { events: events.map(asEvent), cursor: encodeEventCursor(end) };
}

async function readSettled(table: DynamoTable): Promise<number> {
  const out = await table.client.send(new GetItemCommand({ TableName: table.name, Key: SETTLED_KEY, ConsistentRead: true }));
  return num(out.Item, "h") ?? 0;
}

async function raiseSettled(table: DynamoTable, to: number): Promise<void> {
  try {
    await table.client.send(
      new UpdateItemCommand({
        TableName: table.name,
        Key: SETTLED_KEY,
        UpdateExpression: "SET #h = :h",
        ConditionExpression: "attribute_not_exists(#h) OR #h < :h",
        ExpressionAttributeNames: { "#h": "h" },
        ExpressionAttributeValues: { ":h": N(to) },
      }),
    );
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err; // another reader raised it further
  }
}

/**
 * The retention sweep. It first walks the feed from the settled mark (raising it), because only
 * events at or below the mark may go: a gap above it reads as a writer still to come. An event
 * created before `before` but above the mark (a writer still in flight below it) goes next time.
 */
export async function deleteEventsBefore(table: DynamoTable, before: number): Promise<number> {
  const settled = await readSettled(table);
  await scanFeed(table, { after: settled, limit: Number.MAX_SAFE_INTEGER, matches: () => false, cap: 10_000 });
  const mark = await readSettled(table);
  let deleted = 0;
  let start: Item | undefined;
  do {
    const page = await table.client.send(
      new QueryCommand({
        TableName: table.name,
        IndexName: "gsi1",
        KeyConditionExpression: "gsi1pk = :age AND gsi1sk < :before",
        FilterExpression: "#pos <= :mark",
        ExpressionAttributeNames: { "#pos": "pos" },
        ExpressionAttributeValues: { ":age": S(BY_AGE), ":before": S(pad(before)), ":mark": N(mark) },
        Limit: 200,
        ...(start && { ExclusiveStartKey: start }),
      }),
    );
    const keys: Item[] = [];
    for (const item of page.Items ?? []) {
      const position = num(item, "pos")!;
      keys.push({ pk: S(FEED_PK), sk: S(pad(position)) });
      const event = storedEvent(item);
      if (event) {
        keys.push({ pk: S(`upload#${event.uploadId}`), sk: S(`event#${pad(position)}`) });
        deleted++;
      }
    }
    await deleteAll(table, keys);
    start = page.LastEvaluatedKey;
  } while (start);
  return deleted;
}

/** BatchWriteItem in 25s, retrying what DynamoDB left unprocessed (throttled) a few times. */
async function deleteAll(table: DynamoTable, keys: Item[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 25) {
    let requests = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
    for (let attempt = 1; requests.length > 0; attempt++) {
      if (attempt > 5) throw new Error("DynamoDB left deletes unprocessed five times in a row (throttled).");
      const out = await table.client.send(new BatchWriteItemCommand({ RequestItems: { [table.name]: requests } }));
      requests = (out.UnprocessedItems?.[table.name] ?? []).flatMap((r) => (r.DeleteRequest?.Key ? [{ DeleteRequest: { Key: r.DeleteRequest.Key } }] : []));
      if (requests.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

/** Opaque to clients: `ev1.` then `0.<position>` base64url (the SQLite store's shape: no transaction id). */
function encodeEventCursor(position: number): string {
  return `ev1.${Buffer.from(`0.${position}`).toString("base64url")}`;
}

function decodeEventCursor(cursor: string): number {
  const match = /^ev1\.([A-Za-z0-9_-]{1,64})$/.exec(cursor);
  const parts = match && /^0\.(\d{1,16})$/.exec(Buffer.from(match[1]!, "base64url").toString());
  const position = Number(parts?.[1]);
  if (!parts || !Number.isSafeInteger(position)) {
    throw badRequest("invalid_cursor", "The cursor is not one Sluice gave out; start again without `after`, or with the last page's cursor.");
  }
  return position;
}
