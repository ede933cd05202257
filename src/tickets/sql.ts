import { Migrator, sql, type Kysely, type Migration } from "kysely";
import { once } from "../internal/async.js";
import { newSecret } from "../internal/crypto.js";
import { TOMBSTONE_MS, type ClaimResult, type ConsumeResult, type Ticket, type TicketState, type TicketStore } from "./ticket-store.js";
import { unref } from "../internal/timers.js";

interface TicketsTable {
  id: string;
  /** The ticket as JSON. */
  ticket: string;
  state: string;
  lease: string | null;
  lease_until: number | null;
  expires_at: number;
  /** When the expiry sweep may delete the row (expiry, or the lease's end, plus the tombstone). */
  purge_at: number;
}

export interface TicketDatabase {
  sluice_tickets: TicketsTable;
}

const migrations: Record<string, Migration> = {
  "0001_tickets": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("sluice_tickets")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("ticket", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("lease", "text")
        .addColumn("lease_until", "bigint")
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("purge_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("sluice_tickets_purge").on("sluice_tickets").column("purge_at").execute();
    },
  },
};

/**
 * Durable tickets in a SQL database (PostgreSQL; SQLite-family databases such as Cloudflare
 * D1): a ticket survives a restart of the database or of every instance. Each transition is
 * one conditional `UPDATE … WHERE state = … RETURNING`, which the database applies atomically
 * per row: of concurrent claimers exactly one matches the `issued` row; the others see it
 * claimed. Only a refused transition reads the row again, to say why.
 */
export class SqlTicketStore implements TicketStore {
  readonly name: string;
  readonly #db: Kysely<TicketDatabase>;
  readonly #now: () => number;
  readonly #greatest: "GREATEST" | "MAX";
  readonly #sweepEveryMs: number | undefined;
  #sweep: ReturnType<typeof setInterval> | undefined;
  /** Until the table exists, every call first waits for (or retries) the migration. */
  readonly #ensure = once(() => this.migrate());

  /**
   * `sweepEveryMs: undefined` starts no timer: the runtime calls `sweep()` on a schedule
   * (Workers may not keep timers between requests).
   */
  constructor(options: { db: Kysely<TicketDatabase>; dialect: "postgres" | "sqlite"; name: string; sweepEveryMs?: number | undefined; now?: () => number }) {
    this.#db = options.db;
    this.name = options.name;
    this.#greatest = options.dialect === "postgres" ? "GREATEST" : "MAX";
    this.#sweepEveryMs = options.sweepEveryMs;
    this.#now = options.now ?? Date.now;
  }

  /** Creates the table (once; safe from several instances: Kysely's migrator takes a lock) and starts the expiry sweep. */
  async migrate(): Promise<void> {
    const { error } = await new Migrator({
      db: this.#db,
      provider: { getMigrations: () => Promise.resolve(migrations) },
      migrationTableName: "sluice_ticket_migrations",
      migrationLockTableName: "sluice_ticket_migrations_lock",
    }).migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error("Ticket table migration failed", { cause: error });
    if (this.#sweepEveryMs !== undefined && !this.#sweep) {
      this.#sweep = setInterval(() => void this.sweep().catch(() => {}), this.#sweepEveryMs);
      unref(this.#sweep);
    }
  }

  /** Deletes tickets past their tombstone. Returns how many. */
  async sweep(now = this.#now()): Promise<number> {
    await this.#ensure();
    const result = await this.#db.deleteFrom("sluice_tickets").where("purge_at", "<", now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async issue(ticket: Ticket): Promise<void> {
    await this.#ensure();
    const inserted = await this.#db
      .insertInto("sluice_tickets")
      .values({ id: ticket.id, ticket: JSON.stringify(ticket), state: "issued", expires_at: ticket.expiresAt, purge_at: ticket.expiresAt + TOMBSTONE_MS })
      .onConflict((oc) => oc.column("id").doNothing())
      .returning("id")
      .executeTakeFirst();
    if (!inserted) throw new Error(`Ticket ${ticket.id} already exists.`);
  }

  async claim(id: string, { leaseMs }: { leaseMs: number }): Promise<ClaimResult> {
    await this.#ensure();
    const now = this.#now();
    const lease = newSecret(12);
    const until = now + leaseMs;
    const row = await this.#db
      .updateTable("sluice_tickets")
      .set({ state: "claimed", lease, lease_until: until, purge_at: this.#laterPurge(until + TOMBSTONE_MS) })
      .where("id", "=", id)
      .where("expires_at", ">", now)
      .where((eb) => eb.or([eb("state", "=", "issued"), eb.and([eb("state", "=", "claimed"), eb("lease_until", "<=", now)])]))
      .returning("ticket")
      .executeTakeFirst();
    if (row) return { ok: true, ticket: JSON.parse(row.ticket) as Ticket, lease };
    const why = await this.#why(id, now);
    return { ok: false, reason: why === "lease_lost" ? "claimed" : why };
  }

  async renew(id: string, lease: string, { leaseMs }: { leaseMs: number }): Promise<boolean> {
    await this.#ensure();
    const until = this.#now() + leaseMs;
    const result = await this.#db
      .updateTable("sluice_tickets")
      .set({ lease_until: until, purge_at: this.#laterPurge(until + TOMBSTONE_MS) })
      .where("id", "=", id)
      .where("state", "=", "claimed")
      .where("lease", "=", lease)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async release(id: string, lease: string): Promise<boolean> {
    await this.#ensure();
    const result = await this.#db
      .updateTable("sluice_tickets")
      .set({ state: "issued", lease: null, lease_until: null })
      .where("id", "=", id)
      .where("state", "=", "claimed")
      .where("lease", "=", lease)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async consume(id: string, lease: string | null): Promise<ConsumeResult> {
    await this.#ensure();
    const now = this.#now();
    let q = this.#db.updateTable("sluice_tickets").set({ state: "consumed", lease: null, lease_until: null }).where("id", "=", id);
    q =
      lease === null
        ? q
            .where("expires_at", ">", now)
            .where((eb) => eb.or([eb("state", "=", "issued"), eb.and([eb("state", "=", "claimed"), eb("lease_until", "<=", now)])]))
        : q.where("state", "=", "claimed").where("lease", "=", lease);
    const row = await q.returning("ticket").executeTakeFirst();
    if (row) return { ok: true, ticket: JSON.parse(row.ticket) as Ticket };
    const why = await this.#why(id, now);
    return { ok: false, reason: lease !== null && why !== "unknown" && why !== "consumed" && why !== "revoked" ? "lease_lost" : why };
  }

  async revoke(id: string): Promise<boolean> {
    await this.#ensure();
    const now = this.#now();
    const result = await this.#db
      .updateTable("sluice_tickets")
      .set({ state: "revoked", lease: null, lease_until: null })
      .where("id", "=", id)
      .where((eb) => eb.or([eb("state", "=", "issued"), eb.and([eb("state", "=", "claimed"), eb("lease_until", "<=", now)])]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async get(id: string): Promise<{ ticket: Ticket; state: TicketState } | undefined> {
    await this.#ensure();
    const row = await this.#db.selectFrom("sluice_tickets").select(["ticket", "state", "lease_until"]).where("id", "=", id).executeTakeFirst();
    if (!row) return undefined;
    const lapsed = row.state === "claimed" && (row.lease_until ?? 0) <= this.#now();
    return { ticket: JSON.parse(row.ticket) as Ticket, state: lapsed ? "issued" : (row.state as TicketState) };
  }

  /** The row's purge time, or `at` if later (never brought forward). */
  #laterPurge(at: number) {
    return sql<number>`${sql.raw(this.#greatest)}(purge_at, ${at})`;
  }

  /** Why a transition was refused, read after the fact. */
  async #why(id: string, now: number): Promise<"unknown" | "expired" | "claimed" | "consumed" | "revoked" | "lease_lost"> {
    const row = await this.#db.selectFrom("sluice_tickets").select(["state", "lease_until", "expires_at"]).where("id", "=", id).executeTakeFirst();
    if (!row) return "unknown";
    if (row.state === "consumed" || row.state === "revoked") return row.state;
    if (row.state === "claimed" && (row.lease_until ?? 0) > now) return "claimed";
    if (row.expires_at <= now) return "expired";
    // Issued and live, or a lapsed claim: the caller's lease is not the holder's.
    return "lease_lost";
  }

  async ping(): Promise<void> {
    await this.#ensure();
    await sql`SELECT 1`.execute(this.#db);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    await this.#db.destroy();
  }
}
