/**
 * The ticket-store port: one-time permissions to upload (or download) one object.
 *
 *   issued ──claim──▶ claimed ──consume──▶ consumed
 *     ▲                  │
 *     └────release───────┘   (or the lease runs out: the claimer died)
 *
 * A ticket is good until `expiresAt`; a claim made before then may still be consumed after
 * it. Consumed and revoked tickets are remembered until they expire, so a reused URL is
 * told "used" rather than "unknown". Every backend passes `ticket-store.conformance.ts`.
 */
export type TicketKind = "upload" | "download";

/**
 * A ticket carries everything needed to record the upload when its bytes arrive, so that
 * issuing touches the ticket store alone and the metadata store records only files.
 */
export interface Ticket {
  id: string;
  kind: TicketKind;
  /** The object the ticket is for. */
  key: string;
  /** The client's file name, as given. */
  filename: string;
  contentType: string;
  /** The declared size; or, with `sizeIsLimit`, the most the upload may be. */
  size: number;
  /**
   * Set when the client did not say the size before the upload (Uppy's Companion routes):
   * `size` is then the limit, the bytes may be fewer, and the record takes the size that arrived.
   */
  sizeIsLimit?: true | undefined;
  /** Lowercase hex SHA-256 the client promised, or null. */
  sha256: string | null;
  metadata: Record<string, string>;
  /** The API key that asked for it. */
  ownerId: string | null;
  /** Milliseconds since the epoch, as is expiresAt. */
  createdAt: number;
  expiresAt: number;
  /** Set when the bytes come in parts: storage's upload id and the plan the client follows. */
  multipart?: MultipartPlan | undefined;
  /**
   * Set when the bytes come by the tus protocol (`domain/tus.ts`): in order, in PATCHes of any
   * length, into the multipart upload of `multipart`. Such an upload takes no part URLs.
   */
  protocol?: "tus" | undefined;
  /**
   * A tus partial upload (concatenation): it only holds bytes, assembled in staging at `key`
   * once complete, until a final upload takes them. It is never recorded or processed itself.
   */
  tusPartial?: true | undefined;
  /**
   * A tus upload whose bytes are appended to one file in staging (`tusAppendKey`), on a store
   * that appends (the filesystem), instead of a multipart upload: then `multipart` is unset.
   */
  tusAppend?: true | undefined;
  /** Set when the upload holds one of its key's open-upload slots (a scoped key's quota), to give back when it ends. */
  holdsSlot?: true | undefined;
}

export interface MultipartPlan {
  uploadId: string;
  partSize: number;
  partCount: number;
}

export type TicketState = "issued" | "claimed" | "consumed" | "revoked";

export type ClaimResult =
  | { ok: true; ticket: Ticket; lease: string }
  | { ok: false; reason: "unknown" | "expired" | "claimed" | "consumed" | "revoked" };

export type ConsumeResult = { ok: true; ticket: Ticket } | { ok: false; reason: "unknown" | "expired" | "claimed" | "consumed" | "revoked" | "lease_lost" };

/** A watch kept by the ticket store, due (see `TicketStore.dueWatches`). */
export interface DueWatch {
  id: string;
  ticket: { ticket: Ticket; state: TicketState } | undefined;
}

export interface TicketStore {
  readonly name: string;
  issue(ticket: Ticket): Promise<void>;
  /** Atomically takes an issued ticket for `leaseMs`. Exactly one concurrent caller wins. */
  claim(id: string, options: { leaseMs: number }): Promise<ClaimResult>;
  /** Extends a held lease. False if the lease was lost. */
  renew(id: string, lease: string, options: { leaseMs: number }): Promise<boolean>;
  /** Gives a claimed ticket back, so that the URL may be used again. False if the lease was lost. */
  release(id: string, lease: string): Promise<boolean>;
  /**
   * Marks the ticket used. With a lease, only its holder may; with `null`, only an issued,
   * unclaimed ticket can be consumed directly (an arrival reported by storage).
   */
  consume(id: string, lease: string | null): Promise<ConsumeResult>;
  /** Cancels an issued ticket. False if it was already claimed, consumed or unknown. */
  revoke(id: string): Promise<boolean>;
  /**
   * The ticket and its state, while the store remembers it (until its tombstone lapses).
   * A claim whose lease ran out reads as `issued`; an issued ticket past `expiresAt` is still
   * returned, and the caller tells it is expired from `expiresAt`.
   */
  get(id: string): Promise<{ ticket: Ticket; state: TicketState } | undefined>;
  /**
   * Optional: a store that keeps each upload's expiry watch beside its ticket. Stores the ticket
   * and its watch in one atomic step, in place of `issue` followed by the metadata store's
   * `watchExpiry` (issue 19: on Redis, that commit was the largest cost of an issuance). The
   * ticket is then kept, past its tombstone, until its watch is settled, so that what
   * `upload.expired` reports can still be read.
   */
  issueWatched?(ticket: Ticket): Promise<void>;
  /**
   * Optional, with `issueWatched`: the watches whose ticket expired at or before `before`, at
   * most `limit`, each with its ticket and state as they are now (undefined if the store no
   * longer has it). They are claimed for the caller for `claimMs`: another caller is not given
   * them until then, unless they are settled first (then never). Watches whose claim lapsed
   * unsettled come first. The sweep hands the unused ones on to the metadata store, then
   * settles them.
   */
  dueWatches?(before: number, limit: number, options: { claimMs: number }): Promise<DueWatch[]>;
  /** Optional, with `issueWatched`: drops these watches; each ticket is then kept only a tombstone past its expiry (or lease). */
  settleWatches?(ids: readonly string[]): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** How long tickets are remembered after expiry, so that a late look reads "used" or "expired", not "unknown". */
export const TOMBSTONE_MS = 15 * 60_000;
