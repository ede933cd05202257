import { BackendUnavailableError, SluiceError, conflict, gone, notFound, tooLarge, unprocessable, unsupportedType } from "../errors.js";
import { newId } from "../internal/crypto.js";
import { FILE_STATES, type UploadRecord } from "../metadata/metadata-store.js";
import { isTypeAllowed, mediaTypeEssence } from "./content-type.js";
import { hasForbiddenCharacters, safeKeyName } from "./filenames.js";
import type { Services } from "./services.js";

export interface UploadRequest {
  filename: string;
  contentType: string;
  size: number;
  sha256?: string | undefined;
  metadata?: Record<string, string> | undefined;
  /** Seconds; clamped to the configured bounds. */
  expiresIn?: number | undefined;
}

export interface Principal {
  keyId: string;
}

export interface UploadInstructions {
  method: "PUT";
  url: string;
  headers: Record<string, string>;
}

export interface IssuedUpload {
  record: UploadRecord;
  upload: UploadInstructions;
}

/** The URL path of an upload's gateway endpoint. */
export const gatewayPath = (id: string) => `/v1/uploads/${id}/content`;

/**
 * Checks a request against policy and mints a one-time ticket. The record is written first
 * and the ticket second: if the ticket store is down nothing usable is issued (fail closed),
 * and the record simply expires.
 */
export async function issueUpload(s: Services, principal: Principal, request: UploadRequest): Promise<IssuedUpload> {
  const { config } = s;
  if (hasForbiddenCharacters(request.filename)) {
    throw unprocessable("invalid_filename", "filename must not contain NUL, control or bidirectional-override characters.");
  }
  if (request.size > config.maxSize) {
    throw tooLarge(`size ${request.size} exceeds the limit of ${config.maxSize} bytes.`);
  }
  const contentType = mediaTypeEssence(request.contentType);
  if (!isTypeAllowed(contentType, config.allowedTypes)) {
    throw unsupportedType(`Content type ${contentType} is not allowed.`);
  }

  const now = s.now();
  const ttlSeconds = Math.min(Math.max(request.expiresIn ?? config.urlTtlSeconds, 1), config.urlTtlMaxSeconds);
  const id = newId("upl");
  const record: UploadRecord = {
    id,
    state: "issued",
    key: `${id}/${safeKeyName(request.filename)}`,
    filename: request.filename,
    declaredType: contentType,
    contentType: null,
    size: request.size,
    sha256: request.sha256?.toLowerCase() ?? null,
    receivedSha256: null,
    metadata: request.metadata ?? {},
    reason: null,
    apiKeyId: principal.keyId,
    attempts: 0,
    nextAttemptAt: null,
    leaseOwner: null,
    leaseUntil: null,
    expiresAt: now + ttlSeconds * 1000,
    createdAt: now,
    updatedAt: now,
    uploadedAt: null,
    archivedAt: null,
    deletedAt: null,
  };

  await guard("metadata store", () => s.metadata.insertUpload(record));
  try {
    await s.tickets.issue({ id, kind: "upload", key: record.key, contentType, size: record.size, expiresAt: record.expiresAt });
  } catch (err) {
    await s.metadata
      .updateUpload(id, { state: "expired", reason: "ticket store unavailable at issue", updatedAt: s.now() }, { states: ["issued"] })
      .catch(() => undefined); // the reconcile sweep expires it otherwise
    throw new BackendUnavailableError("ticket store", err);
  }
  s.metrics.issued.inc();

  const expires = Math.floor(record.expiresAt / 1000);
  const signature = s.signer.sign(["PUT", id, String(expires)]);
  const url = `${config.publicUrl}${gatewayPath(id)}?expires=${expires}&signature=${signature}`;
  return { record, upload: { method: "PUT", url, headers: { "content-type": contentType } } };
}

export async function getUpload(s: Services, id: string): Promise<UploadRecord> {
  const record = await guard("metadata store", () => s.metadata.getUpload(id));
  if (!record) throw notFound(`Upload ${id}`);
  return record;
}

/** Cancels an upload whose bytes have not arrived. Cancelling twice is harmless. */
export async function cancelUpload(s: Services, id: string): Promise<UploadRecord> {
  const record = await getUpload(s, id);
  if (record.state === "cancelled") return record;
  if ((FILE_STATES).includes(record.state)) {
    throw conflict("already_uploaded", `Upload ${id} has already arrived; delete the file instead.`);
  }
  if (record.state === "expired") throw gone("expired", `Upload ${id} has expired.`);
  const revoked = await guard("ticket store", () => s.tickets.revoke(id));
  const ticket = revoked ? undefined : await guard("ticket store", () => s.tickets.get(id));
  if (ticket?.state === "claimed") throw conflict("upload_in_progress", `Upload ${id} is being uploaded right now.`);
  await guard("metadata store", () =>
    s.metadata.updateUpload(id, { state: "cancelled", reason: "cancelled by the client", updatedAt: s.now() }, { states: ["issued", "uploading"] }),
  );
  return getUpload(s, id);
}

/**
 * The client says the bytes are in staging. Idempotent: once the upload has arrived this
 * just reports its state. Otherwise the object is checked (HEAD) and recorded as arrived.
 */
export async function completeUpload(s: Services, id: string): Promise<UploadRecord> {
  const record = await getUpload(s, id);
  if (record.state !== "issued" && record.state !== "uploading") {
    if (record.state === "expired") throw gone("expired", `Upload ${id} expired before its bytes arrived.`);
    if (record.state === "cancelled") throw gone("cancelled", `Upload ${id} was cancelled.`);
    return record;
  }
  const object = await guard("object store", () => s.objects.head({ bucket: s.config.buckets.staging, key: record.key }));
  if (!object) throw conflict("not_uploaded", `No bytes have arrived for upload ${id} yet.`);
  const consumed = await guard("ticket store", () => s.tickets.consume(id, null));
  if (!consumed.ok && consumed.reason === "claimed") {
    throw conflict("upload_in_progress", `Upload ${id} is being uploaded right now.`);
  }
  // Any other refusal means the ticket was used already (the gateway recorded it) or is gone;
  // either way the object is here, so the arrival is recorded and processing decides.
  await recordArrival(s, { id, via: "complete" });
  return getUpload(s, id);
}

/**
 * Marks an upload's bytes as arrived in staging and queues its processing. Every source of
 * arrival (gateway, complete call, storage event, reconcile sweep) ends here; running it
 * twice changes nothing.
 */
export async function recordArrival(
  s: Services,
  arrival: { id: string; via: "gateway" | "complete" | "event" | "reconcile"; receivedSha256?: string },
): Promise<void> {
  const now = s.now();
  const applied = await guard("metadata store", () =>
    s.metadata.updateUpload(
      arrival.id,
      {
        state: "uploaded",
        uploadedAt: now,
        updatedAt: now,
        nextAttemptAt: now,
        ...(arrival.receivedSha256 !== undefined && { receivedSha256: arrival.receivedSha256 }),
      },
      { states: ["issued", "uploading"] },
    ),
  );
  if (applied) {
    s.metrics.uploaded.inc({ via: arrival.via });
    s.logger.info({ uploadId: arrival.id, via: arrival.via }, "upload arrived");
  }
  s.arrivals.enqueue(arrival.id);
}

/** Runs a backend call, turning a failure to reach the backend into 503 (fail closed). */
export async function guard<T>(backend: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new BackendUnavailableError(backend, err);
  }
}
