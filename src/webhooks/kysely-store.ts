import { sql, type Kysely, type QueryResult, type Selectable } from "kysely";
import type { AtomicBatch } from "../metadata/kysely-store.js";
import type { EventType, SluiceEvent } from "../events/types.js";
import type { AttemptRecord, DeliveryRecord, DeliveryState, WebhookPatch, WebhookRecord, WebhookStore } from "./store.js";

/** Column types as the database holds them. Times are epoch milliseconds. */
export interface WebhooksTable {
  id: string;
  url: string;
  event_types: string | null;
  key_prefix: string | null;
  owner_key_id: string;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_until: number | null;
  cursor: string | null;
  paused_at: number | null;
  paused_reason: string | null;
  last_success_at: number | null;
  consecutive_failures: number;
  created_at: number;
}

export interface WebhookDeliveriesTable {
  webhook_id: string;
  event_id: string;
  upload_id: string;
  seq: number;
  event: string;
  event_created_at: number;
  state: string;
  attempts: number;
  next_attempt_at: number;
  give_up_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  created_at: number;
  delivered_at: number | null;
}

export interface WebhookAttemptsTable {
  webhook_id: string;
  event_id: string;
  attempt: number;
  at: number;
  status: number | null;
  latency_ms: number;
  response_head: string | null;
  error: string | null;
}

export interface WebhookTables {
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
}

/**
 * The webhooks store on the metadata store's Kysely database. Portable SQL only (no
 * `FOR UPDATE SKIP LOCKED`, which SQLite and D1 lack): a lease is a conditional UPDATE, which
 * PostgreSQL re-checks after waiting on a row another transaction holds, so of two instances
 * racing for one delivery exactly one UPDATE applies.
 */
export class KyselyWebhookStore implements WebhookStore {
  readonly #db: Kysely<WebhookTables>;
  readonly #migrate: () => Promise<void>;
  readonly #batch: AtomicBatch | undefined;

  /**
   * `migrate` is the metadata store's (the tables are among its migrations). `atomicBatch`:
   * where the database has no interactive transactions (D1), each write that spans several
   * statements runs them as one all-or-nothing batch instead (see the methods that use it).
   */
  constructor(options: { db: Kysely<WebhookTables>; migrate: () => Promise<void>; atomicBatch?: AtomicBatch }) {
    this.#db = options.db;
    this.#migrate = options.migrate;
    this.#batch = options.atomicBatch;
  }

  migrate(): Promise<void> {
    return this.#migrate();
  }

  async insertWebhook(w: WebhookRecord): Promise<void> {
    await this.#db.insertInto("webhooks").values(toWebhookRow(w)).execute();
  }

  async getWebhook(id: string): Promise<WebhookRecord | undefined> {
    const row = await this.#db.selectFrom("webhooks").selectAll().where("id", "=", id).executeTakeFirst();
    return row && fromWebhookRow(row);
  }

  async listWebhooks(options: { ownerKeyId?: string | undefined } = {}): Promise<WebhookRecord[]> {
    let q = this.#db.selectFrom("webhooks").selectAll();
    if (options.ownerKeyId !== undefined) q = q.where("owner_key_id", "=", options.ownerKeyId);
    return (await q.orderBy("created_at").orderBy("id").execute()).map(fromWebhookRow);
  }

  async updateWebhook(id: string, p: WebhookPatch): Promise<boolean> {
    const set: Partial<WebhooksTable> = {};
    if (p.url !== undefined) set.url = p.url;
    if (p.eventTypes !== undefined) set.event_types = p.eventTypes && JSON.stringify(p.eventTypes);
    if (p.secretSealed !== undefined) set.secret_sealed = p.secretSealed;
    if (p.previousSecretSealed !== undefined) set.previous_secret_sealed = p.previousSecretSealed;
    if (p.previousSecretUntil !== undefined) set.previous_secret_until = p.previousSecretUntil;
    if (p.pausedAt !== undefined) set.paused_at = p.pausedAt;
    if (p.pausedReason !== undefined) set.paused_reason = p.pausedReason;
    if (Object.keys(set).length === 0) return (await this.getWebhook(id)) !== undefined;
    const r = await this.#db.updateTable("webhooks").set(set).where("id", "=", id).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async deleteWebhook(id: string): Promise<boolean> {
    if (this.#batch) {
      const [, , r] = await this.#batch([
        this.#db.deleteFrom("webhook_attempts").where("webhook_id", "=", id).compile(),
        this.#db.deleteFrom("webhook_deliveries").where("webhook_id", "=", id).compile(),
        this.#db.deleteFrom("webhooks").where("id", "=", id).compile(),
      ]);
      return affected(r) > 0;
    }
    return this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom("webhook_attempts").where("webhook_id", "=", id).execute();
      await tx.deleteFrom("webhook_deliveries").where("webhook_id", "=", id).execute();
      const r = await tx.deleteFrom("webhooks").where("id", "=", id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }

  async enqueueDeliveries(o: { webhookId: string; fromCursor: string | null; toCursor: string; events: SluiceEvent[]; now: number; giveUpAt: number }): Promise<boolean> {
    if (this.#batch) {
      // A batch cannot skip its inserts when the cursor did not move; they are harmless then:
      // one delivery per (webhook, event), so the instance that moved it inserted the same rows.
      const [moved] = await this.#batch([
        this.#db
          .updateTable("webhooks")
          .set({ cursor: o.toCursor })
          .where("id", "=", o.webhookId)
          .where((eb) => (o.fromCursor === null ? eb("cursor", "is", null) : eb("cursor", "=", o.fromCursor)))
          .compile(),
        ...deliveryRowChunks(o).map((rows) => this.#db.insertInto("webhook_deliveries").values(rows).onConflict((oc) => oc.doNothing()).compile()),
      ]);
      return affected(moved) > 0;
    }
    return this.#db.transaction().execute(async (tx) => {
      // The cursor moves first: the loser of a race between two instances stops here, with
      // its row lock waited out (PostgreSQL) or its write serialized (SQLite, D1).
      const moved = await tx
        .updateTable("webhooks")
        .set({ cursor: o.toCursor })
        .where("id", "=", o.webhookId)
        .where((eb) => (o.fromCursor === null ? eb("cursor", "is", null) : eb("cursor", "=", o.fromCursor)))
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 0) return false;
      await insertDeliveryRows(tx, o);
      return true;
    });
  }

  async leaseDueDeliveries({ owner, now, leaseMs, limit }: { owner: string; now: number; leaseMs: number; limit: number }): Promise<DeliveryRecord[]> {
    const candidates = await this.#db
      .selectFrom("webhook_deliveries as d")
      .innerJoin("webhooks as w", "w.id", "d.webhook_id")
      .select(["d.webhook_id", "d.event_id"])
      .where("d.state", "=", "pending")
      .where("d.next_attempt_at", "<=", now)
      .where((eb) => eb.or([eb("d.lease_until", "is", null), eb("d.lease_until", "<=", now)]))
      .where("w.paused_at", "is", null)
      // Per webhook and upload, one at a time and in seq order.
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom("webhook_deliveries as e")
              .select("e.event_id")
              .whereRef("e.webhook_id", "=", "d.webhook_id")
              .whereRef("e.upload_id", "=", "d.upload_id")
              .whereRef("e.seq", "<", "d.seq")
              .where("e.state", "=", "pending"),
          ),
        ),
      )
      .orderBy("d.next_attempt_at")
      .orderBy("d.event_created_at")
      .limit(limit)
      .execute();
    // One conditional UPDATE per webhook (a pass's candidates are mostly one webhook's), not
    // one per delivery: the conditions are the same, so a delivery another instance leased
    // since the SELECT is simply not returned.
    const byWebhook = new Map<string, string[]>();
    for (const c of candidates) byWebhook.set(c.webhook_id, [...(byWebhook.get(c.webhook_id) ?? []), c.event_id]);
    const leased: DeliveryRecord[] = [];
    for (const [webhookId, eventIds] of byWebhook) {
      const rows = await this.#db
        .updateTable("webhook_deliveries")
        .set({ lease_owner: owner, lease_until: now + leaseMs })
        .where("webhook_id", "=", webhookId)
        .where("event_id", "in", eventIds)
        .where("state", "=", "pending")
        .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", now)]))
        .returningAll()
        .execute();
      leased.push(...rows.map(fromDeliveryRow));
    }
    // The order the candidates were chosen in (due first), which RETURNING does not promise.
    const rank = new Map(candidates.map((c, i) => [`${c.webhook_id} ${c.event_id}`, i]));
    return leased.sort((a, b) => rank.get(`${a.webhookId} ${a.eventId}`)! - rank.get(`${b.webhookId} ${b.eventId}`)!);
  }

  async recordAttempt({ owner, attempt: a, outcome }: Parameters<WebhookStore["recordAttempt"]>[0]): Promise<boolean> {
    if (this.#batch) {
      const db = this.#db;
      const [, r] = await this.#batch([
        db.insertInto("webhook_attempts").values(attemptRow(a)).onConflict((oc) => oc.doNothing()).compile(),
        db.updateTable("webhook_deliveries").set(deliveryOutcome(a, outcome)).where("webhook_id", "=", a.webhookId).where("event_id", "=", a.eventId).where("state", "=", "pending").where("lease_owner", "=", owner).compile(),
        db.updateTable("webhooks").set(webhookOutcome(a, outcome)).where("id", "=", a.webhookId).compile(),
      ]);
      return affected(r) > 0;
    }
    return this.#db.transaction().execute(async (tx) => {
      await tx
        .insertInto("webhook_attempts")
        .values({
          webhook_id: a.webhookId,
          event_id: a.eventId,
          attempt: a.attempt,
          at: a.at,
          status: a.status,
          latency_ms: Math.round(a.latencyMs),
          response_head: a.responseHead,
          error: a.error,
        })
        .onConflict((oc) => oc.doNothing())
        .execute();
      const r = await tx
        .updateTable("webhook_deliveries")
        .set({
          state: outcome.state,
          attempts: a.attempt,
          lease_owner: null,
          lease_until: null,
          ...(outcome.state === "pending" && { next_attempt_at: outcome.nextAttemptAt }),
          ...(outcome.state === "delivered" && { delivered_at: a.at }),
        })
        .where("webhook_id", "=", a.webhookId)
        .where("event_id", "=", a.eventId)
        .where("state", "=", "pending")
        .where("lease_owner", "=", owner)
        .executeTakeFirst();
      const succeeded = outcome.state === "delivered";
      await tx
        .updateTable("webhooks")
        .set(succeeded ? { last_success_at: a.at, consecutive_failures: 0 } : { consecutive_failures: sql<number>`consecutive_failures + 1` })
        .where("id", "=", a.webhookId)
        .execute();
      return Number(r.numUpdatedRows) > 0;
    });
  }

  async pauseWebhook(id: string, { now, reason }: { now: number; reason: string }): Promise<boolean> {
    const r = await this.#db.updateTable("webhooks").set({ paused_at: now, paused_reason: reason }).where("id", "=", id).where("paused_at", "is", null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async resumeWebhook(id: string, { now, giveUpAt }: { now: number; giveUpAt: number }): Promise<boolean> {
    if (this.#batch) {
      // Without the webhook there are no deliveries to touch (they go with it), so the second statement needs no condition on the first.
      const [r] = await this.#batch([
        this.#db.updateTable("webhooks").set({ paused_at: null, paused_reason: null, consecutive_failures: 0 }).where("id", "=", id).compile(),
        this.#db.updateTable("webhook_deliveries").set({ next_attempt_at: now, give_up_at: giveUpAt }).where("webhook_id", "=", id).where("state", "=", "pending").compile(),
      ]);
      return affected(r) > 0;
    }
    return this.#db.transaction().execute(async (tx) => {
      const r = await tx.updateTable("webhooks").set({ paused_at: null, paused_reason: null, consecutive_failures: 0 }).where("id", "=", id).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return false;
      // What waited while it was paused is due now, with a fresh window (it was not the endpoint's to lose).
      await tx.updateTable("webhook_deliveries").set({ next_attempt_at: now, give_up_at: giveUpAt }).where("webhook_id", "=", id).where("state", "=", "pending").execute();
      return true;
    });
  }

  async listAttempts(webhookId: string, { limit, before }: { limit: number; before?: { at: number; eventId: string; attempt: number } | undefined }): Promise<AttemptRecord[]> {
    let q = this.#db.selectFrom("webhook_attempts").selectAll().where("webhook_id", "=", webhookId);
    if (before) {
      q = q.where((eb) =>
        eb.or([
          eb("at", "<", before.at),
          eb.and([eb("at", "=", before.at), eb("event_id", "<", before.eventId)]),
          eb.and([eb("at", "=", before.at), eb("event_id", "=", before.eventId), eb("attempt", "<", before.attempt)]),
        ]),
      );
    }
    const rows = await q.orderBy("at", "desc").orderBy("event_id", "desc").orderBy("attempt", "desc").limit(limit).execute();
    return rows.map((r) => ({
      webhookId: r.webhook_id,
      eventId: r.event_id,
      attempt: Number(r.attempt),
      at: Number(r.at),
      status: r.status === null ? null : Number(r.status),
      latencyMs: Number(r.latency_ms),
      responseHead: r.response_head,
      error: r.error,
    }));
  }

  async getDelivery(webhookId: string, eventId: string): Promise<DeliveryRecord | undefined> {
    const row = await this.#db.selectFrom("webhook_deliveries").selectAll().where("webhook_id", "=", webhookId).where("event_id", "=", eventId).executeTakeFirst();
    return row && fromDeliveryRow(row);
  }

  async redeliver(webhookId: string, selection: { eventId: string } | { since: number; until: number }, { now, giveUpAt }: { now: number; giveUpAt: number }): Promise<number> {
    let q = this.#db
      .updateTable("webhook_deliveries")
      .set({ state: "pending", next_attempt_at: now, give_up_at: giveUpAt, lease_owner: null, lease_until: null })
      .where("webhook_id", "=", webhookId);
    q = "eventId" in selection ? q.where("event_id", "=", selection.eventId) : q.where("event_created_at", ">=", selection.since).where("event_created_at", "<", selection.until);
    // A delivery being sent right now keeps its lease (its holder records it): it is not sent twice at once.
    q = q.where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", now), eb("state", "<>", "pending")]));
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows);
  }
}

const affected = (r: QueryResult<unknown> | undefined): number => Number(r?.numAffectedRows ?? 0);

type AttemptInput = Parameters<WebhookStore["recordAttempt"]>[0];

function attemptRow(a: AttemptInput["attempt"]) {
  return {
    webhook_id: a.webhookId,
    event_id: a.eventId,
    attempt: a.attempt,
    at: a.at,
    status: a.status,
    latency_ms: Math.round(a.latencyMs),
    response_head: a.responseHead,
    error: a.error,
  };
}

function deliveryOutcome(a: AttemptInput["attempt"], outcome: AttemptInput["outcome"]) {
  return {
    state: outcome.state,
    attempts: a.attempt,
    lease_owner: null,
    lease_until: null,
    ...(outcome.state === "pending" && { next_attempt_at: outcome.nextAttemptAt }),
    ...(outcome.state === "delivered" && { delivered_at: a.at }),
  };
}

function webhookOutcome(a: AttemptInput["attempt"], outcome: AttemptInput["outcome"]) {
  return outcome.state === "delivered" ? { last_success_at: a.at, consecutive_failures: 0 } : { consecutive_failures: sql<number>`consecutive_failures + 1` };
}

/** The delivery rows for `events`, in chunks: 14 columns a row; stay well under SQLite's (and D1's 100) bound-parameter limits. */
function deliveryRowChunks(o: { webhookId: string; events: SluiceEvent[]; now: number; giveUpAt: number }) {
  const chunks = [];
  for (let i = 0; i < o.events.length; i += 7) {
    chunks.push(
      o.events.slice(i, i + 7).map((e) => ({
        webhook_id: o.webhookId,
        event_id: e.id,
        upload_id: e.uploadId,
        seq: e.seq,
        event: JSON.stringify(e),
        event_created_at: e.createdAt,
        state: "pending",
        attempts: 0,
        next_attempt_at: o.now,
        give_up_at: o.giveUpAt,
        lease_owner: null,
        lease_until: null,
        created_at: o.now,
        delivered_at: null,
      })),
    );
  }
  return chunks;
}

async function insertDeliveryRows(db: Kysely<WebhookTables>, o: { webhookId: string; events: SluiceEvent[]; now: number; giveUpAt: number }): Promise<number> {
  let inserted = 0;
  for (const rows of deliveryRowChunks(o)) {
    const r = await db.insertInto("webhook_deliveries").values(rows).onConflict((oc) => oc.doNothing()).executeTakeFirst();
    inserted += Number(r.numInsertedOrUpdatedRows ?? 0);
  }
  return inserted;
}

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toWebhookRow(w: WebhookRecord): WebhooksTable {
  return {
    id: w.id,
    url: w.url,
    event_types: w.eventTypes && JSON.stringify(w.eventTypes),
    key_prefix: w.keyPrefix,
    owner_key_id: w.ownerKeyId,
    secret_sealed: w.secretSealed,
    previous_secret_sealed: w.previousSecretSealed,
    previous_secret_until: w.previousSecretUntil,
    cursor: w.cursor,
    paused_at: w.pausedAt,
    paused_reason: w.pausedReason,
    last_success_at: w.lastSuccessAt,
    consecutive_failures: w.consecutiveFailures,
    created_at: w.createdAt,
  };
}

function fromWebhookRow(r: Selectable<WebhooksTable>): WebhookRecord {
  return {
    id: r.id,
    url: r.url,
    eventTypes: r.event_types === null ? null : (JSON.parse(r.event_types) as EventType[]),
    keyPrefix: r.key_prefix,
    ownerKeyId: r.owner_key_id,
    secretSealed: r.secret_sealed,
    previousSecretSealed: r.previous_secret_sealed,
    previousSecretUntil: numOrNull(r.previous_secret_until),
    cursor: r.cursor,
    pausedAt: numOrNull(r.paused_at),
    pausedReason: r.paused_reason,
    lastSuccessAt: numOrNull(r.last_success_at),
    consecutiveFailures: Number(r.consecutive_failures),
    createdAt: Number(r.created_at),
  };
}

function fromDeliveryRow(r: Selectable<WebhookDeliveriesTable>): DeliveryRecord {
  return {
    webhookId: r.webhook_id,
    eventId: r.event_id,
    uploadId: r.upload_id,
    seq: Number(r.seq),
    event: JSON.parse(r.event) as SluiceEvent,
    state: r.state as DeliveryState,
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    giveUpAt: Number(r.give_up_at),
    leaseOwner: r.lease_owner,
    leaseUntil: numOrNull(r.lease_until),
    createdAt: Number(r.created_at),
    deliveredAt: numOrNull(r.delivered_at),
  };
}
