import type { Services } from "./services.js";
import { conflict, gone } from "../errors.js";
import { completeMultipart } from "./multipart.js";
import { stagingHeldUntil } from "./pipeline.js";
import { getUploadStatus, guard, readUpload, recordArrival, uploadIdOfKey, type UploadStatus } from "./uploads.js";

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
  if (!/^upl_[A-Za-z0-9_-]+$/.test(id)) return remove("no upload owns this key");
  const record = await guard("metadata store", () => s.metadata.getUpload(id));
  if (!record) {
    const entry = await guard("ticket store", () => s.tickets.get(id));
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
 * The client says the bytes are in staging. Idempotent: once the upload has arrived this
 * just reports its state. Otherwise the object is looked for (HEAD) and handled exactly as a
 * storage event would handle it, so that the same bytes get the same answer however they are
 * reported: bytes that landed just before the URL expired are accepted here too.
 */
export async function completeUpload(
  s: Services,
  id: string,
  request: { parts?: readonly { partNumber: number; etag: string }[] | undefined; sha256?: string | undefined } = {},
): Promise<UploadStatus> {
  const read = await readUpload(s, id);
  const { status } = read;
  if (status.arrived) return status;
  if (status.multipart) return completeMultipart(s, id, request, read);
  if (status.state === "cancelled") throw gone("cancelled", `Upload ${id} was cancelled.`);
  if (status.state === "uploading") throw conflict("upload_in_progress", `Upload ${id} is being uploaded right now.`);
  if ((await arrivedInStaging(s, status.key, { via: "complete" })) === "absent") {
    throw status.state === "expired" ? gone("expired", `Upload ${id} expired before its bytes arrived.`) : conflict("not_uploaded", `No bytes have arrived for upload ${id} yet.`);
  }
  return getUploadStatus(s, id);
}
