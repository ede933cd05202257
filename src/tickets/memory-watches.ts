import fs from "node:fs";
import path from "node:path";
import { MemoryTicketStore } from "./memory.js";
import type { DueWatch, Ticket, TicketStore } from "./ticket-store.js";

/** Watches are filed by their ticket's expiry, this long a file: a watch is due at most this late. */
export const WATCH_FILE_MS = 10_000;
const FILE_NAME = /^watches-(\d+)\.jsonl$/;
const fileOf = (expiresAt: number) => `watches-${Math.floor(expiresAt / WATCH_FILE_MS) * WATCH_FILE_MS}.jsonl`;

interface Watching {
  /** The ticket as the journal holds it: what the watch reports if the store no longer has it. */
  ticket: Ticket;
  file: string;
  claimedUntil: number;
}

/**
 * Memory tickets whose upload's expiry watch is kept by the store itself, in an append-only
 * journal on local disk, rather than committed to the metadata store at every issuance (issue
 * 19: that SQLite commit was the largest single cost of an issuance; the journal costs one
 * `write` per journal file per turn of the event loop). Used only beside a SQLite metadata
 * database, on its disk (config/tickets.ts): with any other database the watch stays there.
 * The sweep hands the due watches on to the metadata store (`moveExpiryWatches` in
 * reconcile.ts), as it does Redis's.
 *
 * - **Durable as the SQLite watch was.** An issuance is answered only after its watch's line is
 *   written (group-written: the issuances of one event-loop turn share one `write`). A written
 *   line is in the kernel's hands and survives a crash of this process, as a commit under
 *   `synchronous = NORMAL` does; neither survives a power loss before the kernel writes back.
 *   A watch that cannot be written fails its issuance (503), and the ticket is forgotten; what
 *   the failed write left in the file is cut off again (`#append`).
 * - **Filed by expiry**: one file per WATCH_FILE_MS of expiry (`watches-<ms>.jsonl`, one JSON
 *   ticket a line). A file is read once its whole span is due, and removed once each of its
 *   watches is settled. A cancelled ticket's file gets a `{"revoked":id}` line.
 * - **After a restart** the tickets are gone (memory), but the journal is not: a watch is then
 *   handed on with the journal's ticket as `issued` (or left out, if the journal says it was
 *   cancelled). An upload that was used before the restart has a record in the metadata store,
 *   so `reportExpired` does not report it.
 * - **One process per directory**, as memory tickets are one process's. Two processes on one
 *   directory would each hand on the other's watches without its tickets' states: the other's
 *   uploads still streaming through its gateway could be reported expired.
 * - Tickets are evicted a tombstone (15 minutes) past expiry, as before, even if their watch is
 *   not yet settled; the sweep reads a file half a grace (default 2.5 minutes) past it. With a
 *   grace of 30 minutes or more, every watch is handed on as issued (the journal's ticket), and
 *   the metadata store's record of a used upload keeps it from being reported: right, but a
 *   metadata write for every upload.
 */
export class JournaledMemoryTicketStore extends MemoryTicketStore implements Required<Pick<TicketStore, "issueWatched" | "dueWatches" | "settleWatches">> {
  override readonly name: string;
  readonly #dir: string;
  /** Open journal files by name (appended to while their span is not yet due). */
  readonly #open = new Map<string, number>();
  #pending: { ticket: Ticket; resolve: () => void; reject: (err: unknown) => void }[] = [];
  /** Due watches read from the journal and not yet settled, by upload id. */
  readonly #watching = new Map<string, Watching>();
  /**
   * Issuances refused by a failed write: should what was written of them not have been cut off
   * again, their lines are no watches. Only failed writes add to it; an id leaves when its
   * file is read.
   */
  readonly #refused = new Set<string>();
  /** Per journal file read: how many of its watches are not yet settled. */
  readonly #unsettled = new Map<string, number>();

  constructor(options: { dir: string; now?: () => number }) {
    super(options);
    fs.mkdirSync(options.dir, { recursive: true });
    this.#dir = options.dir;
    this.name = `memory ticket store (expiry watches in ${options.dir})`;
  }

  issueWatched(ticket: Ticket): Promise<void> {
    const refused = this.insert(ticket);
    if (refused) return Promise.reject(refused);
    return new Promise((resolve, reject) => {
      if (this.#pending.push({ ticket, resolve, reject }) === 1) setImmediate(this.#flush);
    });
  }

  /** Writes the watches of every issuance since the last flush, then answers them. */
  readonly #flush = () => {
    const batch = this.#pending;
    this.#pending = [];
    const lines = new Map<string, string>();
    for (const { ticket } of batch) {
      const file = fileOf(ticket.expiresAt);
      lines.set(file, (lines.get(file) ?? "") + JSON.stringify(ticket) + "\n");
    }
    const failed = new Set<string>();
    let failure: unknown;
    for (const [file, text] of lines) {
      try {
        this.#append(file, text);
      } catch (err) {
        failed.add(file);
        failure = err;
      }
    }
    for (const b of batch) {
      if (!failed.has(fileOf(b.ticket.expiresAt))) {
        b.resolve();
      } else {
        this.remove(b.ticket.id);
        this.#refused.add(b.ticket.id);
        b.reject(failure);
      }
    }
  };

  /**
   * Appends whole lines. Each write starts on a line of its own, so that a line left torn by a
   * failed write (a full disk) or a crash spoils only itself (the reader skips it).
   */
  #append(file: string, text: string): void {
    let fd = this.#open.get(file);
    if (fd === undefined) {
      // A few files at a time (the span being issued into, and a long-lived multipart's).
      if (this.#open.size >= 16) this.#closeFiles();
      fd = fs.openSync(path.join(this.#dir, file), "a");
      this.#open.set(file, fd);
    }
    const bytes = Buffer.from(`\n${text}`, "utf8");
    const size = fs.fstatSync(fd).size;
    try {
      for (let written = 0; written < bytes.length; ) written += fs.writeSync(fd, bytes, written);
    } catch (err) {
      // What was written of a failed batch goes again: its issuances are refused, so none of
      // its lines may be read as a watch (a whole line before the failure would otherwise be).
      try {
        fs.ftruncateSync(fd, size);
      } catch {
        // Could not cut it off either: the reader skips the batch's ids (`#refused`).
      }
      throw err;
    }
  }

  /**
   * The revocation is journaled first, then made, in one synchronous step (nothing runs in
   * between): a cancel whose line cannot be written fails (503) and changes nothing, so that a
   * restart never finds a cancelled upload's watch as issued.
   */
  override revoke(id: string): Promise<boolean> {
    const ticket = this.revocable(id);
    if (ticket) {
      try {
        this.#append(fileOf(ticket.expiresAt), JSON.stringify({ revoked: id }) + "\n");
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return super.revoke(id);
  }

  dueWatches(before: number, limit: number, { claimMs }: { claimMs: number }): Promise<DueWatch[]> {
    const now = this.clock();
    const due: DueWatch[] = [];
    const take = () => {
      for (const [id, w] of this.#watching) {
        if (due.length >= limit) return;
        if (w.claimedUntil > now) continue;
        w.claimedUntil = now + claimMs;
        due.push({ id, ticket: undefined });
      }
    };
    take();
    // Files are read oldest first, and only as many as this call needs.
    for (const file of due.length < limit ? this.#dueFiles(before) : []) {
      this.#read(file);
      take();
      if (due.length >= limit) break;
    }
    return Promise.all(
      due.map(async (d) => {
        const w = this.#watching.get(d.id)!;
        return { id: d.id, ticket: (await this.get(d.id)) ?? { ticket: w.ticket, state: "issued" as const } };
      }),
    );
  }

  /** Journal files whose whole span of expiry is at or before `before`, not yet read, oldest first. */
  #dueFiles(before: number): string[] {
    return fs
      .readdirSync(this.#dir)
      .map((name) => ({ name, start: Number(FILE_NAME.exec(name)?.[1] ?? NaN) }))
      .filter((f) => f.start + WATCH_FILE_MS <= before && !this.#unsettled.has(f.name))
      .sort((a, b) => a.start - b.start)
      .map((f) => f.name);
  }

  #read(file: string): void {
    const fd = this.#open.get(file);
    if (fd !== undefined) {
      fs.closeSync(fd);
      this.#open.delete(file);
    }
    const full = path.join(this.#dir, file);
    const tickets = new Map<string, Ticket>();
    const revoked = new Set<string>();
    for (const line of fs.readFileSync(full, "utf8").split("\n")) {
      if (line === "") continue;
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        continue; // torn by a crash or a failed write: that issuance was never answered
      }
      if (isRevocation(entry)) revoked.add(entry.revoked);
      else if (isTicket(entry)) tickets.set(entry.id, entry);
    }
    let count = 0;
    for (const [id, ticket] of tickets) {
      if (this.#refused.delete(id) || revoked.has(id) || this.#watching.has(id)) continue;
      this.#watching.set(id, { ticket, file, claimedUntil: 0 });
      count++;
    }
    if (count === 0) fs.rmSync(full, { force: true });
    else this.#unsettled.set(file, count);
  }

  settleWatches(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const w = this.#watching.get(id);
      if (!w) continue;
      this.#watching.delete(id);
      const left = this.#unsettled.get(w.file)! - 1;
      if (left > 0) {
        this.#unsettled.set(w.file, left);
      } else {
        this.#unsettled.delete(w.file);
        fs.rmSync(path.join(this.#dir, w.file), { force: true });
      }
    }
    return Promise.resolve();
  }

  override async close(): Promise<void> {
    if (this.#pending.length > 0) this.#flush();
    this.#closeFiles();
    await super.close();
  }

  #closeFiles(): void {
    for (const fd of this.#open.values()) fs.closeSync(fd);
    this.#open.clear();
  }
}

function isRevocation(value: unknown): value is { revoked: string } {
  return typeof value === "object" && value !== null && typeof (value as { revoked?: unknown }).revoked === "string";
}

function isTicket(value: unknown): value is Ticket {
  const t = value as Partial<Ticket> | null;
  return typeof t === "object" && t !== null && typeof t.id === "string" && typeof t.expiresAt === "number" && typeof t.key === "string";
}
