import { gone } from "../errors.js";
import type { UploadRecord } from "../metadata/metadata-store.js";
import type { Ticket } from "../tickets/ticket-store.js";
import { guard } from "./backend-calls.js";
import { stagingHeldUntil } from "./pipeline.js";
import { KEY_REVOKED_REASON, ownerIsLive } from "./revocation.js";
import type { Services } from "./services.js";
import { uploadEvent } from "./upload-events.js";
import { isTusPendingPartKey, isUploadId, tusAppendKey, uploadIdOfKey } from "./upload-keys.js";

/** What became of an object found in staging. */
export type ArrivalOutcome =
  /** A live upload's bytes: recorded, and processing queued. */
  | "recorded"
  /** Already recorded (a duplicate or late report), or a gateway upload still finishing. */
  | "known"
  /** No live ticket owns it (unknown, cancelled, long expired, or a second upload after the first was processed): removed. */
  | "removed"
  /** Kept for an operator (a failed upload, or an archived one whose archive copy is missing). */
  | "kept"
  /** A processed upload's object, kept while its URL could still be used at storage, so that storage refuses the reuse. */
  | "held"
  /** Not in staging (any more): nothing to do. */
  | "absent";

/**
 * Handles an object that is (or was reported) in staging, whoever found it: a storage event
 * or the reconcile sweep. Running it twice, late or out of order gives the same result: the
 * first report of a live upload records it, and anything no live upload owns is removed. A
 * processed upload's object is held in staging while its URL lives, so that storage itself
 * refuses a second PUT (If-None-Match); whatever lands on its key after that (a multipart
 * completion or scoped credentials, which storage cannot hold to one use) is removed here.
 */
export async function arrivedInStaging(s: Services, key: string, options: { via: "event" | "reconcile" | "complete"; knownToExist?: boolean }): Promise<ArrivalOutcome> {
  const { staging, archive } = s.config.buckets;
  if (!options.knownToExist && !(await guard("object store", () => s.objects.head({ bucket: staging, key })))) return "absent";
  const remove = async (why: string) => {
    await guard("object store", () => s.objects.delete({ bucket: staging, key }));
    s.logger.warn({ key, via: options.via }, `removed an object from staging: ${why}`);
    return "removed" as const;
  };

  const id = uploadIdOfKey(key);
  if (!isUploadId(id)) return remove("no upload owns this key");
  const record = await guard("metadata store", () => s.metadata.getUpload(id));
  if (!record) {
    const entry = await guard("ticket store", () => s.tickets.get(id));
    if (entry?.ticket.protocol === "tus" && (isTusPendingPartKey(entry.ticket.key, key) || tusAppendKey(entry.ticket.key) === key || (entry.ticket.tusPartial && entry.ticket.key === key))) {
      // A tus upload's bytes waiting for the rest of their part or growing in its append file, or a tus partial upload's bytes
      // waiting for the final upload that takes them: kept while the upload may go on.
      const live = entry.state === "claimed" || (entry.state === "issued" && entry.ticket.expiresAt > s.now());
      return live ? "known" : remove("the tus upload it belongs to is over");
    }
    if (entry?.ticket.kind !== "upload" || entry.ticket.key !== key) return remove("no upload owns this key");
    switch (entry.state) {
      case "issued":
      case "consumed":
        // Bytes arrived but the arrival is not recorded yet. Storage checks a presigned URL
        // when the request starts, so bytes may land (and be reported) after the ticket's
        // expiry; the ticket store keeps the ticket long enough for that.
        await recordArrival(s, { ticket: entry.ticket, via: options.via, consume: null });
        return "recorded";
      case "claimed":
        return "known"; // a gateway upload is finishing; it records the arrival itself
      case "revoked":
        return remove("the upload was cancelled");
    }
  }
  if (record.key !== key) return remove("the key does not match its upload");
  if ((record.state === "archived" || record.state === "rejected") && stagingHeldUntil(s, record) > s.now()) return "held";
  if (record.deletedAt !== null) return remove("the file was deleted");
  switch (record.state) {
    case "archived":
      // Archived, and something is in staging again: the delete after archiving never happened
      // (a crash), or the URL was used a second time. Either way the archive copy is the file.
      if (await guard("object store", () => s.objects.head({ bucket: archive, key: record.key }))) return remove("the upload is already archived");
      s.logger.error({ uploadId: record.id }, "archived upload is missing from the archive; kept in staging");
      return "kept";
    case "rejected":
      return remove("the upload was already rejected");
    case "failed":
      return "kept"; // for an operator to retry
    default:
      if (options.via !== "reconcile") s.arrivals.enqueue(record.id); // harmless if already queued; the sweep re-drives due work itself
      return "known";
  }
}

/**
 * Records that an upload's bytes are in staging, and queues their processing. Every source
 * of arrival (gateway, complete call, storage event, reconcile sweep) ends here, and running
 * it twice changes nothing. The record is written before the ticket is consumed, so a crash
 * in between leaves a record to process, never a used-up ticket with nothing to show for it.
 *
 * `consume` is the lease the caller holds on the ticket (the gateway), or `null` to consume
 * an unclaimed ticket (an arrival reported by storage or the client).
 *
 * Returns the record it wrote, so that a caller answers with it instead of reading it back;
 * undefined when an earlier arrival's record stood (read it to know its state).
 */
export async function recordArrival(
  s: Services,
  arrival: {
    ticket: Ticket;
    via: "gateway" | "complete" | "tus" | "event" | "reconcile";
    consume: string | null;
    receivedSha256?: string;
    /** A SHA-256 the client gave only when it completed (a multipart upload hashed as it was sent), for processing to verify. */
    promisedSha256?: string;
    /** The size that arrived, when the caller knows it: needed (or read from storage) for a ticket whose size is a limit. */
    size?: number;
  },
): Promise<UploadRecord | undefined> {
  const { ticket } = arrival;
  // Bytes that arrive after their key was revoked are recorded as rejected and removed, never
  // archived: a presigned URL stays usable at storage until it expires, but not for long.
  const revoked = !(await ownerIsLive(s, ticket.ownerId));
  const size = ticket.sizeIsLimit ? await arrivedSize(s, ticket, arrival.size) : ticket.size;
  // Storage and the gateway hold such bytes to the limit already; this holds whatever else reports them.
  const overLimit = size > ticket.size;
  const refused = revoked || overLimit;
  const now = s.now();
  const record: UploadRecord = {
    id: ticket.id,
    state: refused ? "rejected" : "uploaded",
    key: ticket.key,
    filename: ticket.filename,
    declaredType: ticket.contentType,
    contentType: null,
    size,
    sha256: ticket.sha256 ?? arrival.promisedSha256 ?? null,
    receivedSha256: arrival.receivedSha256 ?? null,
    metadata: ticket.metadata,
    reason: revoked ? KEY_REVOKED_REASON : overLimit ? `too_large: received ${size} bytes; this upload may be at most ${ticket.size}` : null,
    apiKeyId: ticket.ownerId,
    attempts: 0,
    // A caller that holds the ticket's claim (the gateway) finishes the arrival itself, and
    // queues it once the ticket is consumed; the sweep leaves the record to it for one lease,
    // so that it never processes bytes the gateway is about to take back out.
    nextAttemptAt: refused ? null : arrival.consume ? now + s.config.ticketLeaseMs : now,
    leaseOwner: null,
    leaseUntil: null,
    expiresAt: ticket.expiresAt,
    createdAt: ticket.createdAt,
    updatedAt: now,
    uploadedAt: now,
    archivedAt: null,
    deletedAt: null,
  };
  // A refusal is final at once: its event goes in with the record (and only if the record does).
  const refusal = refused ? uploadEvent(record, "upload.rejected", now) : undefined;
  const inserted = await guard("metadata store", () => s.metadata.insertUpload(record, refusal));
  if (inserted && refusal) s.events.ring();
  if (!inserted && arrival.consume) {
    // The caller holds the ticket's claim, so the ticket is unused, yet a record exists: an
    // earlier arrival wrote it and then failed, and its bytes were taken back out. These bytes
    // are the upload now, checked afresh; done before the ticket is consumed, so that a failure
    // here leaves the same state as a failed insert. A record that is final (archived,
    // rejected, deleted) is not revived: these bytes are a second upload.
    const { state, reason, nextAttemptAt, sha256, receivedSha256 } = record;
    const revive = { state, reason, nextAttemptAt, size, attempts: 0, leaseOwner: null, leaseUntil: null, sha256, receivedSha256, uploadedAt: now, updatedAt: now };
    const revived = await guard("metadata store", () => s.metadata.updateUpload(ticket.id, revive, { states: ["uploaded", "processing", "failed"] }, refusal));
    if (!revived) throw gone("already_used", "This upload URL has already been used.");
    if (refusal) s.events.ring();
  }
  const consumed = await guard("ticket store", () => s.tickets.consume(ticket.id, arrival.consume));
  if (consumed.ok) {
    // The key's open-upload slot is free again (if this fails, the slot lapses at expiry).
    await s.limits.close(ticket).catch(() => undefined);
    s.metrics.uploaded.inc({ via: arrival.via });
    s.logger.info({ uploadId: ticket.id, via: arrival.via, ...(revoked && { keyRevoked: true }), ...(overLimit && { overLimit: true }) }, "upload arrived");
  }
  if (refused) {
    // If this delete fails, the object is removed the next time it is reported (the record says rejected).
    await guard("object store", () => s.objects.delete({ bucket: s.config.buckets.staging, key: ticket.key }));
    return inserted ? record : undefined;
  }
  s.arrivals.enqueue(ticket.id);
  return inserted ? record : undefined;
}

/** The size of bytes whose size was not declared: as the caller saw it, or as storage holds it. */
async function arrivedSize(s: Services, ticket: Ticket, seen: number | undefined): Promise<number> {
  if (seen !== undefined) return seen;
  const head = await guard("object store", () => s.objects.head({ bucket: s.config.buckets.staging, key: ticket.key }));
  if (!head) throw gone("upload_closed", `Upload ${ticket.id}'s bytes are no longer in staging.`);
  return head.size;
}
