import { conflict, gone, notFound } from "../errors.js";
import { FILE_STATES, type FilePage, type UploadRecord, type UploadState } from "../metadata/metadata-store.js";
import { newId } from "../internal/crypto.js";
import { ObjectNotFoundError } from "../storage/object-store.js";
import type { Ticket } from "../tickets/ticket-store.js";
import type { Services } from "./services.js";
import { guard } from "./uploads.js";
import { attachmentDisposition } from "./filenames.js";
import { verifyUrl } from "./gateway.js";

/** A file shares its upload's random part: `upl_X` arrives as file `fil_X`. */
export const fileIdOf = (uploadId: string) => `fil_${uploadId.slice("upl_".length)}`;
const uploadIdOf = (fileId: string) => (fileId.startsWith("fil_") ? `upl_${fileId.slice("fil_".length)}` : undefined);

export async function listFiles(s: Services, options: { limit: number; cursor?: string; state?: UploadState; keyPrefix?: string | undefined }): Promise<FilePage> {
  return guard("metadata store", () => s.metadata.listFiles(options));
}

/** A file, if it exists and (for a key scoped to a prefix) lies under `keyPrefix`: others' files are as good as absent. */
export async function getFile(s: Services, fileId: string, keyPrefix?: string): Promise<UploadRecord> {
  const uploadId = uploadIdOf(fileId);
  const record = uploadId ? await guard("metadata store", () => s.metadata.getUpload(uploadId)) : undefined;
  if (!record || record.deletedAt !== null || !(FILE_STATES).includes(record.state) || (keyPrefix && !record.key.startsWith(keyPrefix))) {
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
  await guard("metadata store", () => s.metadata.updateUpload(record.id, { deletedAt: s.now(), updatedAt: s.now() }));
  await guard("object store", async () => {
    await s.objects.delete({ bucket: s.config.buckets.archive, key: record.key });
    await s.objects.delete({ bucket: s.config.buckets.staging, key: record.key });
  });
}

export const downloadPath = (fileId: string) => `/v1/files/${fileId}/content`;

/**
 * A short-lived download URL. With `once`, the URL carries a download ticket that is
 * claimed like an upload ticket, so its bytes are served one time only.
 */
export async function createDownload(
  s: Services,
  fileId: string,
  options: { once: boolean; expiresIn?: number | undefined; keyPrefix?: string | undefined },
): Promise<{ url: string; expiresAt: number }> {
  const record = await getFile(s, fileId, options.keyPrefix);
  if (record.state !== "archived") throw conflict("not_archived", `File ${fileId} is ${record.state}, not archived.`);
  const ttl = Math.min(Math.max(options.expiresIn ?? s.config.urlTtlSeconds, 1), s.config.urlTtlMaxSeconds);
  const now = s.now();
  const expiresAt = now + ttl * 1000;
  const { presigner } = s;
  if (!options.once && presigner) {
    // Straight from the archive bucket: the bytes never pass through Sluice.
    const url = await guard("object store", () =>
      presigner.getUrl(
        { bucket: s.config.buckets.archive, key: record.key },
        { contentDisposition: attachmentDisposition(record.filename), contentType: record.contentType ?? "application/octet-stream", expiresIn: ttl, signingDate: new Date(now) },
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
      contentType: record.contentType ?? record.declaredType,
      size: record.size,
      sha256: record.sha256 ?? record.receivedSha256,
      metadata: {},
      ownerId: null,
      createdAt: s.now(),
      expiresAt,
    };
    await guard("ticket store", () => s.tickets.issue(t));
  }
  const signature = s.signer.sign(["GET", fileId, expires, ticket]);
  const query = new URLSearchParams({ expires, ...(ticket && { ticket }), signature });
  return { url: `${s.config.publicUrl}${downloadPath(fileId)}?${query.toString()}`, expiresAt };
}

export interface DownloadBody {
  record: UploadRecord;
  body: ReadableStream<Uint8Array>;
}

/** Serves a signed download URL. A one-time ticket is consumed when the last byte has been sent. */
export async function openDownload(
  s: Services,
  request: { fileId: string; expires: string | undefined; ticket: string | undefined; signature: string | undefined },
): Promise<DownloadBody> {
  verifyUrl(s, "GET", request.fileId, request.expires, request.signature, [request.ticket ?? ""]);
  const record = await getFile(s, request.fileId);
  if (record.state !== "archived") throw conflict("not_archived", `File ${request.fileId} is ${record.state}, not archived.`);

  let lease: string | undefined;
  const ticketId = request.ticket;
  if (ticketId) {
    const claim = await guard("ticket store", () => s.tickets.claim(ticketId, { leaseMs: s.config.ticketLeaseMs }));
    if (!claim.ok) {
      throw claim.reason === "claimed"
        ? conflict("download_in_progress", "This one-time URL is being used right now.")
        : gone("already_used", "This one-time download URL has already been used or has expired.");
    }
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
  const held = lease;
  const consume = () => s.tickets.consume(ticketId, held);
  // Consume before the last byte goes out, so that a client holding every byte can never
  // find the ticket still claimed; if the client goes away first, give the ticket back.
  if (record.size === 0) await guard("ticket store", consume);
  const reader = source.getReader();
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      sent += value.byteLength;
      if (sent >= record.size && record.size > 0) await consume();
      controller.enqueue(value);
    },
    async cancel(reason) {
      await reader.cancel(reason);
      if (sent < record.size) await release();
    },
  });
  return { record, body };
}
