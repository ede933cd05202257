import { BackendUnavailableError, badRequest, conflict, gone, toSluiceError } from "../errors.js";
import { InvalidPartsError, LengthMismatchError, MultipartNotFoundError, type PartInfo } from "../storage/object-store.js";
import type { UploadRecord } from "../metadata/metadata-store.js";
import type { MultipartPlan, Ticket } from "../tickets/ticket-store.js";
import { sleep } from "../internal/async.js";
import { recordArrival } from "./arrivals.js";
import { findSluiceError, guard } from "./backend-calls.js";
import { keepLeaseAlive } from "./claims.js";
import { checkDeclaredLength, emptyStream, meterBody } from "./metered-body.js";
import { partLength } from "./part-plans.js";
import { endUploadOfRevokedKey, ownerIsLive } from "./revocation.js";
import type { Services } from "./services.js";
import { verifyUrl } from "./signed-urls.js";
import { getUploadStatus, readUpload, statusOfRecord, type UploadRead, type UploadStatus } from "./upload-status.js";
import type { PartInstructions } from "./upload-routes/upload-route.js";

/** Part URLs asked for in one request. */
export const MAX_PART_URLS = 1000;
/** How long a second `complete` waits for the first to finish before answering 409. */
const COMPLETE_WAIT_MS = 30_000;

/**
 * Signed URLs for some parts of a multipart upload: presigned UploadPart URLs at storage in
 * direct mode, Sluice's own gateway otherwise. Each binds its part's exact length. They are
 * short-lived (the URL TTL, never past the upload's own expiry) and may be asked for again.
 */
export async function partUrls(s: Services, id: string, partNumbers: readonly number[]): Promise<PartInstructions[]> {
  const ticket = await openMultipart(s, id);
  for (const n of partNumbers) checkPartNumber(ticket, n);
  const now = s.now();
  // Whole seconds, as URLs carry them: the URL expires at the last whole second before the
  // part URL TTL or the upload's end, counted from the whole second it is signed in (flooring
  // both `now` and the remaining time could leave a URL a millisecond to live).
  const expires = Math.floor(Math.min(now + s.config.urlTtlSeconds * 1000, ticket.expiresAt) / 1000);
  // Presigned at storage, or through Sluice's gateway: the part route chosen at assembly.
  const { parts } = s.routes;
  return Promise.all([...new Set(partNumbers)].map((partNumber) => parts.partUrl(s, ticket, { partNumber, contentLength: partLength(ticket, partNumber), expires, now })));
}

/** The parts storage holds so far, for a client that resumes. */
export async function uploadedParts(s: Services, id: string): Promise<PartInfo[]> {
  const ticket = await openMultipart(s, id);
  return guard("object store", () => s.objects.multipart.listParts({ bucket: s.config.buckets.staging, key: ticket.key }, ticket.multipart.uploadId)).catch(
    (err: unknown) => {
      if (err instanceof BackendUnavailableError && err.cause instanceof MultipartNotFoundError) throw gone("upload_closed", `Upload ${id} is no longer open for parts.`);
      throw err;
    },
  );
}

/**
 * Receives one part through Sluice's gateway: the URL's signature first, then the upload must
 * be open (issued, unexpired, not being completed), then the body is streamed to storage,
 * held to the part's exact length.
 */
export async function receiveGatewayPart(
  s: Services,
  part: { id: string; partNumber: number; expires: string | undefined; signature: string | undefined; contentLength: number | undefined; body: ReadableStream<Uint8Array> | null; signal?: AbortSignal },
): Promise<{ partNumber: number; etag: string; size: number }> {
  verifyUrl(s, "PUT", part.id, part.expires, part.signature, [String(part.partNumber)]);
  const ticket = await openMultipart(s, part.id);
  checkPartNumber(ticket, part.partNumber);
  const length = partLength(ticket, part.partNumber);
  checkDeclaredLength(part.contentLength, length, (declared) => `Part ${part.partNumber} is ${length} bytes; the body is ${declared}.`);
  const metered = meterBody(part.body ?? emptyStream(), { size: length, idleTimeoutMs: s.config.bodyIdleTimeoutMs });
  const body = metered.body;
  try {
    const { etag } = await s.objects.multipart.putPart({
      bucket: s.config.buckets.staging,
      key: ticket.key,
      uploadId: ticket.multipart.uploadId,
      partNumber: part.partNumber,
      body,
      contentLength: length,
      ...(part.signal && { signal: part.signal }),
    });
    return { partNumber: part.partNumber, etag, size: length };
  } catch (err) {
    if (err instanceof MultipartNotFoundError) throw gone("upload_closed", `Upload ${part.id} is no longer open for parts.`);
    const cause = findSluiceError(err);
    if (cause) throw cause;
    if (part.signal?.aborted) throw badRequest("client_aborted", "The client went away before the part was complete.");
    if (err instanceof LengthMismatchError) throw badRequest("length_mismatch", err.message);
    throw toSluiceError("object store", err);
  } finally {
    metered.stop();
  }
}

/**
 * Completes a multipart upload, once. The ticket claim makes it one-time (storage cannot:
 * RGW ignores If-None-Match on CompleteMultipartUpload). Sluice checks the parts against the
 * plan and against what storage holds, assembles them, and records the arrival. Calling it
 * again after success answers the upload's state; a call made while another is completing
 * waits for that one. Without `parts`, every stored part is used.
 */
export async function completeMultipart(
  s: Services,
  id: string,
  request: { parts?: readonly { partNumber: number; etag: string }[] | undefined; sha256?: string | undefined },
  /** What the caller has just read, if it has. */
  known?: UploadRead,
): Promise<UploadStatus> {
  const read = known ?? (await readUpload(s, id));
  const { status } = read;
  if (status.arrived || status.state === "uploaded") return status;
  if (status.state === "uploading") return waitForCompletion(s, id);
  const ticket = openPlan(id, read);
  if (request.parts) checkPartList(ticket, request.parts);
  if (!(await ownerIsLive(s, ticket.ownerId))) await endUploadOfRevokedKey(s, ticket);

  const claim = await guard("ticket store", () => s.tickets.claim(id, { leaseMs: s.config.ticketLeaseMs }));
  if (!claim.ok) {
    if (claim.reason === "claimed") return waitForCompletion(s, id);
    if (claim.reason === "consumed") return getUploadStatus(s, id);
    throw gone(claim.reason === "revoked" ? "cancelled" : "expired", `Upload ${id} is ${claim.reason === "revoked" ? "cancelled" : "expired"}.`);
  }
  const { lease } = claim;
  const renewal = keepLeaseAlive({
    leaseMs: s.config.ticketLeaseMs,
    renew: () => s.tickets.renew(id, lease, { leaseMs: s.config.ticketLeaseMs }),
    onError: (err) => s.logger.warn({ err, uploadId: id }, "could not renew the upload's ticket lease"),
  });
  const ref = { bucket: s.config.buckets.staging, key: ticket.key };
  let assembled = false;
  let recorded: UploadRecord | undefined;
  try {
    let stored: PartInfo[] | undefined;
    try {
      stored = await s.objects.multipart.listParts(ref, ticket.multipart.uploadId);
    } catch (err) {
      if (!(err instanceof MultipartNotFoundError)) throw toSluiceError("object store", err);
      // Completed before, and the arrival not recorded (a crash in between): the object is there.
    }
    if (stored) {
      const parts = request.parts ?? stored.map(({ partNumber, etag }) => ({ partNumber, etag }));
      checkPartList(ticket, parts);
      checkStoredParts(ticket, parts, stored);
      try {
        await s.objects.multipart.complete(ref, ticket.multipart.uploadId, parts);
      } catch (err) {
        if (err instanceof InvalidPartsError) throw badRequest("invalid_parts", err.message);
        if (!(err instanceof MultipartNotFoundError)) throw toSluiceError("object store", err);
      }
    }
    const head = await guard("object store", () => s.objects.head(ref));
    if (!head) throw gone("upload_closed", `Upload ${id} was aborted; its parts are gone.`);
    assembled = true;
    recorded = await recordArrival(s, { ticket, via: "complete", consume: lease, ...(request.sha256 && !ticket.sha256 && { promisedSha256: request.sha256.toLowerCase() }) });
  } catch (err) {
    // Before assembly the same parts can be completed again; after it, the object is kept in
    // staging and the ticket given back, so that the next complete (or the sweep) records it.
    await s.tickets.release(id, lease).catch(() => undefined);
    if (assembled) s.logger.warn({ err, uploadId: id }, "assembled the upload but could not record it; the next complete or sweep will");
    throw err;
  } finally {
    renewal.stop();
  }
  // The answer is the record just written; read only when an earlier arrival's record stood.
  return recorded ? statusOfRecord(recorded) : getUploadStatus(s, id);
}

/** The ticket of a multipart upload that still takes parts: issued, unexpired, not being completed. */
async function openMultipart(s: Services, id: string): Promise<Ticket & { multipart: MultipartPlan }> {
  const ticket = openPlan(id, await readUpload(s, id));
  if (!(await ownerIsLive(s, ticket.ownerId))) await endUploadOfRevokedKey(s, ticket);
  return ticket;
}

function openPlan(id: string, { status, ticket }: UploadRead): Ticket & { multipart: MultipartPlan } {
  if (status.arrived || status.state === "uploaded") throw gone("already_used", `Upload ${id} is complete.`);
  if (status.state === "cancelled") throw gone("cancelled", `Upload ${id} was cancelled.`);
  if (status.state === "expired") throw gone("expired", `Upload ${id} has expired.`);
  if (status.state === "uploading") throw conflict("upload_in_progress", `Upload ${id} is being completed right now.`);
  if (!ticket?.multipart) throw conflict("not_multipart", `Upload ${id} is a single upload, not a multipart one.`);
  if (ticket.protocol === "tus") throw conflict("not_multipart", `Upload ${id} is a tus upload: send its bytes to its tus URL.`);
  return ticket as Ticket & { multipart: MultipartPlan };
}

function checkPartNumber(ticket: Ticket & { multipart: MultipartPlan }, n: number) {
  if (!Number.isInteger(n) || n < 1 || n > ticket.multipart.partCount) {
    throw badRequest("invalid_part_number", `Part numbers of this upload run from 1 to ${ticket.multipart.partCount}; ${n} is not one of them.`);
  }
}

/** Every part of the plan, once, in order: the first gap or disorder is named. */
function checkPartList(ticket: Ticket & { multipart: MultipartPlan }, parts: readonly { partNumber: number }[]) {
  parts.forEach((p, i) => {
    checkPartNumber(ticket, p.partNumber);
    if (i > 0 && p.partNumber <= parts[i - 1]!.partNumber) throw badRequest("invalid_parts", "Parts must be listed in ascending order of part number, each once.");
  });
  for (let n = 1; n <= ticket.multipart.partCount; n++) {
    if (parts[n - 1]?.partNumber !== n) throw badRequest("invalid_parts", `Part ${n} is missing from the list; this upload has ${ticket.multipart.partCount} parts.`);
  }
}

/** The listed parts against storage: each stored, with the listed ETag and the planned length. */
function checkStoredParts(ticket: Ticket & { multipart: MultipartPlan }, parts: readonly { partNumber: number; etag: string }[], stored: readonly PartInfo[]) {
  const byNumber = new Map(stored.map((p) => [p.partNumber, p]));
  const unquote = (e: string) => e.replace(/^"|"$/g, "");
  for (const { partNumber, etag } of parts) {
    const found = byNumber.get(partNumber);
    if (!found) throw badRequest("invalid_parts", `Part ${partNumber} has not been uploaded.`);
    if (unquote(found.etag) !== unquote(etag)) throw badRequest("invalid_parts", `Part ${partNumber}'s ETag does not match the stored part; it was uploaded again, or the ETag is wrong.`);
    if (found.size !== partLength(ticket, partNumber)) throw badRequest("invalid_parts", `Part ${partNumber} is ${found.size} bytes; the plan says ${partLength(ticket, partNumber)}.`);
  }
}

async function waitForCompletion(s: Services, id: string): Promise<UploadStatus> {
  const deadline = s.now() + COMPLETE_WAIT_MS;
  for (;;) {
    const status = await getUploadStatus(s, id);
    if (status.state !== "uploading" && status.state !== "issued") return status;
    if (status.state === "issued" || s.now() > deadline) {
      throw conflict("upload_in_progress", `Upload ${id} is being completed by another request; ask again for its state.`);
    }
    await sleep(100);
  }
}
