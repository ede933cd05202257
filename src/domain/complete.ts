import { conflict, gone } from "../errors.js";
import { recordArrival } from "./arrivals.js";
import { guard } from "./backend-calls.js";
import { completeMultipart } from "./multipart.js";
import type { Services } from "./services.js";
import { getUploadStatus, readUpload, statusOfRecord, type UploadStatus } from "./upload-status.js";

/**
 * The client says the bytes are in staging. Idempotent: once the upload has arrived this
 * just reports its state. Otherwise the object is looked for (HEAD) and handled exactly as a
 * storage event would handle it, so that the same bytes get the same answer however they are
 * reported: bytes that landed just before the URL expired are accepted here too. The upload is
 * read once; the answer is the record the arrival wrote.
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
  // What `arrivedInStaging` does for a storage event, with what was just read passed along: no
  // record, and a live ticket (issued, or consumed by an arrival not yet recorded) that owns the key.
  if (!read.ticket || !(await guard("object store", () => s.objects.head({ bucket: s.config.buckets.staging, key: status.key })))) {
    throw status.state === "expired" ? gone("expired", `Upload ${id} expired before its bytes arrived.`) : conflict("not_uploaded", `No bytes have arrived for upload ${id} yet.`);
  }
  const recorded = await recordArrival(s, { ticket: read.ticket, via: "complete", consume: null });
  return recorded ? statusOfRecord(recorded) : getUploadStatus(s, id);
}
