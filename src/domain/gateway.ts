import { createHash, type Hash } from "node:crypto";
import { BackendUnavailableError, badRequest, gone, toSluiceError } from "../errors.js";
import { ObjectExistsError } from "../storage/object-store.js";
import { recordArrival } from "./arrivals.js";
import { findSluiceError, guard } from "./backend-calls.js";
import { keepLeaseAlive, refusal } from "./claims.js";
import { mediaTypeEssence } from "./media-types.js";
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
  s.health?.require("ticket store", "metadata store");

  const claim = await guard("ticket store", () => s.tickets.claim(upload.id, { leaseMs: s.config.ticketLeaseMs }));
  if (!claim.ok) throw refusal(claim.reason);
  const { ticket, lease } = claim;
  const hash = ticket.sha256 ? createHash("sha256") : undefined;
  // The answer's ETag has S3's meaning (clients such as Uppy wait for it): storage's own where
  // it has that meaning, else the MD5 of the bytes, hashed on the way like the SHA-256.
  const md5 = s.objects.etagIsMd5 ? undefined : createHash("md5");
  const metered = meterBody(upload.body ?? emptyStream(), { size: ticket.size, hash: both(hash, md5), idleTimeoutMs: s.config.bodyIdleTimeoutMs });
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
    if (!(await ownerIsLive(s, ticket.ownerId))) {
      await s.tickets.release(upload.id, lease).catch(() => undefined);
      await endUploadOfRevokedKey(s, ticket);
    }
    if (mediaTypeEssence(upload.contentType ?? "") !== ticket.contentType) {
      throw badRequest("content_type_mismatch", `Content-Type must be ${ticket.contentType}, as declared.`);
    }
    checkDeclaredLength(upload.contentLength, ticket.size);

    const staging = { bucket: s.config.buckets.staging, key: ticket.key };
    const info = await s.objects
      .put({ ...staging, body: metered.body, contentType: ticket.contentType, contentLength: ticket.size, ifNoneMatch: true, ...(upload.signal && { signal: upload.signal }) })
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
      await recordArrival(s, { ticket, via: "gateway", consume: lease, ...(sha256 && { receivedSha256: sha256 }) });
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
