import { newSecret } from "../internal/crypto.js";
import { TOMBSTONE_MS, type ClaimResult, type ConsumeResult, type Ticket, type TicketState, type TicketStore } from "./ticket-store.js";
import { unref } from "../internal/timers.js";

interface Entry {
  ticket: Ticket;
  state: TicketState;
  lease?: string;
  leaseUntil?: number;
}

/**
 * Tickets in this process's memory. JavaScript runs each method body without interleaving,
 * so every check-and-set below is atomic. Tickets do not survive a restart.
 */
export class MemoryTicketStore implements TicketStore {
  readonly name: string = "memory ticket store";
  readonly #entries = new Map<string, Entry>();
  readonly #sweep: NodeJS.Timeout;

  constructor(options: { now?: () => number } = {}) {
    this.clock = options.now ?? Date.now;
    this.#sweep = setInterval(() => this.#evict(), 30_000);
    unref(this.#sweep);
  }

  issue(ticket: Ticket): Promise<void> {
    const refused = this.insert(ticket);
    return refused ? Promise.reject(refused) : Promise.resolve();
  }

  /** This store's clock (the tests' own, or `Date.now`). */
  protected readonly clock: () => number;

  /** Stores an issued ticket at once; if its id is taken, stores nothing and says why. */
  protected insert(ticket: Ticket): Error | undefined {
    if (this.#entries.has(ticket.id)) return new Error(`Ticket ${ticket.id} already exists.`);
    this.#entries.set(ticket.id, { ticket: copy(ticket), state: "issued" });
    return undefined;
  }

  /** Forgets a ticket at once, as if it had never been issued. */
  protected remove(id: string): void {
    this.#entries.delete(id);
  }

  claim(id: string, { leaseMs }: { leaseMs: number }): Promise<ClaimResult> {
    const now = this.clock();
    const entry = this.#live(id, now);
    if (!entry) return Promise.resolve({ ok: false, reason: this.#entries.has(id) ? "expired" : "unknown" });
    if (entry.state === "claimed" && (entry.leaseUntil ?? 0) > now) return Promise.resolve({ ok: false, reason: "claimed" });
    if (entry.state === "consumed" || entry.state === "revoked") return Promise.resolve({ ok: false, reason: entry.state });
    if (entry.ticket.expiresAt <= now) return Promise.resolve({ ok: false, reason: "expired" });
    entry.state = "claimed";
    entry.lease = newSecret(12);
    entry.leaseUntil = now + leaseMs;
    return Promise.resolve({ ok: true, ticket: copy(entry.ticket), lease: entry.lease });
  }

  renew(id: string, lease: string, { leaseMs }: { leaseMs: number }): Promise<boolean> {
    const entry = this.#held(id, lease);
    if (entry) entry.leaseUntil = this.clock() + leaseMs;
    return Promise.resolve(entry !== undefined);
  }

  release(id: string, lease: string): Promise<boolean> {
    const entry = this.#held(id, lease);
    if (entry) {
      entry.state = "issued";
      delete entry.lease;
      delete entry.leaseUntil;
    }
    return Promise.resolve(entry !== undefined);
  }

  consume(id: string, lease: string | null): Promise<ConsumeResult> {
    const now = this.clock();
    const entry = this.#entries.get(id);
    if (!entry) return Promise.resolve({ ok: false, reason: "unknown" });
    if (entry.state === "consumed" || entry.state === "revoked") return Promise.resolve({ ok: false, reason: entry.state });
    if (lease === null) {
      if (entry.state === "claimed" && (entry.leaseUntil ?? 0) > now) return Promise.resolve({ ok: false, reason: "claimed" });
      if (entry.ticket.expiresAt <= now) return Promise.resolve({ ok: false, reason: "expired" });
    } else if (entry.state !== "claimed" || entry.lease !== lease) {
      return Promise.resolve({ ok: false, reason: "lease_lost" });
    }
    entry.state = "consumed";
    delete entry.lease;
    delete entry.leaseUntil;
    return Promise.resolve({ ok: true, ticket: copy(entry.ticket) });
  }

  /** The ticket, if `revoke` would cancel it now (issued, or claimed under a lapsed lease). */
  protected revocable(id: string): Ticket | undefined {
    const entry = this.#entries.get(id);
    if (!entry || entry.state === "consumed" || entry.state === "revoked") return undefined;
    if (entry.state === "claimed" && (entry.leaseUntil ?? 0) > this.clock()) return undefined;
    return entry.ticket;
  }

  revoke(id: string): Promise<boolean> {
    const entry = this.revocable(id) && this.#entries.get(id);
    if (!entry) return Promise.resolve(false);
    entry.state = "revoked";
    delete entry.lease;
    delete entry.leaseUntil;
    return Promise.resolve(true);
  }

  get(id: string): Promise<{ ticket: Ticket; state: TicketState } | undefined> {
    const entry = this.#entries.get(id);
    if (!entry) return Promise.resolve(undefined);
    const expiredClaim = entry.state === "claimed" && (entry.leaseUntil ?? 0) <= this.clock();
    return Promise.resolve({ ticket: copy(entry.ticket), state: expiredClaim ? "issued" : entry.state });
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    clearInterval(this.#sweep);
    this.#entries.clear();
    return Promise.resolve();
  }

  /** The entry, unless it is past expiry and holds no live lease (then only its tombstone remains). */
  #live(id: string, now: number): Entry | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    const leaseLive = entry.state === "claimed" && (entry.leaseUntil ?? 0) > now;
    if (entry.ticket.expiresAt <= now && !leaseLive && entry.state !== "consumed" && entry.state !== "revoked") return undefined;
    return entry;
  }

  #held(id: string, lease: string): Entry | undefined {
    const entry = this.#entries.get(id);
    return entry?.state === "claimed" && entry.lease === lease ? entry : undefined;
  }

  #evict(): void {
    const now = this.clock();
    for (const [id, entry] of this.#entries) {
      const until = Math.max(entry.ticket.expiresAt, entry.leaseUntil ?? 0) + TOMBSTONE_MS;
      if (until <= now) this.#entries.delete(id);
    }
  }
}

/** Tickets hold strings, numbers and one flat string map: a shallow copy of each level isolates them. */
function copy(ticket: Ticket): Ticket {
  return { ...ticket, metadata: { ...ticket.metadata }, ...(ticket.multipart && { multipart: { ...ticket.multipart } }) };
}
