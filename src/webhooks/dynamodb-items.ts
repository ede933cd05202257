/**
 * How the webhooks store lays its items in the one DynamoDB table (`metadata/dynamodb-table.ts`;
 * docs/dynamodb.md, "Webhooks", lists every access pattern). Its partition keys start with
 * `webhook#`, `delivery#` and `attempt#`, its index keys with `w#`.
 *
 * - Every webhook: pk `webhook#all`, sk its id. One partition, so that listing them is one
 *   strongly consistent Query (a webhook made a moment ago is listed; an index would lag).
 * - A delivery: pk `delivery#<webhook>`, sk `u#<upload>#<seq>`: one upload's deliveries sort
 *   together in seq order, so "is a lower seq still pending?" is a consistent Query.
 *   While pending it is in `gsi1` under `w#due#<webhook>`, sorted by when it may next be taken
 *   (`<due>#<event created>`, the due time being its lease's end while leased): each webhook's
 *   due deliveries are a partition of their own, which a paused webhook's are left out of by
 *   not being read. Delivered or dead, it leaves the index (sparse).
 * - Beside it, written once, its pointer: sk `e#<event id>` → the upload and seq, for the calls
 *   that name a delivery by its event; in `gsi2` under `w#created#<webhook>`, sorted by the
 *   event's time, for redelivering a window. A pointer never changes, so the window's index
 *   costs one write per delivery, not one per state change.
 * - An attempt: pk `attempt#<webhook>`, sk `<at>#<event id>#<attempt>`, newest last.
 *
 * Numbers in keys are zero-padded so that they sort as strings. Absent attributes are nulls.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { EventType, SluiceEvent } from "../events/types.js";
import type { AttemptRecord, DeliveryRecord, DeliveryState, WebhookRecord } from "./store.js";

export type Item = Record<string, AttributeValue>;

export const S = (value: string): AttributeValue => ({ S: value });
export const N = (value: number): AttributeValue => ({ N: String(value) });

/** Fixed width for epoch milliseconds (to year 33658) and for counters. */
const pad = (n: number, width: number): string => {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Cannot key on ${n}: a whole number ≥ 0 is needed.`);
  return String(n).padStart(width, "0");
};
const time = (ms: number) => pad(ms, 15);

export const keys = {
  webhooks: "webhook#all",
  deliveries: (webhookId: string) => `delivery#${webhookId}`,
  delivery: (uploadId: string, seq: number) => `u#${uploadId}#${pad(seq, 10)}`,
  /** The sort keys of one upload's deliveries from seq 0 (a Query's lower bound). */
  deliveriesOfUpload: (uploadId: string) => `u#${uploadId}#${pad(0, 10)}`,
  pointer: (eventId: string) => `e#${eventId}`,
  attempts: (webhookId: string) => `attempt#${webhookId}`,
  attempt: (at: number, eventId: string, attempt: number) => `${time(at)}#${eventId}#${pad(attempt, 10)}`,
  due: (webhookId: string) => `w#due#${webhookId}`,
  dueAt: (at: number, eventCreatedAt: number) => `${time(at)}#${time(eventCreatedAt)}`,
  /** The due time a due key starts with (0 for none). */
  dueTimeOf: (dueKey: string) => Number(dueKey.slice(0, 15)) || 0,
  /** Every due key of a delivery due at or before `now` sorts below this. */
  dueBy: (now: number) => time(now + 1),
  created: (webhookId: string) => `w#created#${webhookId}`,
  createdAt: (eventCreatedAt: number, eventId: string) => `${time(eventCreatedAt)}#${eventId}`,
  /** [from, to] bounds of the created-at index for events created in [since, until). */
  createdWindow: (since: number, until: number) => [time(since), `${time(until - 1)}#~`] as const,
};

/**
 * ExpressionAttributeNames for every `#name` in the expressions: every attribute goes by a
 * placeholder, since words such as `state`, `url` and `ttl` are reserved in expressions.
 */
export function namesIn(...expressions: (string | undefined)[]): Record<string, string> {
  const names: Record<string, string> = {};
  for (const e of expressions) for (const m of e?.matchAll(/#(\w+)/g) ?? []) names[m[0]] = m[1]!;
  return names;
}

/** An UpdateExpression that sets, removes and adds attributes, with its values (`:set_<name>`, `:add_<name>`). */
export function updateOf(o: { set?: Item; remove?: string[]; add?: Item }): { expression: string; values: Item } {
  const values: Item = {};
  const parts: string[] = [];
  const set = Object.entries(o.set ?? {});
  if (set.length) parts.push(`SET ${set.map(([k, v]) => ((values[`:set_${k}`] = v), `#${k} = :set_${k}`)).join(", ")}`);
  if (o.remove?.length) parts.push(`REMOVE ${o.remove.map((k) => `#${k}`).join(", ")}`);
  const add = Object.entries(o.add ?? {});
  if (add.length) parts.push(`ADD ${add.map(([k, v]) => ((values[`:add_${k}`] = v), `#${k} :add_${k}`)).join(", ")}`);
  return { expression: parts.join(" "), values };
}

const str = (item: Item, name: string): string | null => item[name]?.S ?? null;
const num = (item: Item, name: string): number | null => (item[name]?.N === undefined ? null : Number(item[name].N));
const must = <T>(v: T | null, name: string): T => {
  if (v === null) throw new Error(`A webhooks item in DynamoDB lacks ${name}.`);
  return v;
};

/** The item's attributes for each non-null value (null: left out). */
function present(fields: Record<string, AttributeValue | null>): Item {
  return Object.fromEntries(Object.entries(fields).filter((e): e is [string, AttributeValue] => e[1] !== null));
}

/** A webhook's own attributes, which `updateWebhook` may set or remove. */
export function webhookAttributes(w: Partial<WebhookRecord>): Record<string, AttributeValue | null | undefined> {
  const orNull = <T>(v: T | null | undefined, f: (v: T) => AttributeValue) => (v === undefined ? undefined : v === null ? null : f(v));
  return {
    url: orNull(w.url, S),
    eventTypes: orNull(w.eventTypes, (t) => S(JSON.stringify(t))),
    keyPrefix: orNull(w.keyPrefix, S),
    ownerKeyId: orNull(w.ownerKeyId, S),
    secretSealed: orNull(w.secretSealed, S),
    previousSecretSealed: orNull(w.previousSecretSealed, S),
    previousSecretUntil: orNull(w.previousSecretUntil, N),
    cursor: orNull(w.cursor, S),
    pausedAt: orNull(w.pausedAt, N),
    pausedReason: orNull(w.pausedReason, S),
    lastSuccessAt: orNull(w.lastSuccessAt, N),
    consecutiveFailures: orNull(w.consecutiveFailures, N),
    createdAt: orNull(w.createdAt, N),
  };
}

export function webhookItem(w: WebhookRecord): Item {
  const attributes = webhookAttributes(w) as Record<string, AttributeValue | null>;
  return { pk: S(keys.webhooks), sk: S(w.id), id: S(w.id), ...present(attributes) };
}

export function webhookOf(item: Item): WebhookRecord {
  const eventTypes = str(item, "eventTypes");
  return {
    id: must(str(item, "id"), "id"),
    url: must(str(item, "url"), "url"),
    eventTypes: eventTypes === null ? null : (JSON.parse(eventTypes) as EventType[]),
    keyPrefix: str(item, "keyPrefix"),
    ownerKeyId: must(str(item, "ownerKeyId"), "ownerKeyId"),
    secretSealed: must(str(item, "secretSealed"), "secretSealed"),
    previousSecretSealed: str(item, "previousSecretSealed"),
    previousSecretUntil: num(item, "previousSecretUntil"),
    cursor: str(item, "cursor"),
    pausedAt: num(item, "pausedAt"),
    pausedReason: str(item, "pausedReason"),
    lastSuccessAt: num(item, "lastSuccessAt"),
    consecutiveFailures: num(item, "consecutiveFailures") ?? 0,
    createdAt: must(num(item, "createdAt"), "createdAt"),
  };
}

/** A new pending delivery, due at `now`, in the due index. */
export function deliveryItem(o: { webhookId: string; event: SluiceEvent; now: number; giveUpAt: number }): Item {
  const { webhookId, event: e, now } = o;
  return {
    pk: S(keys.deliveries(webhookId)),
    sk: S(keys.delivery(e.uploadId, e.seq)),
    webhookId: S(webhookId),
    eventId: S(e.id),
    uploadId: S(e.uploadId),
    seq: N(e.seq),
    event: S(JSON.stringify(e)),
    eventCreatedAt: N(e.createdAt),
    state: S("pending"),
    attempts: N(0),
    nextAttemptAt: N(now),
    giveUpAt: N(o.giveUpAt),
    createdAt: N(now),
    gsi1pk: S(keys.due(webhookId)),
    gsi1sk: S(keys.dueAt(now, e.createdAt)),
  };
}

export function pointerItem(webhookId: string, e: SluiceEvent): Item {
  return {
    pk: S(keys.deliveries(webhookId)),
    sk: S(keys.pointer(e.id)),
    uploadId: S(e.uploadId),
    seq: N(e.seq),
    eventCreatedAt: N(e.createdAt),
    gsi2pk: S(keys.created(webhookId)),
    gsi2sk: S(keys.createdAt(e.createdAt, e.id)),
  };
}

export function deliveryOf(item: Item): DeliveryRecord {
  return {
    webhookId: must(str(item, "webhookId"), "webhookId"),
    eventId: must(str(item, "eventId"), "eventId"),
    uploadId: must(str(item, "uploadId"), "uploadId"),
    seq: must(num(item, "seq"), "seq"),
    event: JSON.parse(must(str(item, "event"), "event")) as SluiceEvent,
    state: must(str(item, "state"), "state") as DeliveryState,
    attempts: must(num(item, "attempts"), "attempts"),
    nextAttemptAt: must(num(item, "nextAttemptAt"), "nextAttemptAt"),
    giveUpAt: must(num(item, "giveUpAt"), "giveUpAt"),
    leaseOwner: str(item, "leaseOwner"),
    leaseUntil: num(item, "leaseUntil"),
    createdAt: must(num(item, "createdAt"), "createdAt"),
    deliveredAt: num(item, "deliveredAt"),
  };
}

/** Where a pointer leads: the delivery's sort key, and the event's time (for its due key). */
export function pointerTarget(item: Item): { sk: string; eventCreatedAt: number } {
  return { sk: keys.delivery(must(str(item, "uploadId"), "uploadId"), must(num(item, "seq"), "seq")), eventCreatedAt: must(num(item, "eventCreatedAt"), "eventCreatedAt") };
}

export function attemptItem(a: AttemptRecord): Item {
  return {
    pk: S(keys.attempts(a.webhookId)),
    sk: S(keys.attempt(a.at, a.eventId, a.attempt)),
    ...present({
      webhookId: S(a.webhookId),
      eventId: S(a.eventId),
      attempt: N(a.attempt),
      at: N(a.at),
      status: a.status === null ? null : N(a.status),
      latencyMs: N(Math.round(a.latencyMs)),
      responseHead: a.responseHead === null ? null : S(a.responseHead),
      error: a.error === null ? null : S(a.error),
    }),
  };
}

export function attemptOf(item: Item): AttemptRecord {
  return {
    webhookId: must(str(item, "webhookId"), "webhookId"),
    eventId: must(str(item, "eventId"), "eventId"),
    attempt: must(num(item, "attempt"), "attempt"),
    at: must(num(item, "at"), "at"),
    status: num(item, "status"),
    latencyMs: must(num(item, "latencyMs"), "latencyMs"),
    responseHead: str(item, "responseHead"),
    error: str(item, "error"),
  };
}
