/**
 * The metadata store in one DynamoDB table (`SLUICE_DATABASE=dynamodb://<table>`, issue 19):
 * the serverless deployment's, paid per request, with no VPC and no database server.
 * docs/dynamodb.md lists every item and access pattern; in short:
 *
 *   upload#<id>  upload        the record (JSON in `r`), its version `v` and event count `eventSeq`;
 *                              while not deleted, in gsi1 `m#files#<shard>` and gsi2 `m#prefix#<key prefix>`
 *                              (sort key: created time and id), the file listings
 *   upload#<id>  job           while the upload awaits processing: gsi1 `m#due#<shard>`, sorted by
 *                              when it is due (the later of its next attempt and its lease's end)
 *   upload#<id>  event#<pos>   its events (a copy of the feed's: `dynamodb-feed.ts`)
 *   apikey#<id>  apikey        a key (gsi1 `m#apikeys`, by creation), and
 *   keyhash#<h>  keyhash       the same key by its hash (authentication reads this one item)
 *   setting#<n>  setting       a setting's value
 *   expiry#<id>  expiry        an expiry watch, in gsi1 `m#expiry#<shard>` by expiry time
 *   events       <pos>         the feed; counter#events and counter#events-settled its two marks
 *
 * Every change of an upload is optimistic: read the item (consistently), decide as the Kysely
 * store's WHERE clause would, and write it back whole on the condition that its version is still
 * the one read, with its job item and its event in the same transaction. A writer that lost the
 * race reads again and decides again, so the condition is always judged on the latest record.
 */
import { decodeFileCursor, encodeFileCursor } from "./file-cursor.js";
import { BatchGetItemCommand, DeleteItemCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand, QueryCommand, UpdateItemCommand, ConditionalCheckFailedException, type TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { keyPrefixOfObjectKey } from "../domain/scopes.js";
import type { EventData, EventPage, NewEvent, SluiceEvent } from "../events/types.js";
import { newId } from "../internal/crypto.js";
import { abandonPosition, allocatePosition, deleteEventsBefore, eventItems, readEvents, type FeedPosition } from "./dynamodb-feed.js";
import { N, S, backoff, isConditionFailure, num, pad, shardOf, str, writeAtomically, type DynamoTable, type Item } from "./dynamodb-items.js";
import { METADATA_TABLE, ensureMetadataTable } from "./dynamodb-table.js";
import {
  FILE_STATES,
  type ApiKeyRecord,
  type EventQuery,
  type ExpiryWatch,
  type FilePage,
  type MetadataStore,
  type UpdateCondition,
  type UploadPatch,
  type UploadRecord,
  type UploadState,
} from "./metadata-store.js";

export interface DynamoMetadataStoreOptions {
  table: string;
  region?: string | undefined;
  endpoint?: string | undefined;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined } | undefined;
  /** A client of the caller's (tests); otherwise one is made, failing fast. */
  client?: DynamoDBClient;
}

/** Index partitions per listing: see `shardOf`. */
const SHARDS = 4;
/** Optimistic writes of one upload tried at most this often before the store gives up (a storm of writers on one upload). */
const MAX_ATTEMPTS = 12;

/** Expiry watches written at once by one instance, at most. */
const WATCH_WRITES = 16;

const AWAITING_PROCESSING: readonly UploadState[] = ["uploaded", "processing"];

interface Current {
  record: UploadRecord;
  version: number;
  eventSeq: number;
  /** The id of the write that left the item so (see `#change`). */
  write: string | undefined;
}

export class DynamoMetadataStore implements MetadataStore {
  readonly name = "dynamodb metadata store";
  /** The table and its client, for the webhooks store that lives in the same table (`webhooks/factory.ts`). */
  readonly table: DynamoTable;

  constructor(options: DynamoMetadataStoreOptions) {
    const client =
      options.client ??
      new DynamoDBClient({
        ...(options.region && { region: options.region }),
        ...(options.endpoint && { endpoint: options.endpoint }),
        ...(options.credentials && { credentials: options.credentials }),
        // Fail fast, as the ticket store does: a metadata call that cannot be answered within
        // seconds becomes a 503. Conflicts between transactions are retried by the store itself.
        maxAttempts: 2,
        requestHandler: { connectionTimeout: 2000, requestTimeout: 3000 },
      });
    this.table = { client, name: options.table };
  }

  /**
   * Describes the table, and creates it only if it is missing (development, tests, a deployment
   * without the stack). The stack creates it, so that there the functions need no CreateTable
   * right: DescribeTable finds it. A table of another shape is refused, not written into.
   */
  async migrate(): Promise<void> {
    await ensureMetadataTable(this.table.client, this.table.name);
    const { Table } = await this.table.client.send(new DescribeTableCommand({ TableName: this.table.name }));
    const keyOf = (schema: { AttributeName?: string | undefined; KeyType?: string | undefined }[] | undefined) =>
      (schema ?? []).map((k) => `${k.KeyType}:${k.AttributeName}`).join(",");
    const wanted = `HASH:${METADATA_TABLE.partitionKey},RANGE:${METADATA_TABLE.sortKey}`;
    const indexes = new Map((Table?.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName, keyOf(i.KeySchema)]));
    const fits = keyOf(Table?.KeySchema) === wanted && METADATA_TABLE.indexes.every((i) => indexes.get(i.name) === `HASH:${i.partitionKey},RANGE:${i.sortKey}`);
    if (!fits) throw new Error(`DynamoDB table ${this.table.name} is not a Sluice metadata table (keys pk/sk, indexes gsi1 and gsi2: docs/dynamodb.md).`);
  }

  async insertUpload(record: UploadRecord, event?: NewEvent): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const write = newId("w");
      const items: TransactWriteItem[] = [{ Put: { TableName: this.table.name, Item: uploadItem(record, { version: 1, eventSeq: event ? 1 : 0, write }), ConditionExpression: "attribute_not_exists(pk)" } }];
      if (AWAITING_PROCESSING.includes(record.state)) items.push({ Put: { TableName: this.table.name, Item: jobItem(record) } });
      const position = event && (await allocatePosition(this.table));
      const eventAt = items.length;
      if (event && position) items.push(...eventItems(this.table, position, { id: newId("evt"), type: event.type, uploadId: record.id, seq: 1, createdAt: event.createdAt, data: event.data }, record.key));
      const outcome = await writeAtomically(this.table, items);
      if (outcome.ok) return true;
      if (position && !isConditionFailure(outcome, eventAt)) await abandonPosition(this.table, position.position);
      // Refused because the record is there: unless it is this very write, answered on the SDK's retry after a lost reply.
      if (isConditionFailure(outcome, 0)) return (await this.#read(record.id))?.write === write;
      if (attempt >= MAX_ATTEMPTS) throw new Error(`Could not record upload ${record.id}: ${MAX_ATTEMPTS} conflicting writes in a row.`);
      await backoff(attempt);
    }
  }

  async getUpload(id: string): Promise<UploadRecord | undefined> {
    return (await this.#read(id))?.record;
  }

  async updateUpload(id: string, patch: UploadPatch, condition: UpdateCondition = {}, event?: NewEvent): Promise<boolean> {
    const changed = await this.#change(
      id,
      (r) => {
        if (condition.states && !condition.states.includes(r.state)) return undefined;
        if (condition.leaseOwner !== undefined && r.leaseOwner !== condition.leaseOwner) return undefined;
        if (condition.notDeleted && r.deletedAt !== null) return undefined;
        return applyPatch(r, patch);
      },
      event,
    );
    return changed !== undefined;
  }

  async listFiles(options: { limit: number; cursor?: string; state?: UploadState; keyPrefix?: string | undefined }): Promise<FilePage> {
    const after = options.cursor ? decodeFileCursor(options.cursor) : undefined;
    const wanted = options.state ? [options.state] : FILE_STATES;
    const partitions = options.keyPrefix
      ? [{ index: "gsi2", pk: `m#prefix#${options.keyPrefix}` }]
      : Array.from({ length: SHARDS }, (_, shard) => ({ index: "gsi1", pk: `m#files#${shard}` }));
    const found = await Promise.all(
      partitions.map(({ index, pk }) =>
        this.#queryIndex({
          index,
          pk,
          below: after && `${pad(after.createdAt)}#${after.id}`,
          newestFirst: true,
          want: options.limit + 1,
          keep: (item) => wanted.includes(str(item, "state") as UploadState),
        }),
      ),
    );
    const sortKey = (item: Item) => str(item, options.keyPrefix ? "gsi2sk" : "gsi1sk")!;
    const rows = found.flat().sort((a, b) => (sortKey(a) < sortKey(b) ? 1 : -1));
    const items = rows.slice(0, options.limit).map((item) => recordOf(item));
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > options.limit && last ? encodeFileCursor(last) : null };
  }

  async findDueForProcessing({ now, limit }: { now: number; limit: number }): Promise<string[]> {
    const found = await Promise.all(
      Array.from({ length: SHARDS }, (_, shard) => this.#queryIndex({ index: "gsi1", pk: `m#due#${shard}`, atMost: `${pad(now)}#~`, newestFirst: false, want: limit })),
    );
    return found
      .flat()
      .sort((a, b) => (str(a, "gsi1sk")! < str(b, "gsi1sk")! ? -1 : 1))
      .slice(0, limit)
      .map((item) => str(item, "id")!);
  }

  async acquireProcessingLease({ id, owner, now, leaseMs }: { id: string; owner: string; now: number; leaseMs: number }): Promise<UploadRecord | undefined> {
    return this.#change(id, (r) => {
      if (!AWAITING_PROCESSING.includes(r.state)) return undefined;
      if (r.leaseUntil !== null && r.leaseUntil > now && r.leaseOwner !== owner) return undefined;
      return { ...r, state: "processing", leaseOwner: owner, leaseUntil: now + leaseMs, nextAttemptAt: null, updatedAt: now };
    });
  }

  async insertApiKey(k: ApiKeyRecord): Promise<void> {
    const body = S(JSON.stringify(k));
    const outcome = await writeAtomically(this.table, [
      {
        Put: {
          TableName: this.table.name,
          Item: { pk: S(`apikey#${k.id}`), sk: S("apikey"), r: body, gsi1pk: S("m#apikeys"), gsi1sk: S(`${pad(k.createdAt)}#${k.id}`) },
          ConditionExpression: "attribute_not_exists(pk)",
        },
      },
      { Put: { TableName: this.table.name, Item: { pk: S(`keyhash#${k.hash}`), sk: S("keyhash"), r: body }, ConditionExpression: "attribute_not_exists(pk)" } },
    ]);
    if (!outcome.ok) throw new Error(`API key ${k.id} (or its hash) is already stored.`);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    return this.#getKey({ pk: S(`keyhash#${hash}`), sk: S("keyhash") });
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    return this.#getKey({ pk: S(`apikey#${id}`), sk: S("apikey") });
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    const items = await this.#queryIndex({ index: "gsi1", pk: "m#apikeys", newestFirst: false, want: Number.MAX_SAFE_INTEGER });
    return items.map((item) => JSON.parse(str(item, "r")!) as ApiKeyRecord);
  }

  /** Both items change together, on the condition that the key is as read (not revoked meanwhile). */
  async revokeApiKey(id: string, now: number): Promise<boolean> {
    const out = await this.table.client.send(new GetItemCommand({ TableName: this.table.name, Key: { pk: S(`apikey#${id}`), sk: S("apikey") }, ConsistentRead: true }));
    const body = str(out.Item, "r");
    if (body === undefined) return false;
    const key = JSON.parse(body) as ApiKeyRecord;
    if (key.revokedAt !== null) return false;
    const revoked = S(JSON.stringify({ ...key, revokedAt: now }));
    const update = (pk: string, sk: string): TransactWriteItem => ({
      Update: {
        TableName: this.table.name,
        Key: { pk: S(pk), sk: S(sk) },
        UpdateExpression: "SET r = :revoked",
        ConditionExpression: "r = :read",
        ExpressionAttributeValues: { ":revoked": revoked, ":read": S(body) },
      },
    });
    const outcome = await writeAtomically(this.table, [update(`apikey#${id}`, "apikey"), update(`keyhash#${key.hash}`, "keyhash")]);
    return outcome.ok;
  }

  readEvents(query: EventQuery): Promise<EventPage> {
    return readEvents(this.table, query);
  }

  /**
   * One conditional put per watch (a batch write could not keep the first of two watches, and
   * each costs one write unit either way). Every issuance watches: a burst of them is let through
   * WATCH_WRITES at a time, so that it queues here rather than time out waiting for a connection.
   */
  watchExpiry(watch: ExpiryWatch): Promise<void> {
    return this.#watchWrites.run(() => this.#putWatch(watch));
  }

  readonly #watchWrites = new Limiter(WATCH_WRITES);

  async #putWatch(watch: ExpiryWatch): Promise<void> {
    const outcome = await writeAtomically(this.table, [
      {
        Put: {
          TableName: this.table.name,
          Item: {
            pk: S(`expiry#${watch.uploadId}`),
            sk: S("expiry"),
            id: S(watch.uploadId),
            w: S(JSON.stringify(watch.data)),
            gsi1pk: S(`m#expiry#${shardOf(watch.uploadId, SHARDS)}`),
            gsi1sk: S(`${pad(watch.expiresAt)}#${watch.uploadId}`),
          },
          ConditionExpression: "attribute_not_exists(pk)",
        },
      },
    ]);
    void outcome; // watched already: the first watch stays
  }

  /** One watch per upload here (its item is keyed by the upload), so the expiry is not needed. */
  async unwatchExpiry({ uploadId }: Pick<ExpiryWatch, "uploadId" | "expiresAt">): Promise<void> {
    await this.#deleteWatch(uploadId);
  }

  async #deleteWatch(uploadId: string): Promise<void> {
    await this.table.client.send(new DeleteItemCommand({ TableName: this.table.name, Key: { pk: S(`expiry#${uploadId}`), sk: S("expiry") } }));
  }

  /**
   * Each unused upload is reported in a transaction of its own: the check that no record
   * exists, the watch's delete (on the condition that it is still there: of two sweeps, one
   * reports) and the event.
   */
  async expireDue({ now, graceMs, limit, inFlight }: { now: number; graceMs: number; limit: number; inFlight?: (uploadId: string) => Promise<boolean> }): Promise<number> {
    const found = await Promise.all(
      Array.from({ length: SHARDS }, (_, shard) => this.#queryIndex({ index: "gsi1", pk: `m#expiry#${shard}`, atMost: `${pad(now - graceMs)}#~`, newestFirst: false, want: limit })),
    );
    const due = found
      .flat()
      .sort((a, b) => (str(a, "gsi1sk")! < str(b, "gsi1sk")! ? -1 : 1))
      .slice(0, limit)
      .map((item) => ({ uploadId: str(item, "id")!, data: JSON.parse(str(item, "w")!) as EventData }));
    const recorded = await this.#existingUploads(due.map((d) => d.uploadId));
    await Promise.all(due.filter((d) => recorded.has(d.uploadId)).map((d) => this.#deleteWatch(d.uploadId)));
    const candidates = due.filter((d) => !recorded.has(d.uploadId));
    const busy = inFlight ? await Promise.all(candidates.map((d) => inFlight(d.uploadId))) : [];
    const unused = candidates.filter((_, i) => !busy[i]);
    let reported = 0;
    for (let i = 0; i < unused.length; i += 16) {
      const results = await Promise.all(unused.slice(i, i + 16).map((d) => this.#reportExpired(d.uploadId, d.data, now)));
      reported += results.filter(Boolean).length;
    }
    return reported;
  }

  async #reportExpired(uploadId: string, data: EventData, now: number): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const position = await allocatePosition(this.table);
      const event: SluiceEvent = { id: newId("evt"), type: "upload.expired", uploadId, seq: 1, createdAt: now, data };
      const outcome = await writeAtomically(this.table, [
        { ConditionCheck: { TableName: this.table.name, Key: { pk: S(`upload#${uploadId}`), sk: S("upload") }, ConditionExpression: "attribute_not_exists(pk)" } },
        { Delete: { TableName: this.table.name, Key: { pk: S(`expiry#${uploadId}`), sk: S("expiry") }, ConditionExpression: "attribute_exists(pk)" } },
        ...eventItems(this.table, position, event, data.key),
      ]);
      if (outcome.ok) return true;
      if (!isConditionFailure(outcome, 2)) await abandonPosition(this.table, position.position);
      // Arrived meanwhile, or another sweep reported it: nothing to say.
      if (isConditionFailure(outcome, 0) || isConditionFailure(outcome, 1)) return false;
      if (attempt >= MAX_ATTEMPTS) throw new Error(`Could not report upload ${uploadId} expired: ${MAX_ATTEMPTS} conflicting writes in a row.`);
      await backoff(attempt);
    }
  }

  deleteEventsBefore(before: number): Promise<number> {
    return deleteEventsBefore(this.table, before);
  }

  /** Settings are read far more often than written: read first, and write only a missing one. */
  async getOrInitSetting(name: string, value: string): Promise<string> {
    const key = { pk: S(`setting#${name}`), sk: S("setting") };
    const read = async () => {
      const out = await this.table.client.send(new GetItemCommand({ TableName: this.table.name, Key: key, ConsistentRead: true }));
      const stored = str(out.Item, "value");
      return stored === undefined ? undefined : (JSON.parse(stored) as string);
    };
    const stored = await read();
    if (stored !== undefined) return stored;
    // Values are kept as JSON strings: a setting may be empty (a cursor not yet moved).
    const outcome = await writeAtomically(this.table, [{ Put: { TableName: this.table.name, Item: { ...key, value: S(JSON.stringify(value)) }, ConditionExpression: "attribute_not_exists(pk)" } }]);
    if (outcome.ok) return value;
    const first = await read();
    if (first === undefined) throw new Error(`Setting ${name} is neither stored nor storable.`);
    return first;
  }

  async replaceSetting(name: string, expected: string, value: string): Promise<boolean> {
    try {
      await this.table.client.send(
        new UpdateItemCommand({
          TableName: this.table.name,
          Key: { pk: S(`setting#${name}`), sk: S("setting") },
          UpdateExpression: "SET #value = :value",
          ConditionExpression: "#value = :expected",
          ExpressionAttributeNames: { "#value": "value" },
          ExpressionAttributeValues: { ":value": S(JSON.stringify(value)), ":expected": S(JSON.stringify(expected)) },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** One eventually consistent read of one small item: cheaper than DescribeTable, whose rate is limited per account. */
  async ping(): Promise<void> {
    await this.table.client.send(new GetItemCommand({ TableName: this.table.name, Key: { pk: S("setting#ping"), sk: S("setting") } }));
  }

  close(): Promise<void> {
    this.table.client.destroy();
    return Promise.resolve();
  }

  async #read(id: string): Promise<Current | undefined> {
    const out = await this.table.client.send(new GetItemCommand({ TableName: this.table.name, Key: { pk: S(`upload#${id}`), sk: S("upload") }, ConsistentRead: true }));
    if (!out.Item) return undefined;
    return { record: recordOf(out.Item), version: num(out.Item, "v") ?? 0, eventSeq: num(out.Item, "eventSeq") ?? 0, write: str(out.Item, "w") };
  }

  /**
   * The optimistic write every upload change goes through: read, let `decide` return the new
   * record (or undefined: the condition does not hold), and write it back if the version is
   * still the one read, with the job item as the new record needs it and the event, if any, at
   * seq `eventSeq + 1`. On a lost race (the version moved, a transaction conflict, or a reader
   * took the event's position) everything is read and decided again, with a new position: so
   * one upload's events take positions in the order they commit. Each write carries an id of
   * its own (`w`): a write refused only because the SDK retried it after its reply was lost finds
   * its own id on the item, and counts as done, rather than deciding again on its own result.
   */
  async #change(id: string, decide: (r: UploadRecord) => UploadRecord | undefined, event?: NewEvent): Promise<UploadRecord | undefined> {
    let tried: { write: string; next: UploadRecord } | undefined;
    for (let attempt = 1; ; attempt++) {
      const current = await this.#read(id);
      if (!current) return undefined;
      if (tried && current.write === tried.write) return tried.next;
      const next = decide(current.record);
      if (!next) return undefined;
      const eventSeq = current.eventSeq + (event ? 1 : 0);
      tried = { write: newId("w"), next };
      const items: TransactWriteItem[] = [
        {
          Put: {
            TableName: this.table.name,
            Item: uploadItem(next, { version: current.version + 1, eventSeq, write: tried.write }),
            ConditionExpression: "v = :v",
            ExpressionAttributeValues: { ":v": N(current.version) },
          },
        },
      ];
      const job = jobChange(this.table.name, current.record, next);
      if (job) items.push(job);
      let position: FeedPosition | undefined;
      const eventAt = items.length;
      if (event) {
        position = await allocatePosition(this.table);
        items.push(...eventItems(this.table, position, { id: newId("evt"), type: event.type, uploadId: id, seq: eventSeq, createdAt: event.createdAt, data: event.data }, next.key));
      }
      const outcome = await writeAtomically(this.table, items);
      if (outcome.ok) return next;
      if (position && !isConditionFailure(outcome, eventAt)) await abandonPosition(this.table, position.position);
      if (attempt >= MAX_ATTEMPTS) throw new Error(`Could not update upload ${id}: ${MAX_ATTEMPTS} conflicting writes in a row.`);
      await backoff(attempt);
    }
  }

  async #getKey(key: Item): Promise<ApiKeyRecord | undefined> {
    // Consistent: a revocation holds from the moment it is answered, on every instance.
    const out = await this.table.client.send(new GetItemCommand({ TableName: this.table.name, Key: key, ConsistentRead: true }));
    const body = str(out.Item, "r");
    return body === undefined ? undefined : (JSON.parse(body) as ApiKeyRecord);
  }

  /** Ids of the uploads that have a record, by consistent BatchGetItem in hundreds. */
  async #existingUploads(ids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Item[] = ids.slice(i, i + 100).map((id) => ({ pk: S(`upload#${id}`), sk: S("upload") }));
      for (let attempt = 1; keys.length > 0; attempt++) {
        if (attempt > 5) throw new Error("DynamoDB left reads unprocessed five times in a row (throttled).");
        const out = await this.table.client.send(
          new BatchGetItemCommand({ RequestItems: { [this.table.name]: { Keys: keys, ConsistentRead: true, ProjectionExpression: "pk" } } }),
        );
        for (const item of out.Responses?.[this.table.name] ?? []) found.add(str(item, "pk")!.slice("upload#".length));
        keys = out.UnprocessedKeys?.[this.table.name]?.Keys ?? [];
        if (keys.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
    return found;
  }

  /**
   * Up to `want` items of one index partition that `keep` accepts, in sort-key order, below
   * (newest first) or at most (oldest first) a sort key. Index reads are eventually consistent:
   * an item written a moment ago may be missing for that moment.
   */
  async #queryIndex(options: { index: string; pk: string; below?: string | undefined; atMost?: string; newestFirst: boolean; want: number; keep?: (item: Item) => boolean }): Promise<Item[]> {
    const pkName = `${options.index}pk`;
    const skName = `${options.index}sk`;
    const bound = options.below !== undefined ? ` AND ${skName} < :bound` : options.atMost !== undefined ? ` AND ${skName} <= :bound` : "";
    const out: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await this.table.client.send(
        new QueryCommand({
          TableName: this.table.name,
          IndexName: options.index,
          KeyConditionExpression: `${pkName} = :pk${bound}`,
          ExpressionAttributeValues: { ":pk": S(options.pk), ...(bound && { ":bound": S(options.below ?? options.atMost!) }) },
          ScanIndexForward: !options.newestFirst,
          Limit: Math.min(1000, options.want),
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      for (const item of page.Items ?? []) {
        if (options.keep && !options.keep(item)) continue;
        out.push(item);
        if (out.length >= options.want) return out;
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }
}

/** The upload's item: the record whole (JSON keeps it exact), `state` for the listing's filter, and its index keys. */
function uploadItem(r: UploadRecord, { version, eventSeq, write }: { version: number; eventSeq: number; write: string }): Item {
  const item: Item = { pk: S(`upload#${r.id}`), sk: S("upload"), r: S(JSON.stringify(r)), state: S(r.state), v: N(version), eventSeq: N(eventSeq), w: S(write) };
  if (r.deletedAt === null) {
    const listed = S(`${pad(r.createdAt)}#${r.id}`);
    Object.assign(item, { gsi1pk: S(`m#files#${shardOf(r.id, SHARDS)}`), gsi1sk: listed, gsi2pk: S(`m#prefix#${keyPrefixOfObjectKey(r.key)}`), gsi2sk: listed });
  }
  return item;
}

/** When a job is next due: once its next attempt has come and its lease (if any) has run out. */
const dueAt = (r: UploadRecord) => Math.max(r.nextAttemptAt ?? 0, r.leaseUntil ?? 0);

function jobItem(r: UploadRecord): Item {
  return { pk: S(`upload#${r.id}`), sk: S("job"), id: S(r.id), gsi1pk: S(`m#due#${shardOf(r.id, SHARDS)}`), gsi1sk: S(`${pad(dueAt(r))}#${r.id}`) };
}

/** The job item's write for a change from `before` to `after`, if it needs one: the sparse due index holds only jobs awaiting processing. */
function jobChange(table: string, before: UploadRecord, after: UploadRecord): TransactWriteItem | undefined {
  const was = AWAITING_PROCESSING.includes(before.state);
  const is = AWAITING_PROCESSING.includes(after.state);
  if (is && (!was || dueAt(before) !== dueAt(after))) return { Put: { TableName: table, Item: jobItem(after) } };
  if (was && !is) return { Delete: { TableName: table, Key: { pk: S(`upload#${after.id}`), sk: S("job") } } };
  return undefined;
}

function recordOf(item: Item): UploadRecord {
  return JSON.parse(str(item, "r")!) as UploadRecord;
}

/** The fields a patch names (undefined leaves a field as it is, as the Kysely store's does). */
function applyPatch(r: UploadRecord, patch: UploadPatch): UploadRecord {
  const next: UploadRecord = { ...r };
  for (const [name, value] of Object.entries(patch)) if (value !== undefined) Object.assign(next, { [name]: value });
  return next;
}

/** Runs at most `max` tasks at once, the rest in the order they came. */
class Limiter {
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(readonly max: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.max) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#running++;
    try {
      return await task();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }
}
