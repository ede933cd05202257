import { conflict, gone, notFound, type SluiceError } from "../errors.js";
import { FILE_STATES, type FilePage, type UploadRecord, type UploadState } from "../metadata/metadata-store.js";
import { newId } from "../internal/crypto.js";
import { ObjectNotFoundError } from "../storage/object-store.js";
import type { Ticket } from "../tickets/ticket-store.js";
import type { Services } from "./services.js";
import { stagingHeldUntil } from "./pipeline.js";
import { guard } from "./backend-calls.js";
import { attachmentDisposition } from "./filenames.js";
import { verifyUrl } from "./signed-urls.js";
import { keyRevoked, ownerIsLive } from "./revocation.js";
import { isWithinKeyPrefix } from "./scopes.js";
import { uploadEvent } from "./upload-events.js";
import { unref } from "../internal/timers.js";

export { fileIdOf } from "./upload-keys.js";
const uploadIdOf = (fileId: string) => (fileId.startsWith("fil_") ? `upl_${fileId.slice("fil_".length)}` : undefined);

export async function listFiles(s: Services, options: { limit: number; cursor?: string; state?: UploadState; keyPrefix?: string | undefined }): Promise<FilePage> {
  const page = await guard("metadata store", () => s.metadata.listFiles(options));
  // The store filters by the same rule; this keeps the one definition in charge of what a key sees.
  return { ...page, items: page.items.filter((f) => isWithinKeyPrefix(options.keyPrefix, f.key)) };
}

/** A file, if it exists and (for a key scoped to a prefix) was issued under exactly `keyPrefix`: others' files are as good as absent. */
export async function getFile(s: Services, fileId: string, keyPrefix?: string): Promise<UploadRecord> {
  const uploadId = uploadIdOf(fileId);
  const record = uploadId ? await guard("metadata store", () => s.metadata.getUpload(uploadId)) : undefined;
  if (!record || record.deletedAt !== null || !(FILE_STATES).includes(record.state) || !isWithinKeyPrefix(keyPrefix, record.key)) {
    throw notFound(`File ${fileId}`);
  }
  return record;
}

/** Deletes a file's bytes and hides its record. */
export async function deleteFile(s: Services, fileId: string, keyPrefix?: string): Promise<void> {
  const record = await getFile(s, fileId, keyPrefix);
  if (record.state === "uploaded" || record.state === "processing") {
    throw conflict("file_processing", `File ${fileId} is being processed; delete it once it is archived or rejected.`);
  }
  const now = s.now();
  // Two deletes at once both get here; only the first marks the record, and only it writes file.deleted.
  const deleted = await guard("metadata store", () =>
    s.metadata.updateUpload(record.id, { deletedAt: now, updatedAt: now }, { notDeleted: true }, uploadEvent({ ...record, deletedAt: now, updatedAt: now }, "file.deleted", now)),
  );
  if (deleted) s.events.ring();
  await guard("object store", async () => {
    await s.objects.delete({ bucket: s.config.buckets.archive, key: record.key });
    const staging = { bucket: s.config.buckets.staging, key: record.key };
    // While the upload URL could still be used at storage, an empty object keeps its key taken
    // (If-None-Match refuses a reuse) and the file's bytes go; the sweep removes it afterwards.
    if (stagingHeldUntil(s, record) > s.now()) {
      await s.objects.put({ ...staging, body: new Blob([]).stream(), contentType: "application/octet-stream", contentLength: 0 });
    } else {
      await s.objects.delete(staging);
    }
  });
}

export const downloadPath = (fileId: string) => `/v1/files/${fileId}/content`;

/**
 * A short-lived download URL: a presigned GET at storage, or Sluice's own signed URL when the
 * store cannot presign, `SLUICE_DOWNLOAD_MODE=proxy`, or `once`. With `once`, the URL carries a
 * download ticket that is claimed like an upload ticket, so its bytes are served one time only.
 * Sluice's URL names the key that asked for it (`by`, signed), so that revoking the key ends it.
 */
export async function createDownload(
  s: Services,
  fileId: string,
  options: { once: boolean; expiresIn?: number | undefined; keyPrefix?: string | undefined; requestedBy: string | null },
): Promise<{ url: string; expiresAt: number }> {
  const record = await getFile(s, fileId, options.keyPrefix);
  if (record.state !== "archived") throw conflict("not_archived", `File ${fileId} is ${record.state}, not archived.`);
  const ttl = Math.min(Math.max(options.expiresIn ?? s.config.urlTtlSeconds, 1), s.config.urlTtlMaxSeconds);
  const now = s.now();
  const expiresAt = now + ttl * 1000;
  const { presigner } = s;
  if (!options.once && presigner && s.config.downloadMode === "presigned") {
    // Straight from the archive bucket: the bytes never pass through Sluice. Storage can be told
    // the type and disposition to answer with, but not nosniff or a CSP (docs/decisions.md).
    const url = await guard("object store", () =>
      presigner.getUrl(
        { bucket: s.config.buckets.archive, key: record.key },
        { contentDisposition: attachmentDisposition(record.filename), contentType: downloadContentType(record), cacheControl: DOWNLOAD_CACHE_CONTROL, expiresIn: ttl, signingDate: new Date(now) },
      ),
    );
    return { url, expiresAt };
  }
  const expires = String(Math.floor(expiresAt / 1000));
  let ticket = "";
  if (options.once) {
    ticket = newId("dl");
    const t: Ticket = {
      id: ticket,
      kind: "download",
      key: record.key,
      filename: record.filename,
      contentType: downloadContentType(record),
      size: record.size,
      sha256: record.sha256 ?? record.receivedSha256,
      metadata: {},
      ownerId: options.requestedBy,
      createdAt: s.now(),
      expiresAt,
    };
    await guard("ticket store", () => s.tickets.issue(t));
  }
  const by = options.requestedBy ?? "";
  const signature = s.signer.sign(downloadSigned(fileId, expires, ticket, by));
  const query = new URLSearchParams({ expires, ...(ticket && { ticket }), ...(by && { by }), signature });
  return { url: `${s.config.publicUrl}${downloadPath(fileId)}?${query.toString()}`, expiresAt };
}

/** Downloads are private and short-lived: no shared cache keeps them, and no browser cache. */
export const DOWNLOAD_CACHE_CONTROL = "private, no-store";

/** The type a download is answered with: the one processing recorded, else nothing in particular. */
export const downloadContentType = (record: UploadRecord) => record.contentType ?? "application/octet-stream";

/** What a download URL's signature covers (`checkDownloadUrl` checks the same). `by` joined the URL later: URLs without it verify as before. */
const downloadSigned = (fileId: string, expires: string, ticket: string, by: string) => ["GET", fileId, expires, ticket, ...(by ? [by] : [])];

export interface DownloadRequest {
  fileId: string;
  expires: string | undefined;
  ticket: string | undefined;
  /** The key that asked for the URL. */
  by: string | undefined;
  signature: string | undefined;
}

export interface DownloadBody {
  record: UploadRecord;
  body: ReadableStream<Uint8Array>;
}

/** The URL's signature and expiry, the key behind it, and the file: every check a download makes before its ticket. */
async function checkDownloadUrl(s: Services, request: DownloadRequest): Promise<UploadRecord> {
  verifyUrl(s, "GET", request.fileId, request.expires, request.signature, [request.ticket ?? "", ...(request.by ? [request.by] : [])]);
  if (!(await ownerIsLive(s, request.by))) throw keyRevoked();
  const record = await getFile(s, request.fileId);
  if (record.state !== "archived") throw conflict("not_archived", `File ${request.fileId} is ${record.state}, not archived.`);
  return record;
}

const inUse = () => conflict("download_in_progress", "This one-time URL is being used right now.");
const used = () => gone("already_used", "This one-time download URL has already been used or has expired.");

/**
 * Answers `HEAD` on a download URL: what a GET would say, from the record alone. It opens no
 * object and leaves a one-time ticket as it is (a HEAD is not a download; link checkers and
 * mail scanners send them).
 */
export async function describeDownload(s: Services, request: DownloadRequest): Promise<UploadRecord> {
  const record = await checkDownloadUrl(s, request);
  const ticketId = request.ticket;
  if (ticketId) {
    const entry = await guard("ticket store", () => s.tickets.get(ticketId));
    if (!entry || entry.state === "consumed" || entry.state === "revoked" || entry.ticket.expiresAt <= s.now()) throw used();
    if (entry.state === "claimed") throw inUse();
  }
  return record;
}

/**
 * Serves a signed download URL. A one-time ticket is claimed before the object is opened, its
 * claim renewed while the download lasts (a slow reader keeps it; one to which nothing could be
 * sent for `SLUICE_DOWNLOAD_IDLE_TIMEOUT` is dropped and the URL freed), and spent before the
 * last bytes go out: if spending fails, the stream fails instead of delivering them, so the
 * bytes are served whole once at most.
 */
export async function openDownload(s: Services, request: DownloadRequest): Promise<DownloadBody> {
  const record = await checkDownloadUrl(s, request);

  let lease: string | undefined;
  const ticketId = request.ticket;
  if (ticketId) {
    const claim = await guard("ticket store", () => s.tickets.claim(ticketId, { leaseMs: s.config.ticketLeaseMs }));
    if (!claim.ok) throw claim.reason === "claimed" ? inUse() : used();
    lease = claim.lease;
  }
  const release = async () => {
    if (ticketId && lease) await s.tickets.release(ticketId, lease).catch(() => undefined);
  };
  let source: ReadableStream<Uint8Array>;
  try {
    source = await guard("object store", () => s.objects.read({ bucket: s.config.buckets.archive, key: record.key }));
  } catch (err) {
    await release();
    throw err instanceof ObjectNotFoundError ? notFound(`File ${request.fileId}`) : err;
  }
  if (!ticketId || !lease) return { record, body: source };
  return { record, body: oneTimeBody(s, { source, ticketId, lease, size: record.size }) };
}

/** The bytes of a one-time download, holding its ticket's claim while they flow and spending it before the last. */
function oneTimeBody(s: Services, options: { source: ReadableStream<Uint8Array>; ticketId: string; lease: string; size: number }): ReadableStream<Uint8Array> {
  const { ticketId, lease, size } = options;
  const leaseMs = s.config.ticketLeaseMs;
  const reader = options.source.getReader();
  let sent = 0;
  let lastProgressAt = s.now();
  let ended = false;
  let renewal: ReturnType<typeof setInterval> | undefined;
  const end = () => {
    ended = true;
    clearInterval(renewal);
  };
  /** Spends the ticket; anything but success fails the stream rather than let the bytes out. */
  const spend = async () => {
    const spent = await guard("ticket store", () => s.tickets.consume(ticketId, lease));
    if (!spent.ok) throw gone("already_used", `This one-time download URL could not be spent (${spent.reason}); its last bytes were withheld.`);
  };
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      if (size === 0) {
        end();
        await spend();
        return;
      }
      const fail = (err: SluiceError) => {
        if (ended) return;
        s.logger.info({ ticketId, code: err.code, sent, size }, "one-time download dropped");
        end();
        controller.error(err);
        reader.cancel(err).catch(() => undefined);
      };
      renewal = unref(
        setInterval(() => {
          if (ended) return;
          if (s.now() - lastProgressAt >= s.config.downloadIdleMs) {
            // No byte for the idle timeout: the reader has stalled. Drop it and free the URL.
            fail(conflict("download_stalled", "No bytes could be sent for the idle timeout; the download was dropped."));
            void s.tickets.release(ticketId, lease).catch(() => undefined);
            return;
          }
          // Renewed whether or not bytes moved since the last tick: TCP alone can pause a
          // steady reader for a second or more. Stalling is the idle timeout's business.
          s.tickets.renew(ticketId, lease, { leaseMs }).then(
            (held) => {
              if (!held) fail(gone("already_used", "This one-time download lost its claim to another request."));
            },
            (err: unknown) => s.logger.warn({ err }, "could not renew a one-time download's ticket lease"),
          );
        }, leaseMs / 3),
      );
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (ended && size > 0 && sent < size) return; // failed meanwhile; the stream is already errored
      if (done) {
        end();
        if (sent < size) throw new Error(`The archive copy ended after ${sent} of ${size} bytes.`);
        return controller.close();
      }
      sent += value.byteLength;
      lastProgressAt = s.now();
      if (sent >= size) {
        end();
        try {
          await spend();
        } catch (err) {
          await reader.cancel(err).catch(() => undefined);
          throw err;
        }
      }
      controller.enqueue(value);
    },
    async cancel(reason) {
      end();
      await reader.cancel(reason);
      if (sent < size) await s.tickets.release(ticketId, lease).catch(() => undefined);
    },
  });
}
