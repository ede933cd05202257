import { createHash, type Hash } from "node:crypto";
import { BackendUnavailableError, badRequest, gone, sluiceError, toSluiceError, tooLarge } from "../errors.js";
import type { Ticket } from "../tickets/ticket-store.js";
import { ObjectExistsError } from "../storage/object-store.js";
import { recordArrival } from "./arrivals.js";
import { findSluiceError, guard } from "./backend-calls.js";
import { keepLeaseAlive, refusal } from "./claims.js";
import { mediaTypeEssence } from "./media-types.js";
import { MAX_FORM_ENVELOPE_BYTES, openFormFile } from "./form-file.js";
import { checkDeclaredLength, emptyStream, meterBody, type ByteHash } from "./metered-body.js";
import { endUploadOfRevokedKey, ownerIsLive } from "./revocation.js";
import type { Services } from "./services.js";
import { verifyUrl } from "./signed-urls.js";

export interface GatewayUpload {
  id: string;
  expires: string | undefined;
  signature: string | undefined;
  contentType: string | undefined;
  /** The Content-Length header, if the client sent one (chunked bodies have none). */
  contentLength: number | undefined;
  body: ReadableStream<Uint8Array> | null;
  /** Fires when the client goes away. */
  signal?: AbortSignal;
}

/**
 * Receives an upload's bytes through Sluice ("a worker in front of the bucket"). Order matters:
 * 1. the URL's signature and expiry, before any store is touched;
 * 2. the ticket claim, before the first byte is read (one concurrent use wins; others get 409/410);
 * 3. the body streamed to staging with constant memory, its length enforced as it flows and,
 *    when the client promised a SHA-256, the hash computed on the way (only then: hashing
 *    costs as much CPU as moving the bytes); a body that stops arriving for the body-idle
 *    timeout is dropped with 408;
 * 4. on success the ticket is consumed and the arrival recorded; on any failure the partial
 *    object is discarded and the claim released, so the same URL may be retried.
 */
export async function receiveGatewayUpload(s: Services, upload: GatewayUpload): Promise<{ id: string; size: number; sha256: string | null; etag: string }> {
  verifyUrl(s, "PUT", upload.id, upload.expires, upload.signature);
  return receiveClaimedBody(s, upload.id, upload.signal, (ticket) => {
    if (mediaTypeEssence(upload.contentType ?? "") !== ticket.contentType) {
      throw badRequest("content_type_mismatch", `Content-Type must be ${ticket.contentType}, as declared.`);
    }
    if (!ticket.sizeIsLimit) {
      checkDeclaredLength(upload.contentLength, ticket.size);
      return Promise.resolve({ body: upload.body ?? emptyStream(), size: ticket.size });
    }
    return Promise.resolve({ body: upload.body ?? emptyStream(), size: lengthWithinLimit(ticket, upload.contentLength) });
  });
}

/** A gateway form upload: a POST of an S3 POST-policy form (what Uppy's aws-s3 sends for `/s3/params`). */
export interface GatewayForm {
  id: string;
  expires: string | undefined;
  signature: string | undefined;
  /** The request's Content-Type, with the form's boundary. */
  contentType: string | undefined;
  contentLength: number | undefined;
  body: ReadableStream<Uint8Array> | null;
  signal?: AbortSignal;
}

/**
 * Receives an upload's bytes as the file of a POST form, through Sluice, as `receiveGatewayUpload`
 * does a PUT's: the URL's signature, the claim, then the file streamed to staging with its exact
 * length (`openFormFile`), within the ticket's size. The fields are S3's, and are not needed:
 * the signed URL names the upload, and the ticket its key and type.
 */
export async function receiveGatewayForm(s: Services, form: GatewayForm): Promise<{ id: string; size: number; sha256: string | null }> {
  verifyUrl(s, "POST", form.id, form.expires, form.signature);
  return receiveClaimedBody(s, form.id, form.signal, async (ticket) => {
    // A form clearly over the limit is refused before a byte is read, as a PUT's is by its
    // Content-Length; one near the limit is told by the file's own length, once the envelope is read.
    if (form.contentLength !== undefined && form.contentLength > ticket.size + MAX_FORM_ENVELOPE_BYTES) {
      throw tooLarge(`The form is ${form.contentLength} bytes; this upload may be at most ${ticket.size}.`);
    }
    const file = await openFormFile(form.body ?? emptyStream(), { contentType: form.contentType, contentLength: form.contentLength, idleTimeoutMs: s.config.bodyIdleTimeoutMs });
    try {
      const size = ticket.sizeIsLimit ? lengthWithinLimit(ticket, file.length) : ticket.size;
      checkDeclaredLength(file.length, size);
      return { body: file.body, size };
    } catch (err) {
      await file.body.cancel(err).catch(() => undefined);
      throw err;
    }
  });
}

/** A body whose size was not given in advance: its Content-Length is needed, within the ticket's limit. */
function lengthWithinLimit(ticket: Ticket, declared: number | undefined): number {
  if (declared === undefined) throw sluiceError("length_required", "This upload needs a Content-Length header: its size was not given in advance.");
  if (declared > ticket.size) throw tooLarge(`The body is ${declared} bytes; this upload may be at most ${ticket.size}.`);
  return declared;
}

/**
 * Steps 2 to 4 for any gateway body: claim, then `open` (checks what the request says, and
 * gives the body and its exact length), then stream, record, or give the claim back.
 */
async function receiveClaimedBody(
  s: Services,
  id: string,
  signal: AbortSignal | undefined,
  open: (ticket: Ticket) => Promise<{ body: ReadableStream<Uint8Array>; size: number }>,
): Promise<{ id: string; size: number; sha256: string | null; etag: string }> {
  s.health?.require("ticket store", "metadata store");
  const upload = { id, signal };
  const claim = await guard("ticket store", () => s.tickets.claim(upload.id, { leaseMs: s.config.ticketLeaseMs }));
  if (!claim.ok) throw refusal(claim.reason);
  const { ticket, lease } = claim;
  let opened: { body: ReadableStream<Uint8Array>; size: number };
  try {
    if (!(await ownerIsLive(s, ticket.ownerId))) {
      await s.tickets.release(upload.id, lease).catch(() => undefined);
      await endUploadOfRevokedKey(s, ticket);
    }
    opened = await open(ticket);
  } catch (err) {
    await s.tickets.release(upload.id, lease).catch(() => undefined);
    throw err;
  }
  const hash = ticket.sha256 ? createHash("sha256") : undefined;
  // The answer's ETag has S3's meaning (clients such as Uppy wait for it): storage's own where
  // it has that meaning, else the MD5 of the bytes, hashed on the way like the SHA-256.
  const md5 = s.objects.etagIsMd5 ? undefined : createHash("md5");
  const metered = meterBody(opened.body, { size: opened.size, hash: both(hash, md5), idleTimeoutMs: s.config.bodyIdleTimeoutMs });
  // Renewed only while the body flows (or storage, not the client, is what is slow): a client
  // that stalls past the idle timeout is dropped by the meter, and, should that ever fail to
  // end the request, its claim still lapses one lease later instead of holding the URL.
  const renewal = keepLeaseAlive({
    leaseMs: s.config.ticketLeaseMs,
    when: () => metered.flowing(),
    renew: () => s.tickets.renew(upload.id, lease, { leaseMs: s.config.ticketLeaseMs }),
    onError: (err) => s.logger.warn({ err, uploadId: upload.id }, "could not renew the upload's ticket lease"),
  });

  let stored = false;
  try {
    const staging = { bucket: s.config.buckets.staging, key: ticket.key };
    const info = await s.objects
      .put({ ...staging, body: metered.body, contentType: ticket.contentType, contentLength: opened.size, ifNoneMatch: true, ...(upload.signal && { signal: upload.signal }) })
      .catch((err: unknown) => {
        if (err instanceof ObjectExistsError) throw gone("already_used", "This upload URL has already been used.");
        // The length checks above surface here, wrapped by the stream machinery.
        const cause = findSluiceError(err);
        if (cause) throw cause;
        if (upload.signal?.aborted) throw badRequest("client_aborted", "The client went away before the body was complete.");
        throw toSluiceError("object store", err);
      });
    stored = true;
    const sha256 = hash?.digest("hex") ?? null;
    try {
      await recordArrival(s, { ticket, via: "gateway", consume: lease, size: info.size, ...(sha256 && { receivedSha256: sha256 }) });
    } catch (err) {
      // Recorded, but the ticket store failed after that (or its answer was lost): the record
      // says these bytes arrived, so they stay, and the sweep processes them once this claim's
      // lease has passed. Otherwise they are taken back out, so that the URL can be retried.
      if (err instanceof BackendUnavailableError && (await awaitingProcessing(s, ticket.id))) throw err;
      stored = false;
      await s.objects.delete(staging).catch(() => undefined);
      throw err;
    }
    return { id: upload.id, size: info.size, sha256, etag: md5 ? `"${md5.digest("hex")}"` : info.etag };
  } catch (err) {
    if (!stored) await s.tickets.release(upload.id, lease).catch(() => undefined); // the lease lapses on its own otherwise
    throw err;
  } finally {
    renewal.stop();
    metered.stop();
  }
}

/** One hash fed to two (either may be absent). */
function both(a: Hash | undefined, b: Hash | undefined): ByteHash | undefined {
  if (!a || !b) return a ?? b;
  return {
    update(data: Uint8Array) {
      a.update(data);
      b.update(data);
    },
  };
}

/** Whether an upload's record says its bytes arrived and wait for processing (false if the store cannot say). */
async function awaitingProcessing(s: Services, id: string): Promise<boolean> {
  const record = await s.metadata.getUpload(id).catch(() => undefined);
  return record?.state === "uploaded" || record?.state === "processing";
}
