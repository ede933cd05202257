/**
 * The events the domain writes with its state changes (issue 18; the contract is
 * `events/types.ts`). Each is built from the record as the change leaves it, and handed to the
 * metadata store with the change itself: the store writes both in one transaction, or neither.
 */
import type { EventData, EventType, NewEvent } from "../events/types.js";
import type { ExpiryWatch, UploadRecord } from "../metadata/metadata-store.js";
import type { Ticket } from "../tickets/ticket-store.js";
import type { Services } from "./services.js";
import { fileIdOf } from "./upload-keys.js";

const STATE_OF: Record<EventType, EventData["state"]> = {
  "upload.archived": "archived",
  "upload.rejected": "rejected",
  "upload.failed": "failed",
  "upload.expired": "expired",
  "file.deleted": "deleted",
};

/** The event reporting `type` about `record` as the change leaves it, at `at`. */
export function uploadEvent(record: UploadRecord, type: Exclude<EventType, "upload.expired">, at: number): NewEvent {
  const data: EventData = {
    uploadId: record.id,
    fileId: fileIdOf(record.id),
    key: record.key,
    filename: record.filename,
    size: record.size,
    declaredContentType: record.declaredType,
    contentType: record.contentType,
    // As the file's view gives it: the hash promised (and verified), else the one computed in transit.
    sha256: record.sha256 ?? record.receivedSha256 ?? null,
    metadata: record.metadata,
    ...(record.reason !== null && (type === "upload.rejected" || type === "upload.failed") && { reason: record.reason }),
    apiKeyId: record.apiKeyId,
    state: STATE_OF[type],
  };
  return { type, uploadId: record.id, createdAt: at, data };
}

/** The watch an issued upload starts with: its `upload.expired` data is fixed now, from the ticket (no record exists until bytes arrive). */
export function expiryWatchOf(ticket: Ticket): ExpiryWatch {
  return {
    uploadId: ticket.id,
    expiresAt: ticket.expiresAt,
    data: {
      uploadId: ticket.id,
      key: ticket.key,
      filename: ticket.filename,
      size: ticket.size,
      declaredContentType: ticket.contentType,
      contentType: null,
      sha256: ticket.sha256 ?? null,
      metadata: ticket.metadata,
      apiKeyId: ticket.ownerId,
      state: "expired",
    },
  };
}

/**
 * How long after its expiry an unused upload is reported expired. Not at once: bytes can still
 * arrive for a while. A gateway upload that claimed its ticket in time goes on as long as
 * bytes flow (those in flight are skipped by ticket state, see `reportExpired`); a presigned PUT
 * accepted by storage just before expiry may take minutes to finish, and its storage event (or,
 * if that is lost, the sweep that finds the object) comes later still. So: `SLUICE_EXPIRY_GRACE`
 * (5 minutes unless set), and never less than one ticket lease (a claim that lapsed just now
 * may be taken again) and two sweep intervals (the sweep that finds late bytes runs first).
 */
export function expiryGraceMs(config: Services["config"]): number {
  return Math.max(config.expiryGraceMs, config.ticketLeaseMs, 2 * config.reconcileIntervalSeconds * 1000);
}
