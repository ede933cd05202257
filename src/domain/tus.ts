/**
 * tus 1.0.0 (tus.io `protocol.md`): a tus upload IS a one-time Sluice upload. Its ticket is
 * issued like any other (`upload-routes/tus.ts`), with a multipart upload in staging behind
 * it, or, on a store that appends (the filesystem, `ObjectStore.append`), one append file;
 * PATCHes add bytes in order, and the PATCH that delivers the last byte assembles the parts
 * (or renames the append file into the object, no copy) and records the arrival
 * (`recordArrival`), so that the same processing, sniffing and archive follow, and the ticket
 * is consumed: the upload is sealed.
 *
 * Where the offset lives: in storage, as tusd keeps it. On parts, storage holds the parts
 * written so far and, for the bytes of a part not yet full, one pending-part object beside the
 * key (`tusPendingPartKey`); the offset is the full parts plus that object's size. On a store
 * that appends, it is the append file's size (`tusAppendKey`), as tusd's file store has it. Storage is
 * where the bytes are, so the offset can never disagree with them after a crash (a count kept
 * in the ticket or metadata store would be written after the bytes, and a crash in between
 * would make them disagree), and any instance that can reach storage can take the next PATCH.
 * One PATCH at a time holds the ticket's claim (the shared ticket store, with a lease kept
 * alive while bytes flow): a second, concurrent one gets 409.
 */
import { createHash, type Hash } from "node:crypto";
import { BackendUnavailableError, SluiceError, badRequest, conflict, gone, notFound, toSluiceError, tooLarge } from "../errors.js";
import type { UploadRecord } from "../metadata/metadata-store.js";
import { InvalidPartsError, MultipartNotFoundError, ObjectChangedError, type PartInfo } from "../storage/object-store.js";
import type { MultipartPlan, Ticket } from "../tickets/ticket-store.js";
import { recordArrival } from "./arrivals.js";
import { findSluiceError, guard } from "./backend-calls.js";
import { cancelUpload } from "./cancel.js";
import { keepLeaseAlive, refusal } from "./claims.js";
import { emptyStream, meterBody } from "./metered-body.js";
import { partLength, planParts } from "./part-plans.js";
import { endUploadOfRevokedKey, ownerIsLive } from "./revocation.js";
import type { Services } from "./services.js";
import { signedUrl, verifyUrl } from "./signed-urls.js";
import { tusAppendKey, tusPendingPartKey } from "./upload-keys.js";
import { waitForVerdict } from "./verdict.js";

export const TUS_VERSION = "1.0.0";
export const TUS_EXTENSIONS = ["creation", "creation-with-upload", "termination", "expiration", "checksum", "concatenation"] as const;
export const TUS_CHECKSUM_ALGORITHMS = ["sha1", "sha256", "md5"] as const;
export type TusChecksumAlgorithm = (typeof TUS_CHECKSUM_ALGORITHMS)[number];

/** How long the PATCH that delivers the last byte waits for processing's verdict before it answers. */
export const TUS_VERDICT_WAIT_MS = 10_000;

/** The path of a tus upload URL. */
export const tusPath = (id: string) => `/v1/tus/${id}`;
/** What a tus upload URL signs as its method: one capability URL serves HEAD, PATCH and DELETE. */
export const SIGNED_AS = "TUS";

/** A tus upload's ticket: its bytes go into a multipart upload (`multipart`), or, on a store that appends, into one append file (`tusAppend`). */
export type TusTicket = Ticket & { protocol: "tus" };
type MultipartTusTicket = TusTicket & { multipart: MultipartPlan };
const isMultipart = (ticket: TusTicket): ticket is MultipartTusTicket => ticket.multipart !== undefined;

/** The capability URL of a tus upload: signed like gateway URLs, valid as long as its ticket. */
export function tusUploadUrl(s: Pick<Services, "config" | "signer">, ticket: Ticket): string {
  return signedUrl(s, tusPath(ticket.id), { method: SIGNED_AS, id: ticket.id, expires: Math.floor(ticket.expiresAt / 1000) });
}

/** The signed parts of a tus upload URL, as the request brought them. */
export interface TusUrl {
  id: string;
  expires: string | undefined;
  signature: string | undefined;
}

/** What HEAD tells, and what every answer about a tus upload may carry. */
export interface TusUploadState {
  offset: number;
  length: number;
  /** For Upload-Metadata: the name and type it was created with, and the app's metadata. */
  metadata: Record<string, string>;
  /** Epoch ms; absent once the upload has arrived (it no longer expires). */
  expiresAt?: number | undefined;
}

export interface TusChunk {
  /** Upload-Offset, as sent. */
  offset: string | undefined;
  contentType: string | undefined;
  contentLength: number | undefined;
  /** Upload-Checksum, as sent. */
  checksum: string | undefined;
  body: ReadableStream<Uint8Array> | null;
  signal?: AbortSignal | undefined;
}

/**
 * Starts a tus upload's storage for a ticket being issued: a multipart upload in staging with a
 * part plan (each part `partSize`, the last the rest), recorded in the ticket, which is then
 * stored. If the ticket cannot be stored, the multipart upload is aborted again.
 */
export async function openTusUpload(s: Services, ticket: Ticket, storeTicket: () => Promise<void>): Promise<void> {
  if (s.objects.append && !ticket.tusPartial) {
    // The append file is made by the first PATCH: until then the upload holds no byte, and
    // nothing in staging can be swept away between its creation and the ticket's.
    ticket.protocol = "tus";
    ticket.tusAppend = true;
    await storeTicket();
    return;
  }
  const ref = { bucket: s.config.buckets.staging, key: ticket.key };
  const uploadId = await guard("object store", () => s.objects.multipart.create(ref, { contentType: ticket.contentType }));
  ticket.multipart = { uploadId, ...planParts(ticket.size, s.config.partSize) };
  ticket.protocol = "tus";
  try {
    await storeTicket();
  } catch (err) {
    await s.objects.multipart.abort(ref, uploadId).catch(() => undefined);
    throw err;
  }
}

/** Parses `Upload-Checksum: <algorithm> <base64>`: an unknown algorithm is 400, as the extension says. */
export function parseTusChecksum(header: string | undefined): { algorithm: TusChecksumAlgorithm; digest: Buffer } | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(\S+)\s+([A-Za-z0-9+/]+={0,2})\s*$/.exec(header);
  if (!match) throw badRequest("invalid_tus_request", "Upload-Checksum must be `<algorithm> <base64 digest>`.");
  const algorithm = match[1]!.toLowerCase();
  if (!(TUS_CHECKSUM_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw badRequest("checksum_algorithm_unsupported", `Upload-Checksum algorithm ${algorithm} is not supported; use one of ${TUS_CHECKSUM_ALGORITHMS.join(", ")}.`);
  }
  return { algorithm: algorithm as TusChecksumAlgorithm, digest: Buffer.from(match[2]!, "base64") };
}

/** HEAD: where the upload stands. Reads only: a HEAD never spends or changes anything. */
export async function inspectTusUpload(s: Services, url: TusUrl): Promise<TusUploadState> {
  verifyUrl(s, SIGNED_AS, url.id, url.expires, url.signature);
  const record = await guard("metadata store", () => s.metadata.getUpload(url.id));
  if (record) return arrivedState(record);
  const entry = await guard("ticket store", () => s.tickets.get(url.id));
  if (!entry || entry.ticket.protocol !== "tus") throw notFound(`Upload ${url.id}`);
  const ticket = entry.ticket as TusTicket;
  const base = { length: ticket.size, metadata: metadataOf(ticket), expiresAt: ticket.expiresAt };
  switch (entry.state) {
    case "revoked":
      throw gone("cancelled", `Upload ${url.id} was cancelled.`);
    case "consumed":
      return { ...base, offset: ticket.size }; // arrived; its record is being written
    case "issued":
      if (ticket.expiresAt <= s.now()) throw gone("expired", `Upload ${url.id} has expired.`);
      return { ...base, offset: (await storedProgress(s, ticket)).offset };
    case "claimed":
      // A PATCH is writing: the offset storage holds is what it has committed so far.
      return { ...base, offset: (await storedProgress(s, ticket)).offset };
  }
}

/** An arrived upload: all its bytes are in, unless processing rejected it or it was deleted. */
function arrivedState(record: UploadRecord): TusUploadState {
  if (record.state === "rejected") throw new SluiceError(410, "file_rejected", `The file was rejected: ${record.reason ?? "no reason given"}.`);
  if (record.deletedAt !== null) throw gone("already_used", `Upload ${record.id} was deleted.`);
  return { offset: record.size, length: record.size, metadata: { filename: record.filename, filetype: record.declaredType, ...record.metadata } };
}

const metadataOf = (ticket: Ticket) => ({ filename: ticket.filename, filetype: ticket.contentType, ...ticket.metadata });

/** What a PATCH did: the new offset, and, when it delivered the last byte, the upload's verdict if it came in time. */
export interface TusChunkResult extends TusUploadState {
  /** Set when this PATCH sealed the upload. */
  sealed: boolean;
}

/**
 * PATCH: takes the next bytes of a tus upload. Order matters:
 * 1. the URL's signature, then the headers (415, 400), before any store is touched;
 * 2. the ticket's claim (409 while another PATCH holds it; 410 once sealed or over);
 * 3. the offset storage holds against Upload-Offset (409), and the length against what the
 *    upload still lacks (413), before a byte is read;
 * 4. the body, metered (idle timeout, never past Upload-Length), into parts and the pending
 *    part; with Upload-Checksum nothing is stored until the digest matches (460 otherwise);
 * 5. when the last byte is in: the parts assembled, the arrival recorded (the ticket consumed:
 *    sealed), and a bounded wait for processing's verdict: a rejected file is a 422.
 * Any failure before the seal gives the claim back: the client asks HEAD and goes on.
 */
export async function receiveTusChunk(s: Services, url: TusUrl, chunk: TusChunk): Promise<TusChunkResult> {
  verifyUrl(s, SIGNED_AS, url.id, url.expires, url.signature);
  return appendToTusUpload(s, url.id, chunk);
}

/** The PATCH steps after the URL is verified; creation-with-upload calls it for the bytes of its POST. */
export async function appendToTusUpload(s: Services, id: string, chunk: TusChunk): Promise<TusChunkResult> {
  if (chunk.contentType?.split(";")[0]?.trim().toLowerCase() !== "application/offset+octet-stream") {
    throw new SluiceError(415, "unsupported_media_type", "A tus PATCH must be sent as Content-Type: application/offset+octet-stream.");
  }
  if (chunk.offset === undefined || !/^\d{1,16}$/.test(chunk.offset)) throw badRequest("invalid_tus_request", "Upload-Offset must be a non-negative integer.");
  const offset = Number(chunk.offset);
  const checksum = parseTusChecksum(chunk.checksum);
  s.health?.require("ticket store", "metadata store");

  const claim = await guard("ticket store", () => s.tickets.claim(id, { leaseMs: s.config.ticketLeaseMs }));
  if (!claim.ok) {
    if (claim.reason === "consumed") throw gone("upload_sealed", `Upload ${id} has all its bytes; it takes no more.`);
    throw refusal(claim.reason);
  }
  const { lease } = claim;
  if (claim.ticket.protocol !== "tus" || (!claim.ticket.multipart && !claim.ticket.tusAppend)) {
    await s.tickets.release(id, lease).catch(() => undefined);
    throw notFound(`tus upload ${id}`);
  }
  const ticket = claim.ticket as TusTicket;
  let flowing = () => true;
  const renewal = keepLeaseAlive({
    leaseMs: s.config.ticketLeaseMs,
    when: () => flowing(),
    renew: () => s.tickets.renew(id, lease, { leaseMs: s.config.ticketLeaseMs }),
    onError: (err) => s.logger.warn({ err, uploadId: id }, "could not renew the tus upload's ticket lease"),
  });
  let sealed = false;
  try {
    if (!(await ownerIsLive(s, ticket.ownerId))) {
      await s.tickets.release(id, lease).catch(() => undefined);
      await endUploadOfRevokedKey(s, ticket);
    }
    const progress = await storedProgress(s, ticket);
    if (offset !== progress.offset) throw conflict("offset_mismatch", `Upload-Offset is ${offset}; the upload is at ${progress.offset}. Ask with HEAD and go on from there.`);
    const missing = ticket.size - progress.offset;
    // With a checksum every byte is held until the digest is checked, so on parts a chunk may not
    // run past its part. An append file takes any chunk whole: a mismatch cuts it back.
    const partSize = checksum && isMultipart(ticket) ? ticket.multipart.partSize : undefined;
    const room = checksum && isMultipart(ticket) ? partLength(ticket, progress.partsDone + 1) - progress.pending : missing;
    if (chunk.contentLength !== undefined && chunk.contentLength > room) {
      throw tooLarge(
        partSize !== undefined
          ? `A PATCH with Upload-Checksum may carry at most ${room} bytes here (the rest of the current ${partSize}-byte part); this one has ${chunk.contentLength}.`
          : `The chunk is ${chunk.contentLength} bytes; the upload lacks only ${missing}.`,
      );
    }
    const hash = checksum ? createHash(checksum.algorithm) : undefined;
    const metered = meterBody(chunk.body ?? emptyStream(), { size: chunk.contentLength ?? Math.min(room, missing), upTo: chunk.contentLength === undefined, hash, idleTimeoutMs: s.config.bodyIdleTimeoutMs });
    flowing = () => metered.flowing();
    let newOffset: number;
    try {
      newOffset = await writeChunk(s, ticket, progress, metered.body, { holdUntilChecked: checksum && hash ? () => checkDigest(hash, checksum.digest) : undefined, signal: chunk.signal });
    } finally {
      metered.stop();
    }
    if (newOffset === ticket.size && ticket.tusPartial) {
      // A partial upload is complete: assembled, and kept (unclaimed) for the final upload to take.
      await assembleParts(s, ticket);
    }
    if (newOffset < ticket.size || ticket.tusPartial) {
      await s.tickets.release(id, lease).catch(() => undefined);
      return { offset: newOffset, length: ticket.size, metadata: metadataOf(ticket), expiresAt: ticket.expiresAt, sealed: false };
    }
    await assembleParts(s, ticket);
    sealed = true;
    await recordArrival(s, { ticket, via: "tus", consume: lease });
  } catch (err) {
    if (!sealed) await s.tickets.release(id, lease).catch(() => undefined);
    else s.logger.warn({ err, uploadId: id }, "assembled a tus upload but could not record it; the sweep will");
    throw err;
  } finally {
    renewal.stop();
  }
  // Sealed. The client learns the verdict on this answer if processing gives it in time.
  const verdict = await waitForVerdict(s, id, { timeoutMs: TUS_VERDICT_WAIT_MS });
  if (verdict.state === "rejected") {
    throw new SluiceError(422, "file_rejected", `The file was rejected: ${verdict.reason ?? "no reason given"}.`, { "upload-offset": String(ticket.size) });
  }
  return { offset: ticket.size, length: ticket.size, metadata: metadataOf(ticket), sealed: true };
}

function checkDigest(hash: Hash, expected: Buffer) {
  if (!hash.digest().equals(expected)) {
    throw new SluiceError(460, "tus_checksum_mismatch", "The chunk's bytes do not match its Upload-Checksum; it was discarded. Send it again.");
  }
}

/** DELETE (termination): cancels an upload whose bytes have not all arrived; its URL then gives 410. */
export async function terminateTusUpload(s: Services, url: TusUrl): Promise<void> {
  verifyUrl(s, SIGNED_AS, url.id, url.expires, url.signature);
  const entry = await guard("ticket store", () => s.tickets.get(url.id));
  const ticket = entry?.ticket;
  const progress = ticket?.protocol === "tus" && entry?.state === "issued" && !ticket.tusAppend ? await storedProgress(s, ticket as TusTicket).catch(() => undefined) : undefined;
  await cancelUpload(s, url.id);
  if (ticket?.tusAppend && entry?.state === "issued") await s.objects.delete({ bucket: s.config.buckets.staging, key: tusAppendKey(ticket.key) }).catch(() => undefined);
  // The parts went with the multipart upload; the pending part goes too (else the sweep removes it).
  if (ticket && progress) await s.objects.delete({ bucket: s.config.buckets.staging, key: tusPendingPartKey(ticket.key, progress.partsDone + 1) }).catch(() => undefined);
}

export interface StoredProgress {
  /** Parts 1…partsDone are stored, each whole. */
  partsDone: number;
  /** Bytes of part partsDone + 1 waiting in its pending-part object. */
  pending: number;
  offset: number;
}

/** The offset, from what storage holds: the run of whole parts from 1, and the pending part after them. */
export async function storedProgress(s: Services, ticket: TusTicket): Promise<StoredProgress> {
  if (!isMultipart(ticket)) return appendedProgress(s, ticket);
  const ref = { bucket: s.config.buckets.staging, key: ticket.key };
  let parts: PartInfo[];
  try {
    parts = await s.objects.multipart.listParts(ref, ticket.multipart.uploadId);
  } catch (err) {
    if (!(err instanceof MultipartNotFoundError)) throw toSluiceError("object store", err);
    // Assembled, and the arrival not recorded yet (or a crash in between: the sweep records it).
    if (await guard("object store", () => s.objects.head(ref))) return { partsDone: ticket.multipart.partCount, pending: 0, offset: ticket.size };
    throw gone("upload_closed", `Upload ${ticket.id} is no longer open (expired or cancelled).`);
  }
  const byNumber = new Map(parts.map((p) => [p.partNumber, p]));
  let partsDone = 0;
  // The last part counts only once the upload is assembled (above): stored but not assembled
  // (a crash in between), its bytes are asked for again, so that the PATCH that sends them
  // seals the upload. Otherwise HEAD would say "complete" of an upload nobody will seal.
  while (partsDone < ticket.multipart.partCount - 1 && byNumber.get(partsDone + 1)?.size === partLength(ticket, partsDone + 1)) partsDone++;
  const pendingPart = await guard("object store", () => s.objects.head({ bucket: ref.bucket, key: tusPendingPartKey(ticket.key, partsDone + 1) }));
  const pending = pendingPart?.size ?? 0;
  return { partsDone, pending, offset: partsDone * ticket.multipart.partSize + pending };
}

/**
 * The offset of an upload on a store that appends: the append file's size, read afresh (any
 * instance on the same disk agrees). Sealed: the object is there. A file that holds every
 * byte but was never sealed (a crash in between) counts one byte less, so that the PATCH
 * that sends it again seals the upload (HEAD would otherwise say "complete" of an upload nobody seals).
 */
async function appendedProgress(s: Services, ticket: TusTicket): Promise<StoredProgress> {
  const bucket = s.config.buckets.staging;
  if (await guard("object store", () => s.objects.head({ bucket, key: ticket.key }))) return { partsDone: 0, pending: 0, offset: ticket.size };
  const file = await guard("object store", () => s.objects.head({ bucket, key: tusAppendKey(ticket.key) }));
  return { partsDone: 0, pending: 0, offset: Math.min(file?.size ?? 0, ticket.size - 1) };
}

/** The append store behind a `tusAppend` upload (every instance on one disk has it). */
function appendStoreOf(s: Services) {
  if (!s.objects.append) throw new BackendUnavailableError("object store", new Error(`${s.objects.name} cannot append, but a tus upload was begun on one that can`));
  return s.objects.append;
}

/**
 * Adds a chunk's bytes to the append file at the stored offset, streamed (no buffer). A body
 * that fails (client gone, idle, too long) or a checksum that does not match leaves the file
 * as it was before the PATCH: the store cuts it back. Returns the new offset.
 */
async function appendChunk(
  s: Services,
  ticket: TusTicket,
  progress: StoredProgress,
  body: ReadableStream<Uint8Array>,
  options: { holdUntilChecked?: (() => void) | undefined; signal?: AbortSignal | undefined },
): Promise<number> {
  const store = appendStoreOf(s);
  try {
    return await store.append({ bucket: s.config.buckets.staging, key: tusAppendKey(ticket.key), offset: progress.offset, body, check: options.holdUntilChecked, signal: options.signal });
  } catch (err) {
    if (err instanceof ObjectChangedError) throw conflict("offset_mismatch", `Upload ${ticket.id} holds fewer bytes than its offset said. Ask with HEAD and go on from there.`);
    throw findSluiceError(err) ?? (options.signal?.aborted ? badRequest("client_aborted", "The client went away before the chunk was complete.") : toSluiceError("object store", err));
  }
}

/** A stream of one buffer, for a store that takes bodies as streams. */
const streamOf = (bytes: Uint8Array) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });

/**
 * Adds a chunk's bytes after the stored progress. Memory holds one part at most: the pending
 * bytes read back from storage, then the chunk's bytes as they come; each part that fills is
 * stored as a part (and its pending object removed), and what is left at the end of the chunk
 * becomes the next pending object. With `holdUntilChecked`, nothing is stored before it passes
 * (the chunk was held to the rest of one part). Returns the new offset.
 */
export async function writeChunk(
  s: Services,
  ticket: TusTicket,
  progress: StoredProgress,
  body: ReadableStream<Uint8Array>,
  options: { holdUntilChecked?: (() => void) | undefined; signal?: AbortSignal | undefined },
): Promise<number> {
  if (!isMultipart(ticket)) return appendChunk(s, ticket, progress, body, options);
  const bucket = s.config.buckets.staging;
  const { uploadId, partCount } = ticket.multipart;
  let partNumber = progress.partsDone + 1;
  let size = partLength(ticket, partNumber);
  // One buffer for the largest part this upload has, from the pool; filled bytes only are ever read.
  const buffer = takePartBuffer(Math.min(ticket.multipart.partSize, ticket.size));
  let filled = 0;
  if (progress.pending > 0) filled = await readInto(await guard("object store", () => s.objects.read({ bucket, key: tusPendingPartKey(ticket.key, partNumber) })), buffer);
  if (filled !== progress.pending) throw new BackendUnavailableError("object store", new Error(`pending part ${partNumber} of ${ticket.id} changed while it was read`));
  let offset = progress.offset;
  let added = false;

  const storePart = async () => {
    await s.objects.multipart
      .putPart({ bucket, key: ticket.key, uploadId, partNumber, body: streamOf(buffer.subarray(0, size)), contentLength: size, ...(options.signal && { signal: options.signal }) })
      .catch((err: unknown) => {
        if (err instanceof MultipartNotFoundError) throw gone("upload_closed", `Upload ${ticket.id} is no longer open.`);
        throw toSluiceError("object store", err);
      });
    // Named by its part number, a pending object left here by a crash is never read again: its removal is tidiness.
    await s.objects.delete({ bucket, key: tusPendingPartKey(ticket.key, partNumber) }).catch(() => undefined);
    partNumber++;
    size = partNumber <= partCount ? partLength(ticket, partNumber) : 0;
    filled = 0;
    added = false;
  };

  const reader = body.getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (err) {
        throw findSluiceError(err) ?? (options.signal?.aborted ? badRequest("client_aborted", "The client went away before the chunk was complete.") : toSluiceError("object store", err));
      }
      if (next.done) break;
      let bytes = next.value;
      while (bytes.byteLength > 0) {
        const take = Math.min(bytes.byteLength, size - filled);
        if (take === 0) throw tooLarge("The chunk runs past the end of the upload."); // the meter stops it first
        buffer.set(bytes.subarray(0, take), filled);
        filled += take;
        offset += take;
        added = true;
        bytes = bytes.subarray(take);
        // The last part waits for the body's clean end: a body that then runs long stores none of it.
        if (filled === size && !options.holdUntilChecked && partNumber < partCount) await storePart();
      }
    }
  } finally {
    reader.releaseLock();
  }
  options.holdUntilChecked?.();
  if (filled === size && added) await storePart();
  else if (added && filled > 0) {
    await guard("object store", () =>
      s.objects.put({ bucket, key: tusPendingPartKey(ticket.key, partNumber), body: streamOf(buffer.subarray(0, filled)), contentType: "application/octet-stream", contentLength: filled }),
    );
  }
  // Only now, every store call done with it: after a failure a request given up may still read it, so it is left to the GC.
  givePartBuffer(buffer);
  return offset;
}

/**
 * Part buffers kept between PATCHes: fresh memory the size of a part (16 MiB) costs more to
 * fault in than the chunk's bytes take to copy, on every PATCH. At most this many wait idle.
 */
const IDLE_PART_BUFFERS = 4;
const idlePartBuffers: Buffer[] = [];

function takePartBuffer(length: number): Buffer {
  const i = idlePartBuffers.findIndex((b) => b.byteLength === length);
  return i >= 0 ? idlePartBuffers.splice(i, 1)[0]! : Buffer.allocUnsafe(length);
}

function givePartBuffer(buffer: Buffer): void {
  if (buffer.byteLength < 1024 * 1024) return; // small ones are cheap to allocate
  if (idlePartBuffers.length >= IDLE_PART_BUFFERS) idlePartBuffers.shift();
  idlePartBuffers.push(buffer);
}

/** Reads a whole (small: under one part) stream into `buffer`; returns the bytes read. */
async function readInto(stream: ReadableStream<Uint8Array>, buffer: Buffer): Promise<number> {
  let filled = 0;
  for await (const bytes of stream as unknown as AsyncIterable<Uint8Array>) {
    if (filled + bytes.byteLength > buffer.byteLength) throw new BackendUnavailableError("object store", new Error("a pending tus part is larger than a part"));
    buffer.set(bytes, filled);
    filled += bytes.byteLength;
  }
  return filled;
}

/** Assembles the stored parts into the upload's object in staging (idempotent: a second call finds it there). */
export async function assembleParts(s: Services, ticket: TusTicket): Promise<void> {
  const ref = { bucket: s.config.buckets.staging, key: ticket.key };
  if (!isMultipart(ticket)) {
    // The append file becomes the object: a rename, once (a second seal finds it there).
    await appendStoreOf(s)
      .seal({ bucket: ref.bucket, key: tusAppendKey(ticket.key) }, ref)
      .catch((err: unknown) => {
        throw toSluiceError("object store", err);
      });
    return;
  }
  let parts: PartInfo[];
  try {
    parts = await s.objects.multipart.listParts(ref, ticket.multipart.uploadId);
  } catch (err) {
    if (err instanceof MultipartNotFoundError && (await guard("object store", () => s.objects.head(ref)))) return;
    throw toSluiceError("object store", err);
  }
  const list = parts.filter((p) => p.partNumber <= ticket.multipart.partCount).sort((a, b) => a.partNumber - b.partNumber);
  try {
    await s.objects.multipart.complete(ref, ticket.multipart.uploadId, list.map(({ partNumber, etag }) => ({ partNumber, etag })));
  } catch (err) {
    if (err instanceof InvalidPartsError) throw toSluiceError("object store", err);
    if (!(err instanceof MultipartNotFoundError)) throw toSluiceError("object store", err);
  }
}
