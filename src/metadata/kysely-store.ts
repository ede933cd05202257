import { Migrator, type Insertable, type Kysely, type Selectable, type Updateable } from "kysely";
import type { Database, UploadsTable } from "./schema.js";
import { migrationProvider } from "./migrations.js";
import {
  FILE_STATES,
  type ApiKeyRecord,
  type FilePage,
  type KeyScope,
  type MetadataStore,
  type UpdateCondition,
  type UploadPatch,
  type UploadRecord,
  type UploadState,
} from "./metadata-store.js";

/** The metadata store on any SQL database Kysely speaks. The dialect is chosen by the factory. */
export class KyselyMetadataStore implements MetadataStore {
  readonly name: string;
  readonly #db: Kysely<Database>;

  constructor(options: { db: Kysely<Database>; name: string }) {
    this.#db = options.db;
    this.name = options.name;
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
  insertUpload(r: UploadRecord): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#pendingInserts.push({ row: toRow(r), resolve, reject });
      if (this.#pendingInserts.length === 1) setImmediate(() => void this.#flushInserts());
    });
  }

  readonly #pendingInserts: { row: Insertable<UploadsTable>; resolve: (inserted: boolean) => void; reject: (err: unknown) => void }[] = [];

  async #flushInserts(): Promise<void> {
    // 22 columns a row; stay well under SQLite's limit of 32766 bound parameters.
    const batch = this.#pendingInserts.splice(0, 500);
    if (this.#pendingInserts.length > 0) setImmediate(() => void this.#flushInserts());
    // RETURNING names the rows that went in; a conflicting one (recorded before) is left out.
    const insert = async (rows: Insertable<UploadsTable>[]) =>
      new Set((await this.#db.insertInto("uploads").values(rows).onConflict((oc) => oc.doNothing()).returning("id").execute()).map((row) => row.id));
    const settle = (b: (typeof batch)[number], inserted: Set<string>) => {
      // The first of two inserts of one id in a batch is the one that went in.
      b.resolve(inserted.delete(b.row.id));
    };
    try {
      const inserted = await insert(batch.map((b) => b.row));
      for (const b of batch) settle(b, inserted);
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      // One bad row fails the statement: retry each alone so that only it fails.
      for (const b of batch) await insert([b.row]).then((inserted) => settle(b, inserted), b.reject);
    }
  }

  async getUpload(id: string): Promise<UploadRecord | undefined> {
    const row = await this.#db.selectFrom("uploads").selectAll().where("id", "=", id).executeTakeFirst();
    return row && fromRow(row);
  }

  async updateUpload(id: string, patch: UploadPatch, condition: UpdateCondition = {}): Promise<boolean> {
    let q = this.#db.updateTable("uploads").set(toPatch(patch)).where("id", "=", id);
    if (condition.states) q = q.where("state", "in", [...condition.states]);
    if (condition.leaseOwner !== undefined) q = q.where("lease_owner", "=", condition.leaseOwner);
    const result = await q.executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
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
    if (prefix) {
      q = q
        .where((eb) => eb(eb.fn<string>("substr", ["key", eb.val(1), eb.val(prefix.length)]), "=", prefix))
        .where((eb) => eb(eb.fn<string>("substr", ["key", eb.val(prefix.length + 1), eb.val(4)]), "=", "upl_"));
    }
    const after = options.cursor ? decodeCursor(options.cursor) : undefined;
    if (after) {
      q = q.where((eb) =>
        eb.or([eb("created_at", "<", after.createdAt), eb.and([eb("created_at", "=", after.createdAt), eb("id", "<", after.id)])]),
      );
    }
    const rows = await q.orderBy("created_at", "desc").orderBy("id", "desc").limit(options.limit + 1).execute();
    const items = rows.slice(0, options.limit).map(fromRow);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > options.limit && last ? encodeCursor(last) : null };
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

function encodeCursor(r: UploadRecord): string {
  return Buffer.from(JSON.stringify([r.createdAt, r.id])).toString("base64url");
}

function decodeCursor(cursor: string): { createdAt: number; id: string } | undefined {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, "base64url").toString()) as [unknown, unknown];
    return typeof createdAt === "number" && typeof id === "string" ? { createdAt, id } : undefined;
  } catch {
    return undefined;
  }
}
