import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type DynamoDBClient,
  type QueryCommandInput,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { sleep } from "../internal/async.js";
import type { SluiceEvent } from "../events/types.js";
import {
  attemptItem,
  attemptOf,
  deliveryItem,
  deliveryOf,
  keys,
  N,
  namesIn,
  pointerItem,
  pointerTarget,
  S,
  updateOf,
  webhookAttributes,
  webhookItem,
  webhookOf,
  type Item,
} from "./dynamodb-items.js";
import type { AttemptRecord, DeliveryRecord, WebhookPatch, WebhookRecord, WebhookStore } from "./store.js";

/** Writes in flight at once for one call (a page of deliveries, a purge): DynamoDB partitions take them in parallel, the client's sockets stay few. */
const PARALLEL = 16;

/**
 * The webhooks store in the metadata store's DynamoDB table (issue 19); the item layout is in
 * `dynamodb-items.ts`. Every write is one item's, most of them conditional: DynamoDB applies a
 * condition and its write atomically, so of two instances racing for a delivery's lease or a
 * webhook's cursor exactly one wins. No call uses TransactWriteItems: where the SQL store
 * writes several rows in one transaction, the writes here are ordered so that a crash between
 * them leaves nothing a later pass does not mend (each method says how).
 */
export class DynamoWebhookStore implements WebhookStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #migrate: () => Promise<void>;

  /** `migrate` makes the table (the metadata store's: one table holds both). */
  constructor(options: { client: DynamoDBClient; table: string; migrate: () => Promise<void> }) {
    this.#client = options.client;
    this.#table = options.table;
    this.#migrate = options.migrate;
  }

  migrate(): Promise<void> {
    return this.#migrate();
  }

  async insertWebhook(w: WebhookRecord): Promise<void> {
    try {
      await this.#client.send(new PutItemCommand({ TableName: this.#table, Item: webhookItem(w), ConditionExpression: "attribute_not_exists(#sk)", ExpressionAttributeNames: namesIn("#sk") }));
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) throw new Error(`Webhook ${w.id} already exists.`, { cause: err });
      throw err;
    }
  }

  async getWebhook(id: string): Promise<WebhookRecord | undefined> {
    const { Item } = await this.#client.send(new GetItemCommand({ TableName: this.#table, Key: { pk: S(keys.webhooks), sk: S(id) }, ConsistentRead: true }));
    return Item && webhookOf(Item);
  }

  async listWebhooks(options: { ownerKeyId?: string | undefined } = {}): Promise<WebhookRecord[]> {
    const owner = options.ownerKeyId;
    const items = await this.#queryAll({
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeValues: { ":pk": S(keys.webhooks), ...(owner !== undefined && { ":owner": S(owner) }) },
      ...(owner !== undefined && { FilterExpression: "#ownerKeyId = :owner" }),
      ConsistentRead: true,
    });
    // The partition sorts by id; the port's order is the SQL store's: oldest first.
    return items.map(webhookOf).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async updateWebhook(id: string, patch: WebhookPatch): Promise<boolean> {
    const set: Item = {};
    const remove: string[] = [];
    for (const [name, value] of Object.entries(webhookAttributes(patch))) {
      if (value === null) remove.push(name);
      else if (value !== undefined) set[name] = value;
    }
    if (Object.keys(set).length === 0 && remove.length === 0) return (await this.getWebhook(id)) !== undefined;
    return (await this.#update({ pk: keys.webhooks, sk: id }, { set, remove }, "attribute_exists(#sk)")) !== undefined;
  }

  /**
   * The webhook goes first, so that no pass fans out to it or leases its deliveries any more;
   * then its deliveries (with their pointers), then its attempts (an attempt is only logged
   * while its delivery is there: see `recordAttempt`). The work grows with its history: a
   * Query page and BatchWriteItem calls of 25 per 25 items. A call cut off midway leaves items
   * that nothing reads (the webhook is gone, ids are never reused); deleting again clears them.
   */
  async deleteWebhook(id: string): Promise<boolean> {
    const { Attributes } = await this.#client.send(new DeleteItemCommand({ TableName: this.#table, Key: { pk: S(keys.webhooks), sk: S(id) }, ReturnValues: "ALL_OLD" }));
    await this.#purge(keys.deliveries(id));
    await this.#purge(keys.attempts(id));
    return Attributes !== undefined;
  }

  /**
   * The deliveries first, each a conditional put (one per (webhook, event): an existing one,
   * delivered or not, is left as it is), with their pointers; the cursor last, with a
   * compare-and-set. A crash before the cursor moved leaves deliveries that the next pass
   * writes again, changing nothing. The cursor is read first, so that an instance that lost
   * the race before it began writes nothing; two that read the same cursor at the same
   * moment both write the page's deliveries (the same ones) and one moves the cursor: the
   * other gets false, its writes having changed nothing. If the webhook was deleted meanwhile,
   * what this call wrote is deleted again.
   */
  async enqueueDeliveries(o: { webhookId: string; fromCursor: string | null; toCursor: string; events: SluiceEvent[]; now: number; giveUpAt: number }): Promise<boolean> {
    const current = await this.getWebhook(o.webhookId);
    if (current?.cursor !== o.fromCursor) return false;
    await this.#batchWrite(o.events.map((e) => ({ PutRequest: { Item: pointerItem(o.webhookId, e) } })));
    await inParallel(o.events, async (event) => {
      await this.#putIfAbsent(deliveryItem({ webhookId: o.webhookId, event, now: o.now, giveUpAt: o.giveUpAt }));
    });
    const from: { condition: string; values: Item } = o.fromCursor === null ? { condition: "attribute_not_exists(#cursor)", values: {} } : { condition: "#cursor = :from", values: { ":from": S(o.fromCursor) } };
    const moved = await this.#update({ pk: keys.webhooks, sk: o.webhookId }, { set: { cursor: S(o.toCursor) } }, `attribute_exists(#sk) AND ${from.condition}`, from.values);
    if (moved) return true;
    if (!(await this.#exists({ pk: keys.webhooks, sk: o.webhookId }))) {
      const pk = S(keys.deliveries(o.webhookId));
      await this.#batchWrite(o.events.flatMap((e) => [keys.pointer(e.id), keys.delivery(e.uploadId, e.seq)].map((sk) => ({ DeleteRequest: { Key: { pk, sk: S(sk) } } }))));
    }
    return false;
  }

  /**
   * Reads the webhooks (one consistent Query), then the due partition of each active one
   * (paused webhooks' are not read at all), oldest due first. Per webhook and upload only the
   * lowest-seq candidate is considered, and only if no lower seq of that upload is pending
   * (a consistent Query of that upload's deliveries: the index may lag, the table does not).
   * Each is then taken with a conditional update that re-checks, on the item itself, that it
   * is pending, due and not leased; the lease moves its due key to the lease's end, so that
   * it is read again only once the lease has lapsed.
   */
  async leaseDueDeliveries({ owner, now, leaseMs, limit }: { owner: string; now: number; leaseMs: number; limit: number }): Promise<DeliveryRecord[]> {
    if (limit <= 0) return [];
    const active = (await this.listWebhooks()).filter((w) => w.pausedAt === null);
    const due: Item[] = [];
    await inParallel(active, async (w) => {
      const { Items = [] } = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: "gsi1",
          KeyConditionExpression: "#gsi1pk = :pk AND #gsi1sk < :by",
          ExpressionAttributeNames: namesIn("#gsi1pk #gsi1sk"),
          ExpressionAttributeValues: { ":pk": S(keys.due(w.id)), ":by": S(keys.dueBy(now)) },
          Limit: limit,
        }),
      );
      due.push(...Items);
    });
    const dueKey = (i: Item) => i.gsi1sk?.S ?? "";
    due.sort((a, b) => (dueKey(a) < dueKey(b) ? -1 : dueKey(a) > dueKey(b) ? 1 : 0));
    const lowest = new Map<string, DeliveryRecord>();
    for (const d of due.map(deliveryOf)) {
      const chain = `${d.webhookId} ${d.uploadId}`;
      const seen = lowest.get(chain);
      if (!seen || d.seq < seen.seq) lowest.set(chain, d);
    }
    const candidates = [...lowest.values()].sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.event.createdAt - b.event.createdAt);
    const leased: DeliveryRecord[] = [];
    // In waves of as many as are still wanted, in due order: most candidates are taken.
    while (candidates.length > 0 && leased.length < limit) {
      const wave = candidates.splice(0, limit - leased.length);
      const taken = await Promise.all(wave.map((d) => this.#leaseIfFirst(d, { owner, now, leaseMs })));
      leased.push(...taken.filter((d) => d !== undefined));
    }
    return leased;
  }

  /**
   * The attempt is logged first (it was made, whoever holds the lease now), then the delivery
   * takes its new state if `owner` still holds it, then the webhook's counts move (atomic ADD;
   * not in one transaction with the rest, which would make parallel attempts of one webhook
   * conflict on its item). If the delivery is gone, the webhook was deleted: the attempt just
   * logged is deleted too (the deletion may have read the attempts before it was written).
   */
  async recordAttempt({ owner, attempt: a, outcome }: Parameters<WebhookStore["recordAttempt"]>[0]): Promise<boolean> {
    const pk = keys.deliveries(a.webhookId);
    const target = await this.#pointer(a.webhookId, a.eventId);
    // No pointer, no delivery: the webhook was deleted (with them).
    if (!target) return false;
    const attempt = attemptItem(a);
    await this.#putIfAbsent(attempt);
    const set: Item = { state: S(outcome.state), attempts: N(a.attempt) };
    const remove = ["leaseOwner", "leaseUntil"];
    if (outcome.state === "pending") Object.assign(set, { nextAttemptAt: N(outcome.nextAttemptAt), gsi1sk: S(keys.dueAt(outcome.nextAttemptAt, target.eventCreatedAt)) });
    else remove.push("gsi1pk", "gsi1sk");
    if (outcome.state === "delivered") set.deliveredAt = N(a.at);
    const recorded = (await this.#update({ pk, sk: target.sk }, { set, remove }, "#state = :pending AND #leaseOwner = :owner", { ":pending": S("pending"), ":owner": S(owner) })) !== undefined;
    // Read only when the lease was lost (ReturnValuesOnConditionCheckFailure would save the read; dynalite does not answer it).
    const gone = !recorded && !(await this.#exists({ pk, sk: target.sk }));
    if (gone) {
      await this.#client.send(new DeleteItemCommand({ TableName: this.#table, Key: { pk: attempt.pk!, sk: attempt.sk! } }));
      return false;
    }
    const counts = outcome.state === "delivered" ? { set: { lastSuccessAt: N(a.at), consecutiveFailures: N(0) } } : { add: { consecutiveFailures: N(1) } };
    await this.#update({ pk: keys.webhooks, sk: a.webhookId }, counts, "attribute_exists(#sk)");
    return recorded;
  }

  async pauseWebhook(id: string, { now, reason }: { now: number; reason: string }): Promise<boolean> {
    const r = await this.#update({ pk: keys.webhooks, sk: id }, { set: { pausedAt: N(now), pausedReason: S(reason) } }, "attribute_exists(#sk) AND attribute_not_exists(#pausedAt)");
    return r !== undefined;
  }

  /**
   * The webhook first, then each pending delivery (its due partition, read through): one
   * update each, so the work grows with what waited while it was paused. A delivery leased
   * right now keeps its lease and due key (its holder records it); the rest are due now.
   */
  async resumeWebhook(id: string, { now, giveUpAt }: { now: number; giveUpAt: number }): Promise<boolean> {
    const resumed = await this.#update({ pk: keys.webhooks, sk: id }, { set: { consecutiveFailures: N(0) }, remove: ["pausedAt", "pausedReason"] }, "attribute_exists(#sk)");
    if (resumed === undefined) return false;
    const pending = await this.#queryAll({ IndexName: "gsi1", KeyConditionExpression: "#gsi1pk = :pk", ExpressionAttributeValues: { ":pk": S(keys.due(id)) } });
    await inParallel(pending, async (item) => {
      const key = { pk: item.pk!.S!, sk: item.sk!.S! };
      const fresh = { nextAttemptAt: N(now), giveUpAt: N(giveUpAt) };
      const values = { ":pending": S("pending"), ":now": N(now) };
      const unleased = await this.#update(key, { set: { ...fresh, gsi1sk: S(keys.dueAt(now, Number(item.eventCreatedAt?.N))) } }, "#state = :pending AND (attribute_not_exists(#leaseUntil) OR #leaseUntil <= :now)", values);
      if (unleased === undefined) await this.#update(key, { set: fresh }, "#state = :pending AND #leaseUntil > :now", values);
    });
    return true;
  }

  async listAttempts(webhookId: string, { limit, before }: { limit: number; before?: { at: number; eventId: string; attempt: number } | undefined }): Promise<AttemptRecord[]> {
    const { Items = [] } = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: before ? "#pk = :pk AND #sk < :before" : "#pk = :pk",
        ExpressionAttributeNames: namesIn(before ? "#pk #sk" : "#pk"),
        ExpressionAttributeValues: { ":pk": S(keys.attempts(webhookId)), ...(before && { ":before": S(keys.attempt(before.at, before.eventId, before.attempt)) }) },
        ScanIndexForward: false,
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    return Items.map(attemptOf);
  }

  async getDelivery(webhookId: string, eventId: string): Promise<DeliveryRecord | undefined> {
    const target = await this.#pointer(webhookId, eventId);
    if (!target) return undefined;
    const { Item } = await this.#client.send(new GetItemCommand({ TableName: this.#table, Key: { pk: S(keys.deliveries(webhookId)), sk: S(target.sk) }, ConsistentRead: true }));
    return Item && deliveryOf(Item);
  }

  /** One event's through its pointer; a window's through the created-at index (its pointers), then one update each. */
  async redeliver(webhookId: string, selection: { eventId: string } | { since: number; until: number }, { now, giveUpAt }: { now: number; giveUpAt: number }): Promise<number> {
    let targets: { sk: string; eventCreatedAt: number }[];
    if ("eventId" in selection) {
      const target = await this.#pointer(webhookId, selection.eventId);
      targets = target ? [target] : [];
    } else {
      if (selection.until <= selection.since) return 0;
      const [from, to] = keys.createdWindow(selection.since, selection.until);
      const pointers = await this.#queryAll({
        IndexName: "gsi2",
        KeyConditionExpression: "#gsi2pk = :pk AND #gsi2sk BETWEEN :from AND :to",
        ExpressionAttributeValues: { ":pk": S(keys.created(webhookId)), ":from": S(from), ":to": S(to) },
      });
      targets = pointers.map(pointerTarget);
    }
    let count = 0;
    await inParallel(targets, async (t) => {
      const r = await this.#update(
        { pk: keys.deliveries(webhookId), sk: t.sk },
        { set: { state: S("pending"), nextAttemptAt: N(now), giveUpAt: N(giveUpAt), gsi1pk: S(keys.due(webhookId)), gsi1sk: S(keys.dueAt(now, t.eventCreatedAt)) }, remove: ["leaseOwner", "leaseUntil"] },
        // A delivery being sent right now keeps its lease (its holder records it): it is not sent twice at once.
        "attribute_exists(#sk) AND (attribute_not_exists(#leaseUntil) OR #leaseUntil <= :now OR #state <> :pending)",
        { ":now": N(now), ":pending": S("pending") },
      );
      if (r !== undefined) count++;
    });
    return count;
  }

  /**
   * Leases `d` if no lower seq of its upload is pending and the item is still free; the leased
   * delivery, or undefined. One that waits behind a lower seq has its due key moved to that
   * one's (the latest of them, if several): it cannot go before, and a due partition's first
   * page full of deliveries that wait would otherwise hide the very ones they wait for.
   */
  async #leaseIfFirst(d: DeliveryRecord, { owner, now, leaseMs }: { owner: string; now: number; leaseMs: number }): Promise<DeliveryRecord | undefined> {
    const pk = keys.deliveries(d.webhookId);
    const sk = keys.delivery(d.uploadId, d.seq);
    const free = "#state = :pending AND (attribute_not_exists(#leaseUntil) OR #leaseUntil <= :now)";
    const values = { ":pending": S("pending"), ":now": N(now) };
    if (d.seq > 0) {
      const before = await this.#queryAll({
        KeyConditionExpression: "#pk = :pk AND #sk BETWEEN :first AND :before",
        FilterExpression: "#state = :pending",
        ExpressionAttributeValues: { ":pk": S(pk), ":first": S(keys.deliveriesOfUpload(d.uploadId)), ":before": S(keys.delivery(d.uploadId, d.seq - 1)), ":pending": S("pending") },
        ProjectionExpression: "#gsi1sk",
        ConsistentRead: true,
      });
      if (before.length > 0) {
        const after = Math.max(...before.map((b) => keys.dueTimeOf(b.gsi1sk?.S ?? "")));
        await this.#update({ pk, sk }, { set: { gsi1sk: S(keys.dueAt(after, d.event.createdAt)) } }, free, values);
        return undefined;
      }
    }
    const until = now + leaseMs;
    const r = await this.#update({ pk, sk }, { set: { leaseOwner: S(owner), leaseUntil: N(until), gsi1sk: S(keys.dueAt(until, d.event.createdAt)) } }, `${free} AND #nextAttemptAt <= :now`, values);
    return r === undefined ? undefined : deliveryOf(r);
  }

  async #pointer(webhookId: string, eventId: string): Promise<{ sk: string; eventCreatedAt: number } | undefined> {
    const { Item } = await this.#client.send(new GetItemCommand({ TableName: this.#table, Key: { pk: S(keys.deliveries(webhookId)), sk: S(keys.pointer(eventId)) }, ConsistentRead: true }));
    return Item && pointerTarget(Item);
  }

  /** Puts `item` unless its key exists (then nothing changes); true if it was put. */
  async #putIfAbsent(item: Item): Promise<boolean> {
    try {
      await this.#client.send(new PutItemCommand({ TableName: this.#table, Item: item, ConditionExpression: "attribute_not_exists(#pk)", ExpressionAttributeNames: namesIn("#pk") }));
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** A conditional UpdateItem: the item after it, or undefined if the condition failed. */
  async #update(key: { pk: string; sk: string }, changes: Parameters<typeof updateOf>[0], condition: string, values: Item = {}): Promise<Item | undefined> {
    const update = updateOf(changes);
    try {
      const out = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { pk: S(key.pk), sk: S(key.sk) },
          UpdateExpression: update.expression,
          ConditionExpression: condition,
          ExpressionAttributeNames: namesIn(update.expression, condition),
          ExpressionAttributeValues: { ...update.values, ...values },
          ReturnValues: "ALL_NEW",
        }),
      );
      return out.Attributes ?? {};
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }

  /** Whether an item is there (a consistent read of its keys only). */
  async #exists(key: { pk: string; sk: string }): Promise<boolean> {
    const { Item } = await this.#client.send(new GetItemCommand({ TableName: this.#table, Key: { pk: S(key.pk), sk: S(key.sk) }, ProjectionExpression: "#pk", ExpressionAttributeNames: namesIn("#pk"), ConsistentRead: true }));
    return Item !== undefined;
  }

  /** Every item a Query finds, page after page. Placeholders for the attribute names are made from the expressions. */
  async #queryAll(input: Omit<QueryCommandInput, "TableName" | "ExpressionAttributeNames">): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          ...input,
          ExpressionAttributeNames: namesIn(input.KeyConditionExpression, input.FilterExpression, input.ProjectionExpression),
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** Deletes every item of a partition, a Query page at a time (keys only). */
  async #purge(pk: string): Promise<void> {
    let start: Item | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: "#pk = :pk",
          ProjectionExpression: "#pk, #sk",
          ExpressionAttributeNames: namesIn("#pk #sk"),
          ExpressionAttributeValues: { ":pk": S(pk) },
          ConsistentRead: true,
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      await this.#batchWrite((page.Items ?? []).map((Key) => ({ DeleteRequest: { Key } })));
      start = page.LastEvaluatedKey;
    } while (start);
  }

  /** BatchWriteItem in calls of 25 (DynamoDB's limit), several at once, each retrying what DynamoDB left unprocessed (throttled) with a growing pause. */
  async #batchWrite(requests: WriteRequest[]): Promise<void> {
    const batches: WriteRequest[][] = [];
    for (let i = 0; i < requests.length; i += 25) batches.push(requests.slice(i, i + 25));
    await inParallel(batches, async (batch) => {
      let pending = batch;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt === 8) throw new Error(`DynamoDB left ${pending.length} webhook writes unprocessed after ${attempt} tries (throttled).`);
        if (attempt > 0) await sleep(Math.min(2000, 25 * 2 ** attempt));
        const { UnprocessedItems } = await this.#client.send(new BatchWriteItemCommand({ RequestItems: { [this.#table]: pending } }));
        pending = UnprocessedItems?.[this.#table] ?? [];
      }
    });
  }
}

/** Runs `task` for each of `items`, at most PARALLEL at a time; rejects with the first failure, once those running have ended. */
async function inParallel<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(PARALLEL, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  });
  const results = await Promise.allSettled(workers);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}
