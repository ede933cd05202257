/**
 * CloudFront in front of the staging bucket (the seeds' "sandwich"): the client PUTs to the
 * distribution at the object's key; an origin-request Lambda@Edge claims the upload's ticket
 * before the body flows to S3, and an origin-response Lambda@Edge consumes it (the URL is
 * spent) or gives it back. The edge functions reach only the ticket store (DynamoDB: no VPC,
 * no secret); the file's row is written in the region by the S3 event or the sweep, which
 * record a consumed ticket's bytes like any other arrival.
 */
import { SluiceError, badRequest } from "../errors.js";
import type { Logger } from "../internal/logger.js";
import type { Ticket, TicketStore } from "../tickets/ticket-store.js";
import { guard } from "./backend-calls.js";
import { refusal } from "./claims.js";
import { mediaTypeEssence } from "./media-types.js";
import { checkDeclaredLength } from "./metered-body.js";
import { isUploadId, uploadIdOfKey } from "./upload-keys.js";

/**
 * How long a claim made at the edge lasts. Nothing renews it while the body flows (the
 * origin-request function has returned), so it covers a long upload; if the origin-response
 * never runs (the viewer went away), the URL can be used again once it lapses. Storage's
 * `If-None-Match: *` keeps the object one-time even if two claims overlap.
 */
export const EDGE_LEASE_MS = 15 * 60_000;

export interface EdgeRequest {
  method: string;
  /** The object key the client PUT to (the URI without its leading slash, decoded). */
  key: string;
  contentType: string | undefined;
  contentLength: number | undefined;
  /** The `x-amz-content-sha256` header: the body's hash, which CloudFront signs and S3 checks. */
  contentSha256: string | undefined;
}

export interface EdgeClaim {
  ticket: Ticket;
  lease: string;
}

/**
 * Origin request: checks the request against its ticket and claims it. Throws a SluiceError
 * (the response to send instead of forwarding) when the request may not reach storage.
 */
export async function claimAtEdge(tickets: TicketStore, request: EdgeRequest): Promise<EdgeClaim> {
  if (request.method !== "PUT") throw new SluiceError(405, "method_not_allowed", "Only PUT uploads go through this distribution.");
  const id = uploadIdOfKey(request.key);
  if (!isUploadId(id)) throw refusal("unknown");
  const claim = await guard("ticket store", () => tickets.claim(id, { leaseMs: EDGE_LEASE_MS }));
  if (!claim.ok) throw refusal(claim.reason);
  const { ticket, lease } = claim;
  try {
    checkAgainstTicket(ticket, request);
  } catch (err) {
    await tickets.release(id, lease).catch(() => undefined);
    throw err;
  }
  return { ticket, lease };
}

function checkAgainstTicket(ticket: Ticket, request: EdgeRequest): void {
  // Another upload's key under a known id is as good as unknown; a multipart upload sends its parts to storage.
  if (ticket.kind !== "upload" || ticket.key !== request.key || ticket.multipart) throw refusal("unknown");
  if (mediaTypeEssence(request.contentType ?? "") !== ticket.contentType) {
    throw badRequest("content_type_mismatch", `Content-Type must be ${ticket.contentType}, as declared.`);
  }
  if (request.contentLength === undefined) throw new SluiceError(411, "length_required", "Send the body with a Content-Length header.");
  checkDeclaredLength(request.contentLength, ticket.size);
  if (!ticket.sha256 || request.contentSha256?.toLowerCase() !== ticket.sha256) {
    throw badRequest("checksum_mismatch", "x-amz-content-sha256 must be the sha256 promised for this upload.");
  }
}

/**
 * Origin response: storage answered. A stored object spends the ticket; anything else gives
 * the claim back, so the same URL may be retried, and becomes Sluice's JSON error. Returns
 * the error to answer with, or undefined when the upload went through.
 */
export async function finishAtEdge(tickets: TicketStore, logger: Logger, arrival: { key: string; lease: string | undefined; status: number }): Promise<SluiceError | undefined> {
  const id = uploadIdOfKey(arrival.key);
  const stored = arrival.status >= 200 && arrival.status < 300;
  if (!arrival.lease) {
    // No claim travelled with the request: its lease lapses, and the event or the sweep records the bytes.
    logger.warn({ uploadId: id, status: arrival.status }, "an origin response without Sluice's lease");
    return stored ? undefined : storageRefusal(arrival.status);
  }
  if (stored) {
    const consumed = await tickets.consume(id, arrival.lease).catch((err: unknown) => {
      logger.warn({ err, uploadId: id }, "could not consume the ticket at the edge; the S3 event or the sweep records the upload");
      return undefined;
    });
    if (consumed && !consumed.ok) logger.warn({ uploadId: id, reason: consumed.reason }, "the edge claim was lost before the upload finished; storage kept the object one-time");
    return undefined;
  }
  await tickets.release(id, arrival.lease).catch(() => undefined); // it lapses on its own otherwise
  return storageRefusal(arrival.status);
}

function storageRefusal(status: number): SluiceError {
  if (status === 412) return refusal("consumed"); // If-None-Match: the object is already there
  if (status === 400) return badRequest("storage_refused", "Storage refused the body (does x-amz-content-sha256 match it?).");
  if (status === 403) return new SluiceError(502, "storage_refused", "Storage refused CloudFront's request (origin access control).");
  return new SluiceError(503, "backend_unavailable", "The object store is unavailable.");
}
