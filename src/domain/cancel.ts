import { conflict, gone } from "../errors.js";
import { guard } from "./backend-calls.js";
import { abortMultipart } from "./part-plans.js";
import type { Services } from "./services.js";
import { getUploadStatus, readUpload, statusOfTicket, type UploadStatus } from "./upload-status.js";

const stopWatching = (s: Services, status: UploadStatus) => guard("metadata store", () => s.metadata.unwatchExpiry({ uploadId: status.id, expiresAt: status.expiresAt }));

/**
 * Cancels an upload whose bytes have not arrived; its URL then gives 410. Cancelling twice is
 * harmless. The upload is read once: the ticket found then is the one revoked, so what it
 * says afterwards is known without reading it again.
 */
export async function cancelUpload(s: Services, id: string): Promise<UploadStatus> {
  const { status, ticket } = await readUpload(s, id);
  // Unwatched here too: a cancel that failed after its revocation is finished by the next one.
  if (status.state === "cancelled") return stopWatching(s, status).then(() => status);
  if (status.arrived || status.state === "uploaded") throw conflict("already_uploaded", `Upload ${id} has already arrived; delete the file instead.`);
  if (status.state === "uploading") throw conflict("upload_in_progress", `Upload ${id} is being uploaded right now.`);
  if (status.state === "expired") throw gone("expired", `Upload ${id} has expired.`);
  if (!(await guard("ticket store", () => s.tickets.revoke(id)))) {
    // Lost a race with an upload that started or finished meanwhile (or with another cancel).
    const now = await getUploadStatus(s, id);
    if (now.state !== "cancelled") throw conflict("upload_in_progress", `Upload ${id} is ${now.state}.`);
  }
  if (!ticket) return getUploadStatus(s, id); // not reached: an upload that has not arrived is read from its ticket
  // A cancelled upload is not reported expired.
  await stopWatching(s, status);
  await s.limits.close(ticket).catch(() => undefined); // else it lapses at expiry
  // A multipart upload's parts go too (the sweep retries this if storage is down now).
  if (ticket.multipart) await abortMultipart(s, ticket);
  return statusOfTicket(s, ticket, "revoked");
}
