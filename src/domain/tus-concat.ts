/**
 * tus concatenation (what tus-js-client's `parallelUploads` uses): partial uploads hold bytes
 * only; the final upload is the one-time Sluice upload. A partial is created with a key or a
 * token and checked against the size limits; it is not an upload of its own (never recorded,
 * processed or counted against a token's uploads), and is assembled in staging once complete.
 * The final upload is issued like any other (`issueUpload`: limits, quota, token rules) with
 * the partials' total as its size, before any byte moves; their bytes are then streamed, in
 * order, into its parts (or its append file, on the filesystem: partials themselves are
 * always multipart uploads), it is sealed and recorded, and the partials are spent (their tickets
 * consumed, their objects removed): each partial serves one final upload, once.
 */
import { badRequest, gone, SluiceError, tooLarge, BackendUnavailableError } from "../errors.js";
import { newId } from "../internal/crypto.js";
import type { Ticket } from "../tickets/ticket-store.js";
import { recordArrival } from "./arrivals.js";
import { guard } from "./backend-calls.js";
import { keepLeaseAlive, refusal } from "./claims.js";
import { issueUpload } from "./issue.js";
import type { Principal } from "./principal.js";
import type { Services } from "./services.js";
import { verifyUrl } from "./signed-urls.js";
import { SIGNED_AS, TUS_VERDICT_WAIT_MS, assembleParts, openTusUpload, storedProgress, tusUploadUrl, writeChunk, type TusTicket, type TusUrl } from "./tus.js";
import type { UploadRequest } from "./upload-routes/upload-route.js";
import { waitForVerdict } from "./verdict.js";

/** Partial uploads one final upload may join: each is read in turn, so this bounds the final's work. */
export const MAX_TUS_PARTIALS = 100;

/** `POST` with `Upload-Concat: partial`: storage for some of a file's bytes, under the caller's key prefix. */
export async function createTusPartial(s: Services, principal: Principal, size: number): Promise<{ ticket: Ticket; url: string }> {
  const { config } = s;
  if (size < 1) throw badRequest("invalid_tus_request", "A partial upload must have at least one byte.");
  if (size > config.maxSize) throw tooLarge(`Upload-Length ${size} exceeds the limit of ${config.maxSize} bytes.`);
  const scope = principal.scope;
  if (scope?.maxSize !== undefined && size > scope.maxSize) throw tooLarge(`Upload-Length ${size} exceeds this key's limit of ${scope.maxSize} bytes.`);
  s.health?.require("ticket store", "metadata store");
  const now = s.now();
  const id = newId("upl");
  const ticket: Ticket = {
    id,
    kind: "upload",
    key: `${scope?.keyPrefix ?? ""}${id}/partial`,
    filename: "partial",
    contentType: "application/octet-stream",
    size,
    sha256: null,
    metadata: {},
    ownerId: principal.keyId,
    createdAt: now,
    expiresAt: now + config.multipartTtlSeconds * 1000,
    tusPartial: true,
  };
  await openTusUpload(s, ticket, () => guard("ticket store", () => s.tickets.issue(ticket)));
  return { ticket, url: tusUploadUrl(s, ticket) };
}

/**
 * `POST` with `Upload-Concat: final;<url> <url>…`: the final upload from complete partials of
 * the same caller. Answers once it is sealed; a file processing rejects within the bounded wait
 * is a 422 (with the upload's URL in Location), as on the PATCH that delivers a last byte.
 */
export async function concatenateTusUploads(
  s: Services,
  principal: Principal,
  request: Omit<UploadRequest, "size" | "method">,
  partials: readonly TusUrl[],
  options: { clientAddress?: string | undefined } = {},
): Promise<{ ticket: Ticket; url: string }> {
  if (partials.length === 0 || partials.length > MAX_TUS_PARTIALS) throw badRequest("invalid_tus_request", `Upload-Concat: final names 1 to ${MAX_TUS_PARTIALS} partial uploads.`);
  if (new Set(partials.map((p) => p.id)).size !== partials.length) throw badRequest("invalid_tus_request", "Upload-Concat: final names a partial upload twice.");
  for (const p of partials) verifyUrl(s, SIGNED_AS, p.id, p.expires, p.signature);
  s.health?.require("ticket store", "metadata store");

  const held: { ticket: TusTicket; lease: string }[] = [];
  let spent = false;
  const renewal = keepLeaseAlive({
    leaseMs: s.config.ticketLeaseMs,
    renew: () => Promise.all(held.map((h) => s.tickets.renew(h.ticket.id, h.lease, { leaseMs: s.config.ticketLeaseMs }))),
    onError: (err) => s.logger.warn({ err }, "could not renew a tus partial upload's lease"),
  });
  try {
    for (const { id } of partials) {
      const claim = await guard("ticket store", () => s.tickets.claim(id, { leaseMs: s.config.ticketLeaseMs }));
      if (!claim.ok) {
        if (claim.reason === "consumed") throw gone("already_used", `Partial upload ${id} was already taken by a final upload.`);
        throw refusal(claim.reason);
      }
      held.push({ ticket: claim.ticket as TusTicket, lease: claim.lease });
      if (!claim.ticket.tusPartial || claim.ticket.ownerId !== principal.keyId) throw badRequest("invalid_tus_request", `${id} is not a partial upload of this caller.`);
    }
    for (const { ticket } of held) {
      const { offset } = await storedProgress(s, ticket);
      if (offset !== ticket.size) throw badRequest("invalid_tus_request", `Partial upload ${ticket.id} has ${offset} of its ${ticket.size} bytes; finish it first.`);
    }
    const size = held.reduce((sum, h) => sum + h.ticket.size, 0);
    // The limits, the quota and a token's rules hold here, for the whole file, before a byte moves.
    const issued = await issueUpload(s, principal, { ...request, size, method: "tus" }, options);
    const final = issued.ticket as TusTicket;
    const url = tusUploadUrl(s, final);
    await joinPartials(s, final, held);
    // The partials are spent; their objects go (the sweep removes any a failure leaves).
    spent = true;
    for (const { ticket, lease } of held) {
      await s.tickets.consume(ticket.id, lease).catch(() => undefined);
      await s.objects.delete({ bucket: s.config.buckets.staging, key: ticket.key }).catch(() => undefined);
    }
    renewal.stop();
    const verdict = await waitForVerdict(s, final.id, { timeoutMs: TUS_VERDICT_WAIT_MS });
    if (verdict.state === "rejected") throw new SluiceError(422, "file_rejected", `The file was rejected: ${verdict.reason ?? "no reason given"}.`, { location: url });
    return { ticket: final, url };
  } catch (err) {
    if (!spent) for (const { ticket, lease } of held) await s.tickets.release(ticket.id, lease).catch(() => undefined);
    throw err;
  } finally {
    renewal.stop();
  }
}

/** Streams the partials' bytes, in order, into the final upload's parts, assembles it and records the arrival (sealed). */
async function joinPartials(s: Services, final: TusTicket, partials: readonly { ticket: TusTicket }[]): Promise<void> {
  const claim = await guard("ticket store", () => s.tickets.claim(final.id, { leaseMs: s.config.ticketLeaseMs }));
  if (!claim.ok) throw refusal(claim.reason);
  const renewal = keepLeaseAlive({
    leaseMs: s.config.ticketLeaseMs,
    renew: () => s.tickets.renew(final.id, claim.lease, { leaseMs: s.config.ticketLeaseMs }),
    onError: (err) => s.logger.warn({ err, uploadId: final.id }, "could not renew the tus upload's ticket lease"),
  });
  let assembled = false;
  try {
    const offset = await writeChunk(s, final, { partsDone: 0, pending: 0, offset: 0 }, concatenated(s, partials), {});
    if (offset !== final.size) throw new BackendUnavailableError("object store", new Error(`the partial uploads held ${offset} bytes, not ${final.size}`));
    await assembleParts(s, final);
    assembled = true;
    await recordArrival(s, { ticket: final, via: "tus", consume: claim.lease });
  } catch (err) {
    if (!assembled) {
      // Nothing of it is a file: the final upload is given up (the sweep aborts its parts).
      await s.tickets.release(final.id, claim.lease).catch(() => undefined);
      await s.tickets.revoke(final.id).catch(() => undefined);
      await s.limits.close(final).catch(() => undefined);
    }
    throw err;
  } finally {
    renewal.stop();
  }
}

/** The partials' assembled objects, one after the other, read as the parts are written. */
function concatenated(s: Services, partials: readonly { ticket: TusTicket }[]): ReadableStream<Uint8Array> {
  let next = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          if (!reader) {
            const partial = partials[next++];
            if (!partial) return controller.close();
            reader = (await guard("object store", () => s.objects.read({ bucket: s.config.buckets.staging, key: partial.ticket.key }))).getReader();
          }
          const chunk = await reader.read();
          if (!chunk.done) return controller.enqueue(chunk.value);
          reader = undefined;
        }
      },
      async cancel(reason) {
        await reader?.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
