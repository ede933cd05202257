import Memcached from "memcached";
import memcachedConnection from "memcached/lib/connection.js";
import { newSecret } from "../internal/crypto.js";
import { TOMBSTONE_MS, type ClaimResult, type ConsumeResult, type Ticket, type TicketState, type TicketStore } from "./ticket-store.js";

interface Entry {
  ticket: Ticket;
  state: TicketState;
  lease?: string;
  leaseUntil?: number;
  /** When memcached may forget the entry (epoch ms). */
  purgeAt: number;
}

type Refusal = Exclude<ConsumeResult, { ok: true }>["reason"];

/** A transition: the next entry, or why there is none, computed from the current one. */
type Step<T> = { write: Entry; result: T } | { result: T };

/**
 * The longest one library call may take: its own per-operation timeout (2 s) and its retries
 * (four, 10-200 ms apart) fit well inside.
 */
const CALL_DEADLINE_MS = 5000;

/** Concurrent writers retry their compare-and-swap; this many lost races means something is wrong. */
const MAX_CAS_ATTEMPTS = 50;

/**
 * The `memcached` library (2.2.2, its last release) decides that a failed node is back by running
 * the system's `ping` on its host (`attemptReconnect` in its `lib/connection.js`). It gets there
 * when one node's failures overlap (several calls failing at once, as under load, whatever
 * `failures` says). Where no `ping` is installed (slim container images; this project's CI
 * machines) the spawn fails with ENOENT, which the library does not listen for, so the error
 * took the whole process down instead of answering 503s (the memcached outage test's rare
 * ECONNRESET). A ping says nothing about memcached anyway. So the reconnect does, after the
 * same wait, what the library does when its ping answers: the node is marked usable again, and
 * the next call tries it, failing or serving on its own. `memcached.server.test.ts` runs this
 * with `ping` out of reach.
 */
memcachedConnection.IssueLog.prototype.attemptReconnect = function attemptReconnect() {
  this.totalReconnectsAttempted++;
  this.emit("reconnecting", this.details);
  this.emit("reconnected", this.details);
  this.totalReconnectsSuccess++;
  this.messages.length = 0;
  this.failed = false;
  this.isScheduledToReconnect = false;
  Object.assign(this, JSON.parse(JSON.stringify(this.config)) as Record<string, unknown>);
};

/**
 * Tickets in Memcached, the seeds' choice: cheap and fast, and lost when a node restarts
 * (a lost ticket reads "unknown": its URL stops working, it is never used twice). Several
 * servers share the tickets by consistent hashing (ketama), each ticket on one server.
 *
 * A ticket is one JSON entry. `issue` is `add` (only if absent); every transition is
 * `gets` and then `cas` with the token read: if another instance changed the entry in
 * between, the `cas` fails and the transition is decided again on what is there now. So of
 * concurrent claimers exactly one's `cas` lands.
 *
 * A server that is down makes its tickets' calls fail (503); it is never dropped from the
 * ring, which would move its tickets to a server that does not know them.
 */
export class MemcachedTicketStore implements TicketStore {
  readonly name = "memcached ticket store";
  readonly #client: Memcached;
  readonly #servers: string[];
  readonly #prefix: string;
  readonly #now: () => number;

  constructor(options: { servers: string[]; prefix?: string; now?: () => number }) {
    this.#servers = options.servers;
    // (`failuresTimeout`, `minTimeout`, `maxTimeout` and `factor` are real options of the
    // library that its type definitions omit.)
    const settings: Memcached.options & { failuresTimeout: number; minTimeout: number; maxTimeout: number; factor: number } = {
      timeout: 2000,
      idle: 30_000,
      // A busy pool is waited for briefly (10, 20, 40, 80 ms) rather than failed at once:
      // a burst of 100 concurrent calls must not read as a dead node.
      poolSize: 64,
      retries: 4,
      minTimeout: 10,
      maxTimeout: 200,
      factor: 2,
      // A node is never marked dead, and one failed call does not fail the node's other
      // calls for a while (the defaults give up for minutes, then hours): each call tries,
      // and a restarted node serves again at once.
      failures: 1_000_000,
      retry: 0,
      reconnect: 1000,
      // The library keeps a timer of this length after a node's first failure (default five
      // minutes), which would also hold a stopping process open that long.
      failuresTimeout: 1000,
      remove: false,
    };
    this.#client = new Memcached(options.servers, settings);
    this.#prefix = options.prefix ?? "sluice:";
    this.#now = options.now ?? Date.now;
  }

  #key(id: string): string {
    return `${this.#prefix}t:${id}`;
  }

  async issue(ticket: Ticket): Promise<void> {
    const entry: Entry = { ticket, state: "issued", purgeAt: ticket.expiresAt + TOMBSTONE_MS };
    const added = await this.#call<boolean>((cb) => this.#client.add(this.#key(ticket.id), JSON.stringify(entry), lifetime(entry, this.#now()), cb));
    if (!added) throw new Error(`Ticket ${ticket.id} already exists.`);
  }

  claim(id: string, { leaseMs }: { leaseMs: number }): Promise<ClaimResult> {
    return this.#transition<ClaimResult>(id, { ok: false, reason: "unknown" }, (e, now) => {
      if (e.state === "consumed" || e.state === "revoked") return { result: { ok: false, reason: e.state } };
      if (e.state === "claimed" && (e.leaseUntil ?? 0) > now) return { result: { ok: false, reason: "claimed" } };
      if (e.ticket.expiresAt <= now) return { result: { ok: false, reason: "expired" } };
      const lease = newSecret(12);
      const write = { ...e, state: "claimed" as const, lease, leaseUntil: now + leaseMs, purgeAt: Math.max(e.purgeAt, now + leaseMs + TOMBSTONE_MS) };
      return { write, result: { ok: true, ticket: e.ticket, lease } };
    });
  }

  renew(id: string, lease: string, { leaseMs }: { leaseMs: number }): Promise<boolean> {
    return this.#transition<boolean>(id, false, (e, now) => {
      if (e.state !== "claimed" || e.lease !== lease) return { result: false };
      return { write: { ...e, leaseUntil: now + leaseMs, purgeAt: Math.max(e.purgeAt, now + leaseMs + TOMBSTONE_MS) }, result: true };
    });
  }

  release(id: string, lease: string): Promise<boolean> {
    return this.#transition<boolean>(id, false, (e) => {
      if (e.state !== "claimed" || e.lease !== lease) return { result: false };
      return { write: { ticket: e.ticket, state: "issued", purgeAt: e.purgeAt }, result: true };
    });
  }

  consume(id: string, lease: string | null): Promise<ConsumeResult> {
    return this.#transition<ConsumeResult>(id, { ok: false, reason: "unknown" }, (e, now) => {
      if (e.state === "consumed" || e.state === "revoked") return { result: { ok: false, reason: e.state } };
      if (lease === null) {
        if (e.state === "claimed" && (e.leaseUntil ?? 0) > now) return { result: { ok: false, reason: "claimed" } };
        if (e.ticket.expiresAt <= now) return { result: { ok: false, reason: "expired" } };
      } else if (e.state !== "claimed" || e.lease !== lease) {
        return { result: { ok: false, reason: "lease_lost" satisfies Refusal } };
      }
      return { write: { ticket: e.ticket, state: "consumed", purgeAt: e.purgeAt }, result: { ok: true, ticket: e.ticket } };
    });
  }

  revoke(id: string): Promise<boolean> {
    return this.#transition<boolean>(id, false, (e, now) => {
      if (e.state === "consumed" || e.state === "revoked") return { result: false };
      if (e.state === "claimed" && (e.leaseUntil ?? 0) > now) return { result: false };
      return { write: { ticket: e.ticket, state: "revoked", purgeAt: e.purgeAt }, result: true };
    });
  }

  async get(id: string): Promise<{ ticket: Ticket; state: TicketState } | undefined> {
    const value = await this.#call<unknown>((cb) => this.#client.get(this.#key(id), cb));
    if (typeof value !== "string") return undefined;
    const e = JSON.parse(value) as Entry;
    const lapsed = e.state === "claimed" && (e.leaseUntil ?? 0) <= this.#now();
    return { ticket: e.ticket, state: lapsed ? "issued" : e.state };
  }

  /** Every server must answer: a ticket may live on any of them. */
  async ping(): Promise<void> {
    const versions = await this.#call<{ server?: string; version?: string }[]>((cb) => this.#client.version(cb));
    const answered = new Set(versions.filter((v) => v.version).map((v) => v.server));
    const silent = this.#servers.filter((s) => !answered.has(s));
    if (silent.length > 0) throw new Error(`memcached ${silent.join(", ")} did not answer`);
  }

  close(): Promise<void> {
    this.#client.end();
    return Promise.resolve();
  }

  /** Reads the entry with its CAS token, decides, and writes with that token; on a lost race, decides again. */
  async #transition<T>(id: string, unknown: T, decide: (entry: Entry, now: number) => Step<T>): Promise<T> {
    const key = this.#key(id);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const read = await this.#call<Record<string, unknown> | undefined | false>((cb) => this.#client.gets(key, cb));
      const value = read ? read[key] : undefined;
      if (!read || typeof value !== "string" || typeof read.cas !== "string") return unknown;
      const now = this.#now();
      const step = decide(JSON.parse(value) as Entry, now);
      if (!("write" in step)) return step.result;
      const cas = read.cas;
      const swapped = await this.#call<boolean>((cb) => this.#client.cas(key, JSON.stringify(step.write), cas, lifetime(step.write, now), cb));
      if (swapped) return step.result;
    }
    throw new Error(`Ticket ${id}: ${MAX_CAS_ATTEMPTS} compare-and-swap attempts lost to concurrent writers.`);
  }

  /**
   * One library call, with a deadline of Sluice's own: after a node has gone and come back a
   * few times under load, the library was seen never to call back (a load test's requests hung
   * for minutes), and a wait without an end is a request that never fails closed.
   */
  #call<T>(run: (cb: (err: unknown, result: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`memcached did not answer within ${CALL_DEADLINE_MS} ms`)), CALL_DEADLINE_MS);
      run((err, result) => {
        clearTimeout(deadline);
        if (err) reject(err instanceof Error ? err : new Error(`memcached: ${describe(err)}`));
        else resolve(result);
      });
    });
  }
}

/** Seconds memcached keeps the entry (relative; our longest is days, well under its 30-day limit). */
function lifetime(entry: Entry, now: number): number {
  return Math.max(1, Math.ceil((entry.purgeAt - now) / 1000));
}

function describe(err: unknown): string {
  if (Array.isArray(err)) return err.map(describe).join("; ");
  if (typeof err === "string") return err;
  try {
    return JSON.stringify(err);
  } catch {
    return "error";
  }
}
