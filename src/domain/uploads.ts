import { conflict, gone, notFound, toSluiceError, tooLarge, unprocessable, unsupportedType, type BackendName } from "../errors.js";
import { newId } from "../internal/crypto.js";
import type { KeyScope, UploadRecord, UploadState } from "../metadata/metadata-store.js";
import type { Presigner } from "../storage/presign.js";
import type { ScopedCredentials } from "../storage/s3-credentials.js";
import type { Ticket, TicketState } from "../tickets/ticket-store.js";
import { isTypeAllowed, mediaTypeEssence } from "./content-type.js";
import { hasForbiddenCharacters, safeKeyName } from "./filenames.js";
import { abortMultipart, planParts } from "./multipart.js";
import { KEY_REVOKED_REASON, ownerIsLive } from "./revocation.js";
import type { Services } from "./services.js";

/** S3's smallest part (all but the last). */
const MIN_PART_SIZE = 5 * 1024 ** 2;

export interface UploadRequest {
  filename: string;
  contentType: string;
  size: number;
  sha256?: string | undefined;
  metadata?: Record<string, string> | undefined;
  /** Seconds; clamped to the configured bounds. */
  expiresIn?: number | undefined;
  /** `POST` asks for a presigned POST policy, `credentials` for scoped STS credentials (direct mode only). */
  method?: "PUT" | "POST" | "credentials" | undefined;
  /** For a multipart upload: the part size the client would like (it grows if the file needs more than 10,000 parts). */
  partSize?: number | undefined;
}

export interface Principal {
  keyId: string;
  /** Absent for a full key (configured, or stored without a scope). */
  scope?: KeyScope | undefined;
}

export interface UploadInstructions {
  method: "PUT" | "POST";
  url: string;
  headers: Record<string, string>;
  /** POST only: form fields, sent before the `file` field. */
  fields?: Record<string, string>;
}

/** Credentials that may upload one staging key and nothing else, for the client's own S3 SDK. */
export interface CredentialInstructions {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Epoch milliseconds; the ticket expires with them. */
  expiresAt: number;
  bucket: string;
  key: string;
  region: string;
  /** The S3 endpoint, when it is not AWS's own. */
  endpoint?: string;
  forcePathStyle: boolean;
  /** The Content-Type to send: processing checks the object against it. */
  contentType: string;
}

/**
 * A single upload gets instructions for its one request; a multipart upload gets its plan,
 * and asks for part URLs; a `credentials` upload gets scoped credentials and sends the file
 * with its own S3 client.
 */
export type IssuedUpload =
  | { ticket: Ticket; upload: UploadInstructions; multipart?: undefined; credentials?: undefined }
  | { ticket: Ticket; upload?: undefined; multipart: { partSize: number; partCount: number }; credentials?: undefined }
  | { ticket: Ticket; upload?: undefined; multipart?: undefined; credentials: CredentialInstructions };

/** An upload's state as clients see it: from its record once the bytes arrived, from its ticket before. */
export interface UploadStatus {
  id: string;
  state: UploadState;
  key: string;
  reason: string | null;
  /** Set once the bytes arrived and the upload became a file. */
  arrived: boolean;
  expiresAt: number;
  createdAt: number;
  /** A multipart upload's plan, while it takes parts. */
  multipart?: { partSize: number; partCount: number } | undefined;
}

/**
 * Object keys are `[key prefix]<upload id>/<safe file name>`; the name never holds a slash
 * and the prefix (a scoped key's) may hold several. The id is the segment before the name.
 */
export function uploadIdOfKey(key: string): string {
  const segments = key.split("/");
  return segments.length >= 2 ? (segments[segments.length - 2] ?? "") : "";
}

/** The URL path of an upload's gateway endpoint. */
export const gatewayPath = (id: string) => `/v1/uploads/${id}/content`;

/**
 * Checks a request against policy and mints a one-time ticket. Only the ticket store is
 * written: an unused ticket simply expires there, and the metadata store records files, from
 * the moment their bytes arrive. If the ticket store is down nothing is issued (fail closed).
 */
export async function issueUpload(s: Services, principal: Principal, request: UploadRequest, options: { clientAddress?: string | undefined } = {}): Promise<IssuedUpload> {
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
  const scope = principal.scope;
  if (scope) {
    if (scope.maxSize !== undefined && request.size > scope.maxSize) throw tooLarge(`size ${request.size} exceeds this key's limit of ${scope.maxSize} bytes.`);
    if (scope.allowedTypes && !isTypeAllowed(contentType, scope.allowedTypes)) throw unsupportedType(`Content type ${contentType} is not allowed for this key.`);
  }
  const method = request.method ?? config.uploadMethod;
  if (method === "POST" && (config.uploadMode !== "direct" || !s.presigner)) {
    throw unprocessable("post_unavailable", "POST policy uploads need direct uploads to S3 (SLUICE_UPLOAD_MODE=direct); ask for PUT.");
  }
  const { credentials } = s;
  if (method === "credentials" && (config.uploadMode !== "direct" || !credentials || config.storage.kind !== "s3")) {
    throw unprocessable("credentials_unavailable", "Scoped credentials need direct uploads to S3 and SLUICE_STS_ROLE_ARN; ask for PUT.");
  }

  // With credentials the client's own S3 SDK decides between one PUT and parts.
  const multipart = method !== "credentials" && request.size > config.multipartThreshold;
  if (config.uploadMode === "edge" && !multipart && method === "PUT" && !request.sha256) {
    // CloudFront signs a PUT to S3 (origin access control) with the body's hash, which the client sends.
    throw unprocessable("sha256_required", "Uploads through the CloudFront front need the file's sha256: send it here, and as x-amz-content-sha256 with the PUT.");
  }
  if (request.partSize !== undefined && request.partSize < MIN_PART_SIZE) {
    throw unprocessable("invalid_part_size", `partSize must be at least ${MIN_PART_SIZE} bytes (5 MiB).`);
  }
  // Both stores are needed before this upload is done (the database when its bytes arrive):
  // if either is known to be down, nothing is issued.
  s.health?.require("ticket store", "metadata store");
  const admitted = s.limits.admit(principal, options.clientAddress, request.size);
  if (admitted) await admitted;
  const now = s.now();
  const ttlSeconds = multipart
    ? Math.min(Math.max(request.expiresIn ?? config.multipartTtlSeconds, 1), config.multipartTtlSeconds)
    : method === "credentials" && credentials
      ? // STS's bounds: a session lasts 15 minutes at least, and at most what the role allows.
        Math.min(Math.max(request.expiresIn ?? config.urlTtlSeconds, credentials.minSeconds), credentials.maxSeconds)
      : Math.min(Math.max(request.expiresIn ?? config.urlTtlSeconds, 1), config.urlTtlMaxSeconds);
  const id = newId("upl");
  const ticket: Ticket = {
    id,
    kind: "upload",
    key: `${scope?.keyPrefix ?? ""}${id}/${safeKeyName(request.filename)}`,
    filename: request.filename,
    contentType,
    size: request.size,
    sha256: request.sha256?.toLowerCase() ?? null,
    metadata: request.metadata ?? {},
    ownerId: principal.keyId,
    createdAt: now,
    expiresAt: now + ttlSeconds * 1000,
  };
  if (scope?.openTickets !== undefined) ticket.holdsSlot = true;
  const opened = s.limits.open(principal, ticket.id, ticket.expiresAt);
  if (opened) await opened;
  let granted: ScopedCredentials | undefined;
  try {
    if (multipart) return await issueMultipart(s, ticket, request.partSize ?? config.partSize);
    if (method === "credentials" && credentials) {
      // Credentials first: if STS is down nothing is issued. The ticket lives as long as they
      // do, so that bytes sent with them are still owned.
      const ref = { bucket: config.buckets.staging, key: ticket.key };
      granted = await guard("STS", () => credentials.forUpload(ref, { sessionName: ticket.id, durationSeconds: ttlSeconds }));
      ticket.expiresAt = Math.max(ticket.expiresAt, granted.expiresAt);
    }
    await guard("ticket store", () => s.tickets.issue(ticket));
  } catch (err) {
    await s.limits.close(ticket).catch(() => undefined);
    throw err;
  }
  s.metrics.issued.inc();
  if (granted && config.storage.kind === "s3") {
    const { endpoint, region, forcePathStyle } = config.storage;
    const credentialsOut = { ...granted, bucket: config.buckets.staging, key: ticket.key, region, ...(endpoint && { endpoint }), forcePathStyle, contentType: ticket.contentType };
    return { ticket, credentials: credentialsOut };
  }
  const { presigner } = s;
  let upload: UploadInstructions;
  if (config.uploadMode === "edge" && config.edgeUrl && ticket.sha256) upload = edgeUpload(config.edgeUrl, ticket, ticket.sha256);
  else if (config.uploadMode === "direct" && presigner && method !== "credentials") upload = await presignedUpload(s, presigner, ticket, method, ttlSeconds);
  else upload = gatewayUpload(s, ticket);
  return { ticket, upload };
}

/**
 * Starts the multipart upload in storage, then issues the ticket that carries its id. If the
 * ticket cannot be stored, the upload is aborted again (the sweep would find it otherwise).
 */
async function issueMultipart(s: Services, ticket: Ticket, preferredPartSize: number): Promise<IssuedUpload> {
  const plan = planParts(ticket.size, preferredPartSize);
  const ref = { bucket: s.config.buckets.staging, key: ticket.key };
  const uploadId = await guard("object store", () => s.objects.multipart.create(ref, { contentType: ticket.contentType }));
  const withPlan: Ticket = { ...ticket, multipart: { uploadId, ...plan } };
  try {
    await guard("ticket store", () => s.tickets.issue(withPlan));
  } catch (err) {
    await s.objects.multipart.abort(ref, uploadId).catch(() => undefined);
    throw err;
  }
  s.metrics.issued.inc();
  return { ticket: withPlan, multipart: plan };
}

/** A presigned PUT or POST straight to the staging bucket. */
async function presignedUpload(s: Services, presigner: Presigner, ticket: Ticket, method: "PUT" | "POST", ttlSeconds: number): Promise<UploadInstructions> {
  const ref = { bucket: s.config.buckets.staging, key: ticket.key };
  // Signed from the ticket's own clock, so that the URL and the ticket expire together.
  const expiry = { expiresIn: ttlSeconds, signingDate: new Date(ticket.createdAt) };
  const length = { contentType: ticket.contentType, contentLength: ticket.size };
  if (method === "POST") {
    const form = await presigner.postForm(ref, { ...length, ...expiry });
    return { method: "POST", url: form.url, headers: {}, fields: form.fields };
  }
  const put = await presigner.putUrl(ref, { ...length, sha256: ticket.sha256 ?? undefined, ...expiry });
  return { method: "PUT", url: put.url, headers: put.headers };
}

/**
 * A PUT to the CloudFront distribution in front of staging, at the object's own key. Not signed
 * by Sluice: the edge functions hold no secret. The ticket is the permission (its id is 128
 * random bits, claimed once, with its expiry), and storage checks the body against the hash.
 */
function edgeUpload(edgeUrl: string, ticket: Ticket, sha256: string): UploadInstructions {
  return { method: "PUT", url: `${edgeUrl}/${ticket.key}`, headers: { "content-type": ticket.contentType, "x-amz-content-sha256": sha256 } };
}

/** A PUT to Sluice's own gateway, signed by Sluice. Synchronous: this is the hot path of the embedded default. */
function gatewayUpload(s: Services, ticket: Ticket): UploadInstructions {
  const { config } = s;
  const expires = Math.floor(ticket.expiresAt / 1000);
  const signature = s.signer.sign(["PUT", ticket.id, String(expires)]);
  const url = `${config.publicUrl}${gatewayPath(ticket.id)}?expires=${expires}&signature=${signature}`;
  return { method: "PUT", url, headers: { "content-type": ticket.contentType } };
}

export async function getUploadStatus(s: Services, id: string): Promise<UploadStatus> {
  return (await readUpload(s, id)).status;
}

/** An upload's state and, before its bytes arrived, its ticket: one read of each store at most. */
export async function readUpload(s: Services, id: string): Promise<{ status: UploadStatus; ticket: Ticket | undefined }> {
  const record = await guard("metadata store", () => s.metadata.getUpload(id));
  if (record) return { status: statusOfRecord(record), ticket: undefined };
  const entry = await guard("ticket store", () => s.tickets.get(id));
  if (!entry || entry.ticket.kind !== "upload") throw notFound(`Upload ${id}`);
  return { status: statusOfTicket(s, entry.ticket, entry.state), ticket: entry.ticket };
}

function statusOfTicket(s: Services, ticket: Ticket, state: TicketState): UploadStatus {
  const { id } = ticket;
  const base = {
    id,
    key: ticket.key,
    arrived: false,
    expiresAt: ticket.expiresAt,
    createdAt: ticket.createdAt,
    ...(ticket.multipart && { multipart: { partSize: ticket.multipart.partSize, partCount: ticket.multipart.partCount } }),
  };
  switch (state) {
    case "claimed":
      return { ...base, state: "uploading", reason: null };
    case "revoked":
      return { ...base, state: "cancelled", reason: "cancelled by the client" };
    case "consumed":
      // Used, but not recorded (yet): the gateway or an event is recording it right now.
      return { ...base, state: "uploaded", reason: null };
    case "issued":
      return ticket.expiresAt <= s.now()
        ? { ...base, state: "expired", reason: "the upload URL expired before any bytes arrived" }
        : { ...base, state: "issued", reason: null };
  }
}

export function statusOfRecord(r: UploadRecord): UploadStatus {
  return { id: r.id, state: r.state, key: r.key, reason: r.reason, arrived: true, expiresAt: r.expiresAt, createdAt: r.createdAt };
}

/** Cancels an upload whose bytes have not arrived; its URL then gives 410. Cancelling twice is harmless. */
export async function cancelUpload(s: Services, id: string): Promise<UploadStatus> {
  const status = await getUploadStatus(s, id);
  if (status.state === "cancelled") return status;
  if (status.arrived || status.state === "uploaded") throw conflict("already_uploaded", `Upload ${id} has already arrived; delete the file instead.`);
  if (status.state === "uploading") throw conflict("upload_in_progress", `Upload ${id} is being uploaded right now.`);
  if (status.state === "expired") throw gone("expired", `Upload ${id} has expired.`);
  if (!(await guard("ticket store", () => s.tickets.revoke(id)))) {
    // Lost a race with an upload that started or finished meanwhile.
    const now = await getUploadStatus(s, id);
    if (now.state !== "cancelled") throw conflict("upload_in_progress", `Upload ${id} is ${now.state}.`);
  }
  // A multipart upload's parts go too (the sweep retries this if storage is down now).
  const entry = await guard("ticket store", () => s.tickets.get(id));
  if (entry) await s.limits.close(entry.ticket).catch(() => undefined); // else it lapses at expiry
  if (entry?.ticket.multipart) await abortMultipart(s, entry.ticket);
  return getUploadStatus(s, id);
}

/**
 * Records that an upload's bytes are in staging, and queues their processing. Every source
 * of arrival (gateway, complete call, storage event, reconcile sweep) ends here, and running
 * it twice changes nothing. The record is written before the ticket is consumed, so a crash
 * in between leaves a record to process, never a used-up ticket with nothing to show for it.
 *
 * `consume` is the lease the caller holds on the ticket (the gateway), or `null` to consume
 * an unclaimed ticket (an arrival reported by storage or the client).
 */
export async function recordArrival(
  s: Services,
  arrival: {
    ticket: Ticket;
    via: "gateway" | "complete" | "event" | "reconcile";
    consume: string | null;
    receivedSha256?: string;
    /** A SHA-256 the client gave only when it completed (a multipart upload hashed as it was sent), for processing to verify. */
    promisedSha256?: string;
  },
): Promise<void> {
  const { ticket } = arrival;
  // Bytes that arrive after their key was revoked are recorded as rejected and removed, never
  // archived: a presigned URL stays usable at storage until it expires, but not for long.
  const revoked = !(await ownerIsLive(s, ticket.ownerId));
  const now = s.now();
  const record: UploadRecord = {
    id: ticket.id,
    state: revoked ? "rejected" : "uploaded",
    key: ticket.key,
    filename: ticket.filename,
    declaredType: ticket.contentType,
    contentType: null,
    size: ticket.size,
    sha256: ticket.sha256 ?? arrival.promisedSha256 ?? null,
    receivedSha256: arrival.receivedSha256 ?? null,
    metadata: ticket.metadata,
    reason: revoked ? KEY_REVOKED_REASON : null,
    apiKeyId: ticket.ownerId,
    attempts: 0,
    // A caller that holds the ticket's claim (the gateway) finishes the arrival itself, and
    // queues it once the ticket is consumed; the sweep leaves the record to it for one lease,
    // so that it never processes bytes the gateway is about to take back out.
    nextAttemptAt: revoked ? null : arrival.consume ? now + s.config.ticketLeaseMs : now,
    leaseOwner: null,
    leaseUntil: null,
    expiresAt: ticket.expiresAt,
    createdAt: ticket.createdAt,
    updatedAt: now,
    uploadedAt: now,
    archivedAt: null,
    deletedAt: null,
  };
  const inserted = await guard("metadata store", () => s.metadata.insertUpload(record));
  if (!inserted && arrival.consume) {
    // The caller holds the ticket's claim, so the ticket is unused, yet a record exists: an
    // earlier arrival wrote it and then failed, and its bytes were taken back out. These bytes
    // are the upload now, checked afresh; done before the ticket is consumed, so that a failure
    // here leaves the same state as a failed insert. A record that is final (archived,
    // rejected, deleted) is not revived: these bytes are a second upload.
    const { state, reason, nextAttemptAt, sha256, receivedSha256 } = record;
    const revive = { state, reason, nextAttemptAt, attempts: 0, leaseOwner: null, leaseUntil: null, sha256, receivedSha256, uploadedAt: now, updatedAt: now };
    const revived = await guard("metadata store", () => s.metadata.updateUpload(ticket.id, revive, { states: ["uploaded", "processing", "failed"] }));
    if (!revived) throw gone("already_used", "This upload URL has already been used.");
  }
  const consumed = await guard("ticket store", () => s.tickets.consume(ticket.id, arrival.consume));
  if (consumed.ok) {
    // The key's open-upload slot is free again (if this fails, the slot lapses at expiry).
    await s.limits.close(ticket).catch(() => undefined);
    s.metrics.uploaded.inc({ via: arrival.via });
    s.logger.info({ uploadId: ticket.id, via: arrival.via, ...(revoked && { keyRevoked: true }) }, "upload arrived");
  }
  if (revoked) {
    // If this delete fails, the object is removed the next time it is reported (the record says rejected).
    await guard("object store", () => s.objects.delete({ bucket: s.config.buckets.staging, key: ticket.key }));
    return;
  }
  s.arrivals.enqueue(ticket.id);
}

/** Runs a backend call, turning a failure to reach the backend into 503 (fail closed). */
export async function guard<T>(backend: BackendName, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toSluiceError(backend, err);
  }
}
