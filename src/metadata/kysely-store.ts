import { decodeFileCursor, encodeFileCursor } from "./file-cursor.js";
import {
  Migrator,
  PostgresAdapter,
  type Compilable,
  CompiledQuery,
  type ExpressionBuilder,
  type Insertable,
  type Kysely,
  type QueryResult,
  type Selectable,
  type Updateable,
  sql,
} from "kysely";
import { badRequest } from "../errors.js";
import type { EventPage, EventType, NewEvent, SluiceEvent, EventData } from "../events/types.js";
import { newId } from "../internal/crypto.js";
import type { Database, ExpiryWatchTable, UploadsTable } from "./schema.js";
import { migrationProvider } from "./migrations.js";
import {
  FILE_STATES,
  type EventQuery,
  type ExpiryWatch,
  type ApiKeyRecord,
  type CopyProgress,
  type FilePage,
  type KeyScope,
  type MetadataStore,
  type UpdateCondition,
  type UploadPatch,
  type UploadRecord,
  type UploadState,
} from "./metadata-store.js";

/**
 * Runs statements as one atomic unit, in order, and returns each one's result. Kysely's
 * transactions do it on SQLite and PostgreSQL; D1 has no interactive transactions, and its
 * `batch()` does (runtime/workers). The statements never branch on one another's results
 * (each event INSERT selects the row its own write marked), so both ways mean the same.
 */
export type AtomicBatch = (queries: readonly CompiledQuery[]) => Promise<QueryResult<unknown>[]>;

/** The metadata store on any SQL database Kysely speaks. The dialect is chosen by the factory. */
export class KyselyMetadataStore implements MetadataStore {
  readonly name: string;
  readonly #db: Kysely<Database>;
  readonly #atomically: AtomicBatch;
  /** PostgreSQL's feed needs its visibility rule (readEvents); SQLite and D1 commit in position order. */
  readonly #postgres: boolean;

  constructor(options: { db: Kysely<Database>; name: string; atomicBatch?: AtomicBatch }) {
    this.#db = options.db;
    this.name = options.name;
    this.#postgres = options.db.getExecutor().adapter instanceof PostgresAdapter;
    this.#atomically =
      options.atomicBatch ??
      ((queries) =>
        this.#db.transaction().execute(async (trx) => {
          const results: QueryResult<unknown>[] = [];
          for (const q of queries) results.push(await trx.executeQuery(q));
          return results;
        }));
  }

  /** The database itself, for the stores that live beside this one in it (webhooks: `webhooks/factory.ts`). */
  get database(): Kysely<Database> {
    return this.#db;
  }

  /**
   * PostgreSQL serializes instances that migrate at once with Kysely's lock. SQLite has no
   * such lock across processes: the loser of the race fails its transaction (its snapshot
   * is stale), and trying again finds the work done.
   */
  async migrate(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const { error } = await new Migrator({ db: this.#db, provider: migrationProvider }).migrateToLatest();
      if (!error) return;
      if (attempt >= 5) throw error instanceof Error ? error : new Error("Migration failed", { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }

  /**
   * Idempotent (a second insert of the same id changes nothing). Inserts are group-committed: those that arrive in the same tick are written as one
   * multi-row INSERT in one transaction, and each caller resolves only once it is committed.
   * Under load this turns N commits into one (on SQLite each commit rewrites the pages of
   * five B-trees; on PostgreSQL each is a round trip).
   */
  insertUpload(r: UploadRecord, event?: NewEvent): Promise<boolean> {
    const row = toRow(r);
    // A record inserted with its event is marked with the event's id: the event's INSERT selects
    // the row by that mark, so it goes in only if this row did (not a record there before).
    const marked = event && { id: newId("evt"), event };
    if (marked) Object.assign(row, { event_seq: 1, event_mark: marked.id });
    return new Promise((resolve, reject) => {
      this.#pendingInserts.push({ row, event: marked, resolve, reject });
      if (this.#pendingInserts.length === 1) setImmediate(() => void this.#flushInserts());
    });
  }

  readonly #pendingInserts: {
    row: Insertable<UploadsTable>;
    event: MarkedEvent | undefined;
    resolve: (inserted: boolean) => void;
    reject: (err: unknown) => void;
  }[] = [];

  async #flushInserts(): Promise<void> {
    // 23 columns a row; stay well under SQLite's limit of 32766 bound parameters.
    const batch = this.#pendingInserts.splice(0, 500);
    if (this.#pendingInserts.length > 0) setImmediate(() => void this.#flushInserts());
    // RETURNING names the rows that went in; a conflicting one (recorded before) is left out.
    // The events of the batch go in the same transaction (most batches carry none: one statement).
    const insert = async (entries: typeof batch) => {
      const rows = this.#db.insertInto("uploads").values(entries.map((b) => b.row)).onConflict((oc) => oc.doNothing()).returning("id");
      const events = entries.flatMap((b) => (b.event ? [this.#insertMarkedEvent(String(b.row.id), b.event)] : []));
      const [result] = events.length === 0 ? [await this.#db.executeQuery(rows.compile())] : await this.#atomically([rows, ...events].map((q) => q.compile()));
      return new Set((result!.rows as { id: string }[]).map((row) => row.id));
    };
    const settle = (b: (typeof batch)[number], inserted: Set<string>) => {
      // The first of two inserts of one id in a batch is the one that went in.
      b.resolve(inserted.delete(b.row.id));
    };
    try {
      const inserted = await insert(batch);
      for (const b of batch) settle(b, inserted);
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      // One bad row fails the statement: retry each alone so that only it fails.
      for (const b of batch) await insert([b]).then((inserted) => settle(b, inserted), b.reject);
    }
  }

  /**
   * The INSERT of an event whose write marked the upload's row with the event's id: it selects
   * that row, so it writes the event only if the write applied, with the row's `event_seq`.
   */
  #insertMarkedEvent(uploadId: string, { id, event }: MarkedEvent): Compilable {
    return this.#db
      .insertInto("events")
      .columns(["id", "type", "upload_id", "seq", "key", "created_at", "data"])
      .expression(
        this.#db
          .selectFrom("uploads")
          .select((eb) => [
            eb.val(id).as("id"),
            eb.val(event.type).as("type"),
            "id as upload_id",
            "event_seq as seq",
            "key",
            eb.cast<number>(eb.val(event.createdAt), "bigint").as("created_at"),
            eb.val(JSON.stringify(event.data)).as("data"),
          ])
          .where("id", "=", uploadId)
          .where("event_mark", "=", id),
      );
  }

  async getUpload(id: string): Promise<UploadRecord | undefined> {
    const row = await this.#db.selectFrom("uploads").selectAll().where("id", "=", id).executeTakeFirst();
    return row && fromRow(row);
  }

  /**
   * With an event, the UPDATE also counts the upload's events and marks the row with the new
   * event's id, and the event's INSERT selects the row by that mark (`#insertMarkedEvent`).
   * On PostgreSQL the UPDATE's row lock serializes two writers of one upload, and the second
   * re-reads `event_seq` once the first commits: their events get seq n and n+1, never a clash.
   * An advisory lock on the upload comes first there, so that the transaction id (which orders
   * the feed, `readEvents`) is taken only once the writer is through: the UPDATE takes it before
   * it waits on the row, and a writer that took the lower id and then lost the row put seq 2
   * before seq 1 in the feed (seen once, in the conformance test of a fresh-clone run).
   */
  async updateUpload(id: string, patch: UploadPatch, condition: UpdateCondition = {}, event?: NewEvent): Promise<boolean> {
    let q = this.#db.updateTable("uploads").set(toPatch(patch)).where("id", "=", id);
    if (condition.states) q = q.where("state", "in", [...condition.states]);
    if (condition.leaseOwner !== undefined) q = q.where("lease_owner", "=", condition.leaseOwner);
    if (condition.notDeleted) q = q.where("deleted_at", "is", null);
    if (!event) {
      const result = await q.executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    }
    const marked = { id: newId("evt"), event };
    q = q.set((eb) => ({ event_seq: eb("event_seq", "+", 1), event_mark: marked.id }));
    const writes = [q.compile(), this.#insertMarkedEvent(id, marked).compile()];
    if (!this.#postgres) return Number((await this.#atomically(writes))[0]!.numAffectedRows ?? 0) > 0;
    const lock = sql`SELECT pg_advisory_xact_lock(hashtextextended(${id}, 0))`.compile(this.#db);
    return Number((await this.#atomically([lock, ...writes]))[1]!.numAffectedRows ?? 0) > 0;
  }

  async listFiles(options: { limit: number; cursor?: string; state?: UploadState; keyPrefix?: string | undefined }): Promise<FilePage> {
    let q = this.#db
      .selectFrom("uploads")
      .selectAll()
      .where("deleted_at", "is", null)
      .where("state", "in", options.state ? [options.state] : [...FILE_STATES]);
    // A key prefix is an exact namespace (domain/scopes.ts): the key starts with the prefix and
    // the upload id follows at once (a prefix never holds an `upl_` segment, and neither the id
    // nor the name a slash), so `t/` does not match `t/b/upl_…`. substr rather than LIKE: a
    // prefix may hold _ (a LIKE wildcard). Same function on SQLite and PostgreSQL.
    const prefix = options.keyPrefix;
    if (prefix) q = q.where((eb) => withinKeyPrefix(eb, prefix));
    const after = options.cursor ? decodeFileCursor(options.cursor) : undefined;
    if (after) {
      q = q.where((eb) =>
        eb.or([eb("created_at", "<", after.createdAt), eb.and([eb("created_at", "=", after.createdAt), eb("id", "<", after.id)])]),
      );
    }
    const rows = await q.orderBy("created_at", "desc").orderBy("id", "desc").limit(options.limit + 1).execute();
    const items = rows.slice(0, options.limit).map(fromRow);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > options.limit && last ? encodeFileCursor(last) : null };
  }

  async findDueForProcessing({ now, limit }: { now: number; limit: number }): Promise<string[]> {
    const rows = await this.#db
      .selectFrom("uploads")
      .select("id")
      .where("state", "in", ["uploaded", "processing"])
      .where((eb) => eb.or([eb("next_attempt_at", "is", null), eb("next_attempt_at", "<=", now)]))
      .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", now)]))
      .orderBy("next_attempt_at")
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  async acquireProcessingLease({ id, owner, now, leaseMs }: { id: string; owner: string; now: number; leaseMs: number }) {
    // One statement: the row as this UPDATE left it comes back with it (RETURNING: SQLite, D1
    // and PostgreSQL all have it), so no second read, and no window for another owner between.
    const row = await this.#db
      .updateTable("uploads")
      .set({ state: "processing", lease_owner: owner, lease_until: now + leaseMs, next_attempt_at: null, updated_at: now })
      .where("id", "=", id)
      .where("state", "in", ["uploaded", "processing"])
      .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", now), eb("lease_owner", "=", owner)]))
      .returningAll()
      .executeTakeFirst();
    return row && fromRow(row);
  }

  async insertApiKey(k: ApiKeyRecord): Promise<void> {
    await this.#db
      .insertInto("api_keys")
      .values({ id: k.id, name: k.name, hash: k.hash, prefix: k.prefix, created_at: k.createdAt, revoked_at: k.revokedAt, scope: k.scope && JSON.stringify(k.scope) })
      .execute();
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.#db.selectFrom("api_keys").selectAll().where("hash", "=", hash).executeTakeFirst();
    return row && toApiKey(row);
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.#db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toApiKey(row);
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    const rows = await this.#db.selectFrom("api_keys").selectAll().orderBy("created_at").execute();
    return rows.map(toApiKey);
  }

  async revokeApiKey(id: string, now: number): Promise<boolean> {
    const r = await this.#db.updateTable("api_keys").set({ revoked_at: now }).where("id", "=", id).where("revoked_at", "is", null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * The feed in commit order. Events are ordered by (xid, position) and read only up to a
   * horizon below which nothing can still commit, so the sequence a cursor walks only ever grows
   * at its end:
   * - SQLite and D1 have one writer at a time, which holds the lock from its first write to its
   *   commit: positions commit in order. xid is 0; the horizon is the highest position now.
   * - PostgreSQL hands out positions at INSERT, and transactions commit in any order: a reader
   *   that saw 6 would skip 5 if it committed later. Each event carries its transaction's id, and
   *   the horizon is the oldest transaction still running (`pg_snapshot_xmin`): every event below
   *   it is committed (or rolled back), every one still to come has an xid at or above it. Within
   *   one transaction, positions are in order. (Ordering by position alone, even below the
   *   horizon, would not do: a transaction with a later xid can hold an earlier position.)
   * The horizon is read first, and a short page's cursor moves up to it, so that a filtered
   * feed (a scoped key's) does not scan the same foreign events on every poll.
   */
  async readEvents(query: EventQuery): Promise<EventPage> {
    const after = query.after === undefined ? { xid: 0, position: 0 } : decodeEventCursor(query.after);
    const horizon = await this.#eventHorizon();
    let q = this.#db
      .selectFrom("events")
      .selectAll()
      .where((eb) => eb.or([eb("xid", ">", after.xid), eb.and([eb("xid", "=", after.xid), eb("position", ">", after.position)])]));
    q = this.#postgres ? q.where("xid", "<", horizon.xid) : q.where("position", "<=", horizon.position);
    if (query.uploadId !== undefined) q = q.where("upload_id", "=", query.uploadId);
    if (query.types) q = q.where("type", "in", query.types.length > 0 ? [...query.types] : [""]);
    const prefix = query.keyPrefix;
    if (prefix) q = q.where((eb) => withinKeyPrefix(eb, prefix));
    const rows = await q.orderBy("xid").orderBy("position").limit(query.limit).execute();
    const last = rows[rows.length - 1];
    const end = rows.length < query.limit ? laterOf(after, horizon) : last ? { xid: num(last.xid), position: num(last.position) } : after;
    return { events: rows.map(toEvent), cursor: encodeEventCursor(end) };
  }

  /** The cursor that follows every event committed now (see readEvents). */
  async #eventHorizon(): Promise<{ xid: number; position: number }> {
    if (this.#postgres) {
      const row = await this.#db
        .selectNoFrom((eb) => eb.cast<number>(eb.cast(eb.fn("pg_snapshot_xmin", [eb.fn("pg_current_snapshot", [])]), "text"), "bigint").as("xmin"))
        .executeTakeFirstOrThrow();
      return { xid: num(row.xmin), position: 0 };
    }
    const row = await this.#db
      .selectFrom("events")
      .select((eb) => eb.fn.max<number | null>("position").as("position"))
      .executeTakeFirst();
    return { xid: 0, position: num(row?.position ?? 0) };
  }

  watchExpiry(watch: ExpiryWatch): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pendingWatches.push({
        row: { expires_at: watch.expiresAt, upload_id: watch.uploadId, key: watch.data.key, data: JSON.stringify(watch.data) },
        resolve,
        reject,
      });
      if (!this.#flushingWatches) {
        this.#flushingWatches = true;
        setImmediate(() => void this.#flushWatches());
      }
    });
  }

  readonly #pendingWatches: { row: WatchRow; resolve: () => void; reject: (err: unknown) => void }[] = [];
  #flushingWatches = false;
  readonly #watchInserts = new Map<number, string>();

  /**
   * Group-committed, one commit in flight at a time: issuance is the hot path and every
   * issuance watches, and its requests reach this at scattered moments (each has awaited other
   * stores first), so what arrives while a commit runs goes in the next one, together.
   */
  async #flushWatches(): Promise<void> {
    const insert = (entries: typeof batch) => this.#db.executeQuery(compileWatchInsert(this.#db, entries.map((b) => b.row), this.#watchInserts));
    let batch = this.#pendingWatches.splice(0, 1000);
    for (; batch.length > 0; batch = this.#pendingWatches.splice(0, 1000)) {
      try {
        await insert(batch);
        for (const b of batch) b.resolve();
      } catch (err) {
        // One bad row fails the statement: each alone, so that only it fails.
        if (batch.length === 1) batch[0]!.reject(err);
        else for (const b of batch) await insert([b]).then(() => b.resolve(), b.reject);
      }
    }
    this.#flushingWatches = false;
  }

  async unwatchExpiry(watch: Pick<ExpiryWatch, "uploadId" | "expiresAt">): Promise<void> {
    await this.#db.deleteFrom("expiry_watch").where("expires_at", "=", watch.expiresAt).where("upload_id", "=", watch.uploadId).execute();
  }

  /**
   * Watches of uploads that arrived are dropped in one statement. The rest are claimed (an
   * UPDATE: on PostgreSQL a second sweep waits on the row locks, then finds the rows gone), each
   * reported by an INSERT that selects the claimed row and still finds no record and no earlier
   * report, and deleted, all in one transaction: a crash leaves the watches to the next sweep,
   * never an event without its watch gone, or the reverse. Every statement finds its rows by the
   * key (expiry, upload id), or within the due range of it.
   */
  async expireDue({ now, graceMs, limit, inFlight }: { now: number; graceMs: number; limit: number; inFlight?: (uploadId: string) => Promise<boolean> }): Promise<number> {
    const due = await this.#db
      .selectFrom("expiry_watch as w")
      .leftJoin("uploads as u", "u.id", "w.upload_id")
      .select(["w.expires_at", "w.upload_id", "u.id as arrived"])
      .where("w.expires_at", "<=", now - graceMs)
      .orderBy("w.expires_at")
      .limit(limit)
      .execute();
    if (due.length === 0) return 0;
    // Every row selected expires at or before this: bounds the statements below to the due range.
    const latest = num(due[due.length - 1]!.expires_at);
    const arrived = due.filter((d) => d.arrived !== null).map((d) => d.upload_id);
    if (arrived.length > 0) await this.#db.deleteFrom("expiry_watch").where("expires_at", "<=", latest).where("upload_id", "in", arrived).execute();
    const candidates = due.filter((d) => d.arrived === null);
    const busy = inFlight ? await Promise.all(candidates.map((d) => inFlight(d.upload_id))) : [];
    const unused = candidates.filter((_, i) => !busy[i]);
    if (unused.length === 0) return 0;
    const claim = newId("claim");
    const reports = unused.map((d) =>
      this.#db
        .insertInto("events")
        .columns(["id", "type", "upload_id", "seq", "key", "created_at", "data"])
        .expression(
          this.#db
            .selectFrom("expiry_watch as w")
            .select((eb) => [
              eb.val(newId("evt")).as("id"),
              eb.val<EventType>("upload.expired").as("type"),
              "w.upload_id",
              eb.cast<number>(eb.val(1), "integer").as("seq"),
              "w.key",
              eb.cast<number>(eb.val(now), "bigint").as("created_at"),
              "w.data",
            ])
            .where("w.expires_at", "=", d.expires_at)
            .where("w.upload_id", "=", d.upload_id)
            .where("w.claim", "=", claim)
            .where((eb) => eb.not(eb.exists(eb.selectFrom("uploads as u").select("u.id").whereRef("u.id", "=", "w.upload_id"))))
            // An upload watched twice (at two expiries) is reported once.
            .where((eb) => eb.not(eb.exists(eb.selectFrom("events as e").select("e.id").whereRef("e.upload_id", "=", "w.upload_id").where("e.type", "=", "upload.expired")))),
        )
        .compile(),
    );
    const results = await this.#atomically([
      this.#db
        .updateTable("expiry_watch")
        .set({ claim })
        .where("expires_at", "<=", latest)
        .where("upload_id", "in", unused.map((d) => d.upload_id))
        .where("claim", "is", null)
        .compile(),
      ...reports,
      this.#db.deleteFrom("expiry_watch").where("expires_at", "<=", latest).where("claim", "=", claim).compile(),
    ]);
    return results.slice(1, 1 + reports.length).reduce((n, r) => n + Number(r.numAffectedRows ?? 0), 0);
  }

  async deleteEventsBefore(before: number): Promise<number> {
    const result = await this.#db.deleteFrom("events").where("created_at", "<", before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async getOrInitSetting(name: string, value: string): Promise<string> {
    await this.#db.insertInto("settings").values({ name, value }).onConflict((oc) => oc.column("name").doNothing()).execute();
    const row = await this.#db.selectFrom("settings").select("value").where("name", "=", name).executeTakeFirstOrThrow();
    return row.value;
  }

  async replaceSetting(name: string, expected: string, value: string): Promise<boolean> {
    const r = await this.#db.updateTable("settings").set({ value }).where("name", "=", name).where("value", "=", expected).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async ping(): Promise<void> {
    await this.#db.selectFrom("settings").select("name").limit(1).execute();
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }
}

/** An event to write, with the id the store gave it (it marks the row its write changes). */
interface MarkedEvent {
  id: string;
  event: NewEvent;
}

/** The exact-namespace rule of `domain/scopes.ts` in SQL, on the `key` column of uploads or events. */
function withinKeyPrefix(eb: ExpressionBuilder<Database, "uploads" | "events">, prefix: string) {
  return eb.and([
    eb(eb.fn<string>("substr", [eb.ref("key"), eb.val(1), eb.val(prefix.length)]), "=", prefix),
    eb(eb.fn<string>("substr", [eb.ref("key"), eb.val(prefix.length + 1), eb.val(4)]), "=", "upl_"),
  ]);
}

function toEvent(row: Selectable<Database["events"]>): SluiceEvent {
  return { id: row.id, type: row.type as EventType, uploadId: row.upload_id, seq: num(row.seq), createdAt: num(row.created_at), data: JSON.parse(row.data) as EventData };
}

type EventCursor = { xid: number; position: number };

const laterOf = (a: EventCursor, b: EventCursor): EventCursor => (a.xid > b.xid || (a.xid === b.xid && a.position >= b.position) ? a : b);

/** Opaque to clients: `ev1.` then the (xid, position) last seen, base64url. */
function encodeEventCursor(c: EventCursor): string {
  return `ev1.${Buffer.from(`${c.xid}.${c.position}`).toString("base64url")}`;
}

function decodeEventCursor(cursor: string): EventCursor {
  const match = /^ev1\.([A-Za-z0-9_-]{1,64})$/.exec(cursor);
  const parts = match && /^(\d{1,16})\.(\d{1,16})$/.exec(Buffer.from(match[1]!, "base64url").toString());
  const xid = Number(parts?.[1]);
  const position = Number(parts?.[2]);
  if (!parts || !Number.isSafeInteger(xid) || !Number.isSafeInteger(position)) {
    throw badRequest("invalid_cursor", "The cursor is not one Sluice gave out; start again without `after`, or with the last page's cursor.");
  }
  return { xid, position };
}

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function fromRow(row: Selectable<UploadsTable>): UploadRecord {
  return {
    id: row.id,
    state: row.state as UploadState,
    key: row.key,
    filename: row.filename,
    declaredType: row.declared_type,
    contentType: row.content_type,
    size: num(row.size),
    sha256: row.sha256,
    receivedSha256: row.received_sha256,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    reason: row.reason,
    apiKeyId: row.api_key_id,
    attempts: num(row.attempts),
    nextAttemptAt: numOrNull(row.next_attempt_at),
    leaseOwner: row.lease_owner,
    leaseUntil: numOrNull(row.lease_until),
    expiresAt: num(row.expires_at),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
    uploadedAt: numOrNull(row.uploaded_at),
    archivedAt: numOrNull(row.archived_at),
    deletedAt: numOrNull(row.deleted_at),
    // Absent unless a copy is under way: a record reads as it was written.
    ...(row.copy_progress !== null && row.copy_progress !== undefined && { copyProgress: JSON.parse(row.copy_progress) as CopyProgress }),
  };
}

function toRow(r: UploadRecord): Insertable<UploadsTable> {
  return {
    id: r.id,
    state: r.state,
    key: r.key,
    filename: r.filename,
    declared_type: r.declaredType,
    content_type: r.contentType,
    size: r.size,
    sha256: r.sha256,
    received_sha256: r.receivedSha256,
    metadata: JSON.stringify(r.metadata),
    reason: r.reason,
    api_key_id: r.apiKeyId,
    attempts: r.attempts,
    next_attempt_at: r.nextAttemptAt,
    lease_owner: r.leaseOwner,
    lease_until: r.leaseUntil,
    expires_at: r.expiresAt,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    uploaded_at: r.uploadedAt,
    archived_at: r.archivedAt,
    deleted_at: r.deletedAt,
    copy_progress: r.copyProgress ? JSON.stringify(r.copyProgress) : null,
  };
}

/** Maps the fields present in a patch to their columns. */
function toPatch(p: UploadPatch): Updateable<UploadsTable> {
  const out: Updateable<UploadsTable> = {};
  if (p.state !== undefined) out.state = p.state;
  if (p.filename !== undefined) out.filename = p.filename;
  if (p.declaredType !== undefined) out.declared_type = p.declaredType;
  if (p.contentType !== undefined) out.content_type = p.contentType;
  if (p.size !== undefined) out.size = p.size;
  if (p.sha256 !== undefined) out.sha256 = p.sha256;
  if (p.receivedSha256 !== undefined) out.received_sha256 = p.receivedSha256;
  if (p.metadata !== undefined) out.metadata = JSON.stringify(p.metadata);
  if (p.reason !== undefined) out.reason = p.reason;
  if (p.apiKeyId !== undefined) out.api_key_id = p.apiKeyId;
  if (p.attempts !== undefined) out.attempts = p.attempts;
  if (p.nextAttemptAt !== undefined) out.next_attempt_at = p.nextAttemptAt;
  if (p.leaseOwner !== undefined) out.lease_owner = p.leaseOwner;
  if (p.leaseUntil !== undefined) out.lease_until = p.leaseUntil;
  if (p.expiresAt !== undefined) out.expires_at = p.expiresAt;
  if (p.updatedAt !== undefined) out.updated_at = p.updatedAt;
  if (p.uploadedAt !== undefined) out.uploaded_at = p.uploadedAt;
  if (p.archivedAt !== undefined) out.archived_at = p.archivedAt;
  if (p.deletedAt !== undefined) out.deleted_at = p.deletedAt;
  if (p.copyProgress !== undefined) out.copy_progress = p.copyProgress === null ? null : JSON.stringify(p.copyProgress);
  return out;
}

function toApiKey(row: Selectable<Database["api_keys"]>): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    hash: row.hash,
    prefix: row.prefix,
    createdAt: num(row.created_at),
    revokedAt: numOrNull(row.revoked_at),
    scope: row.scope === null ? null : (JSON.parse(row.scope) as KeyScope),
  };
}

/** An expiry watch's row as the store writes it (`claim` is left null). */
export type WatchRow = Required<Pick<Insertable<ExpiryWatchTable>, "expires_at" | "upload_id" | "key" | "data">>;

/**
 * The INSERT of `rows` watches. Its text depends only on how many rows there are (every value
 * is bound), so Kysely builds and compiles it once per row count (`cache`, at most 64 counts);
 * after that only the values are laid out, in the order Kysely binds them (columns in the
 * rows' key order, row after row). Building it through the query builder at every commit cost
 * about 3% of an issuance's CPU (issue 19). `kysely-store.test.ts` checks the two agree.
 */
export function compileWatchInsert(db: Kysely<Database>, rows: readonly WatchRow[], cache: Map<number, string>): CompiledQuery {
  const text = cache.get(rows.length);
  if (text === undefined) {
    const compiled = db
      .insertInto("expiry_watch")
      .values(rows)
      .onConflict((oc) => oc.columns(["expires_at", "upload_id"]).doNothing())
      .compile();
    if (cache.size >= 64) cache.clear();
    cache.set(rows.length, compiled.sql);
    return compiled;
  }
  const parameters: unknown[] = [];
  for (const r of rows) parameters.push(r.expires_at, r.upload_id, r.key, r.data);
  return CompiledQuery.raw(text, parameters);
}
