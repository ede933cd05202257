/**
 * One upload, start to finish: ask for it, send the bytes (in one request, or in parts when
 * the server plans a multipart upload), and say they are there.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { SluiceApi } from "./api.js";
import { SluiceApiError } from "./errors.js";
import type { SourceFile } from "./sources.js";
import { FINAL_STATES, type MultipartPlan, type PartUrl, type UploadStatus } from "./types.js";
import { sendBody, withRetries, type OutgoingPart, type TransportOptions } from "./transport.js";

export interface UploadOptions extends TransportOptions {
  metadata?: Record<string, string>;
  /** Parts sent at once (multipart). Default 4. */
  concurrency?: number;
  /** The part size to ask for (at least 5 MiB; the server may make it larger). Default: the server's. */
  partSize?: number;
  /**
   * Compute the file's SHA-256 while sending, and have the server verify it. A single upload
   * promises it up front (storage checks it where it can), so its bytes are read twice.
   */
  checksum?: boolean;
  /** Carry on with this multipart upload: only the parts storage does not hold yet are sent. */
  resume?: string;
  /** Called once the upload exists, before any bytes are sent (its id is what `resume` takes). */
  onIssued?: (upload: { id: string; key: string; multipart?: MultipartPlan }) => void;
  /** Overrides the name or type taken from the source. */
  filename?: string;
  contentType?: string;
}

export interface UploadResult {
  id: string;
  key: string;
  multipart?: MultipartPlan;
  /** The upload's state right after `complete`: usually `uploaded` or `processing`. */
  status: UploadStatus;
}

/** What an upload goes through: the API, the fetch for a single upload's bytes, and the part sender. */
export interface UploadChannel {
  api: SluiceApi;
  fetch: typeof fetch;
  sendPart: (part: OutgoingPart) => Promise<string>;
}

/**
 * The length of one part under the API's multipart plan: every part is `partSize` bytes but
 * the last, which holds the rest (test/client-package.test.ts holds it to the server's rule).
 */
export function partLength(plan: MultipartPlan, size: number, partNumber: number): number {
  return partNumber < plan.partCount ? plan.partSize : size - plan.partSize * (plan.partCount - 1);
}

export async function uploadFile(channel: UploadChannel, file: SourceFile, options: UploadOptions): Promise<UploadResult> {
  const { api } = channel;
  if (options.resume) return resumeUpload(channel, options.resume, file, options);
  // A single upload promises its hash before sending, so it is hashed first (streamed, not
  // held); a multipart upload is hashed as its parts are read, and the hash goes with complete.
  // Which one the server will plan, its published threshold says.
  const single = options.checksum === true && file.size <= (await api.limits(options.signal)).multipart.threshold;
  const promised = single ? await file.hash() : undefined;
  const issued = await api.requestUpload(
    {
      filename: file.name,
      contentType: file.type,
      size: file.size,
      ...(options.metadata && { metadata: options.metadata }),
      ...(options.partSize && { partSize: options.partSize }),
      ...(promised && { sha256: promised }),
    },
    options.signal,
  );
  options.onIssued?.({ id: issued.id, key: issued.key, ...(issued.multipart && { multipart: issued.multipart }) });
  if (issued.multipart) {
    const status = await sendParts(channel, issued.id, issued.multipart, file, new Map(), { ...options, checksum: options.checksum === true && !promised });
    return { id: issued.id, key: issued.key, multipart: issued.multipart, status };
  }
  if (!issued.upload) throw new SluiceApiError(0, "bad_response", "The server gave neither an upload URL nor a multipart plan.");
  const body = await file.whole();
  const instructions = issued.upload;
  await withRetries(options, () => sendBody(instructions, body, options, channel.fetch));
  // Idempotent: through the gateway the arrival is already recorded, and this only reads it.
  const status = await api.completeUpload(issued.id, undefined, options.signal);
  return { id: issued.id, key: issued.key, status };
}

async function resumeUpload(channel: UploadChannel, id: string, file: SourceFile, options: UploadOptions): Promise<UploadResult> {
  const current = await channel.api.getUpload(id);
  options.onIssued?.({ id, key: current.key, ...(current.multipart && { multipart: current.multipart }) });
  if (current.fileId || FINAL_STATES.includes(current.state) || current.state === "uploaded" || current.state === "processing") {
    return { id, key: current.key, status: current }; // nothing left to send
  }
  const plan = current.multipart;
  if (!plan) throw new SluiceApiError(409, "not_resumable", `Upload ${id} is not a multipart upload; only those can be resumed.`);
  if (Math.ceil(file.size / plan.partSize) !== plan.partCount && !(file.size === 0 && plan.partCount === 1)) {
    throw new SluiceApiError(400, "wrong_file", `This file is ${file.size} bytes, which does not fit upload ${id}'s plan of ${plan.partCount} parts of ${plan.partSize} bytes.`);
  }
  const stored = await channel.api.listParts(id, options.signal);
  const done = new Map<number, string>();
  for (const p of stored) if (p.size === partLength(plan, file.size, p.partNumber)) done.set(p.partNumber, p.etag);
  const status = await sendParts(channel, id, plan, file, done, options);
  return { id, key: current.key, multipart: plan, status };
}

/** Sends every part not in `done` (part number → ETag), `concurrency` at a time, then completes the upload. */
async function sendParts(channel: UploadChannel, id: string, plan: MultipartPlan, file: SourceFile, done: Map<number, string>, options: UploadOptions): Promise<UploadStatus> {
  const signal = options.signal;
  const etags = new Map(done);
  const hasher = options.checksum ? sha256.create() : undefined;
  let loaded = 0;
  for (const n of done.keys()) loaded += partLength(plan, file.size, n);
  const inFlight = new Map<number, number>();
  const report = () => {
    let partial = 0;
    for (const v of inFlight.values()) partial += v;
    options.onProgress?.({ loaded: loaded + partial, total: file.size });
  };
  report();

  const urls = new PartUrlCache(channel.api, id, plan.partCount, signal);
  // Parts are read in order, one after another (a stream can only be read so, and the hash
  // needs the bytes in order); each is sent as soon as it is read.
  let reading: Promise<unknown> = Promise.resolve();
  let next = 1;
  const take = (): { partNumber: number; start: number; end: number; body: Promise<Blob | Uint8Array> } | undefined => {
    while (next <= plan.partCount) {
      const partNumber = next++;
      const start = (partNumber - 1) * plan.partSize;
      const end = start + partLength(plan, file.size, partNumber);
      const read = reading.then(() => file.part(start, end, hasher !== undefined || file.sequential));
      const hashed = read.then((bytes) => {
        if (hasher) hasher.update(bytes instanceof Uint8Array ? bytes : new Uint8Array(0));
        return bytes;
      });
      reading = hashed;
      if (etags.has(partNumber)) continue; // stored already: read (for the hash or the stream) but not sent
      return { partNumber, start, end, body: hashed };
    }
    return undefined;
  };
  const worker = async () => {
    for (let job = take(); job; job = take()) {
      const { partNumber, start, end } = job;
      const body = await job.body;
      const etag = await withRetries(options, async (attempt) => {
        const url = await urls.get(partNumber, attempt > 0);
        return channel.sendPart({
          url,
          body,
          source: file.origin,
          start,
          end,
          signal,
          onSent: (sent) => {
            inFlight.set(partNumber, sent);
            report();
          },
        });
      });
      inFlight.delete(partNumber);
      etags.set(partNumber, etag);
      loaded += body instanceof Blob ? body.size : body.byteLength;
      report();
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, plan.partCount)) }, worker);
  await Promise.all(workers);
  await reading; // the last stored parts are hashed too
  const parts = [...etags.entries()].sort((a, b) => a[0] - b[0]).map(([partNumber, etag]) => ({ partNumber, etag }));
  const sha = hasher ? bytesToHex(hasher.digest()) : undefined;
  return withRetries(options, () => channel.api.completeUpload(id, { parts, ...(sha && { sha256: sha }) }, signal));
}

/** Signed part URLs, asked for in batches, and asked for again when they are about to expire or were refused. */
class PartUrlCache {
  readonly #api: SluiceApi;
  readonly #id: string;
  readonly #partCount: number;
  readonly #signal: AbortSignal | undefined;
  readonly #urls = new Map<number, Promise<PartUrl>>();

  constructor(api: SluiceApi, id: string, partCount: number, signal: AbortSignal | undefined) {
    this.#api = api;
    this.#id = id;
    this.#partCount = partCount;
    this.#signal = signal;
  }

  async get(partNumber: number, fresh: boolean): Promise<PartUrl> {
    const cached = this.#urls.get(partNumber);
    if (cached && !fresh) {
      const url = await cached.catch(() => undefined);
      if (url && Date.parse(url.expiresAt) - Date.now() > 10_000) return url;
    }
    // This part and the next ones that have no URL yet, in one request.
    const batch = [partNumber];
    for (let n = partNumber + 1; n <= this.#partCount && batch.length < 64; n++) if (!this.#urls.has(n)) batch.push(n);
    const request = this.#api.partUrls(this.#id, batch, this.#signal);
    for (const n of batch) {
      this.#urls.set(
        n,
        request.then((parts) => {
          const found = parts.find((p) => p.partNumber === n);
          if (!found) throw new SluiceApiError(0, "bad_response", `The server sent no URL for part ${n}.`);
          return found;
        }),
      );
    }
    return this.#urls.get(partNumber)!;
  }
}
