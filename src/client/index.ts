/**
 * The Sluice client, for browsers and Node alike. It imports no server code and no
 * Node-only module: only `fetch`, and `XMLHttpRequest` where a browser has it (for progress),
 * and `@noble/hashes` for a SHA-256 computed as the bytes stream (Web Crypto has none).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

/** Up to this size, `checksum: true` hashes a file before asking for its upload (the server's default multipart threshold). */
const SINGLE_UPLOAD_HASH_MAX = 64 * 1024 ** 2;

export type UploadState = "issued" | "uploading" | "uploaded" | "processing" | "archived" | "rejected" | "expired" | "failed" | "cancelled";

export const FINAL_STATES: readonly UploadState[] = ["archived", "rejected", "expired", "failed", "cancelled"];

export interface UploadRequest {
  filename: string;
  contentType: string;
  size: number;
  sha256?: string;
  metadata?: Record<string, string>;
  expiresIn?: number;
}

export interface MultipartPlan {
  partSize: number;
  partCount: number;
}

export interface IssuedUpload {
  id: string;
  state: UploadState;
  key: string;
  expiresAt: string;
  /**
   * Where the bytes go: Sluice's gateway, or straight to storage (a presigned PUT, or a POST
   * form whose `fields` come before the `file` field). Absent for a multipart upload.
   */
  upload?: { method: "PUT" | "POST"; url: string; headers: Record<string, string>; fields?: Record<string, string> };
  /** For a file over the server's multipart threshold, instead of `upload`. */
  multipart?: MultipartPlan;
}

export interface PartUrl {
  partNumber: number;
  method: "PUT";
  url: string;
  headers: Record<string, string>;
  expiresAt: string;
}

export interface StoredPart {
  partNumber: number;
  etag: string;
  size: number;
}

export interface UploadStatus {
  id: string;
  state: UploadState;
  key: string;
  reason?: string;
  fileId?: string;
  expiresAt: string;
  createdAt: string;
  /** A multipart upload's plan, while it takes parts. */
  multipart?: MultipartPlan;
}

export interface FileInfo {
  id: string;
  uploadId: string;
  filename: string;
  declaredContentType: string;
  contentType: string | null;
  size: number;
  sha256: string | null;
  state: UploadState;
  reason?: string;
  metadata: Record<string, string>;
  createdAt: string;
  archivedAt: string | null;
}

/** What a scoped key may do; every field narrows the service's own limits. */
export interface ApiKeyScope {
  /** Type patterns such as image/*. */
  allowedTypes?: string[];
  maxSize?: number;
  /** e.g. `tenant-a/`: every upload's object key starts with it, and the key sees only files under it. */
  keyPrefix?: string;
  /** e.g. `10/min`. */
  rateLimit?: string;
  bytesPerDay?: number;
  openTickets?: number;
}

export interface ApiKeyInfo {
  id: string;
  name: string;
  prefix: string;
  /** Null for a full key (which may manage keys). */
  scope: ApiKeyScope | null;
  createdAt: string;
  revokedAt: string | null;
}

export interface Progress {
  loaded: number;
  total: number;
}

export interface UploadOptions {
  metadata?: Record<string, string>;
  /** Bytes acknowledged so far (a multipart upload reports each part as it is stored; browsers report within a part too). */
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
  /** Parts sent at once (multipart). Default 4. */
  concurrency?: number;
  /** The part size to ask for (at least 5 MiB; the server may make it larger). Default: the server's. */
  partSize?: number;
  /** Tries per request after the first, with exponential backoff. Default 5. */
  retries?: number;
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

/**
 * What can be uploaded: a browser File/Blob (Node's `fs.openAsBlob` gives one for a file on
 * disk, read as it is sent), bytes with a name, or a stream of known length (read once, in order).
 */
export type UploadSource = Blob | { name: string; type: string; data: Uint8Array } | { name: string; type: string; size: number; stream: ReadableStream<Uint8Array> };

export interface UploadResult {
  id: string;
  key: string;
  multipart?: MultipartPlan;
  /** The upload's state right after `complete`: usually `uploaded` or `processing`. */
  status: UploadStatus;
}

export class SluiceApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "SluiceApiError";
    this.status = status;
    this.code = code;
  }
}

export interface SluiceClientOptions {
  /** The server, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
  /**
   * Sends one part and returns its ETag. The default uses XMLHttpRequest in browsers and fetch
   * elsewhere; a platform may send a part more cheaply (Node streams a file range from disk).
   */
  sendPart?: PartSender;
}

/** One part on its way: where to, its bytes, and which range of which source they are. */
export interface OutgoingPart {
  url: PartUrl;
  body: Blob | Uint8Array;
  /** The source given to `upload`, and the part's byte range [start, end) in it. */
  source: unknown;
  start: number;
  end: number;
  signal: AbortSignal | undefined;
  onSent: (bytes: number) => void;
}

export type PartSender = (part: OutgoingPart, fallback: (part: OutgoingPart) => Promise<string>) => Promise<string>;

export class SluiceClient {
  readonly #base: string;
  readonly #key: string;
  readonly #fetch: typeof fetch;
  readonly #sendPart: (part: OutgoingPart) => Promise<string>;

  constructor(options: SluiceClientOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#key = options.apiKey;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    const fallback = (part: OutgoingPart) => sendPart(part.url, part.body, this.#fetch, part.signal, part.onSent);
    const custom = options.sendPart;
    this.#sendPart = custom ? (part) => custom(part, fallback) : fallback;
  }

  requestUpload(request: UploadRequest, signal?: AbortSignal): Promise<IssuedUpload> {
    return this.#api("POST", "/v1/uploads", request, signal);
  }

  getUpload(id: string): Promise<UploadStatus> {
    return this.#api("GET", `/v1/uploads/${encodeURIComponent(id)}`);
  }

  /** Says the bytes are there. A multipart upload names its parts (or omits them: then every stored part is used). */
  completeUpload(id: string, body?: { parts?: { partNumber: number; etag: string }[]; sha256?: string }, signal?: AbortSignal): Promise<UploadStatus> {
    return this.#api("POST", `/v1/uploads/${encodeURIComponent(id)}/complete`, body, signal);
  }

  async partUrls(id: string, partNumbers: number[], signal?: AbortSignal): Promise<PartUrl[]> {
    return (await this.#api<{ parts: PartUrl[] }>("POST", `/v1/uploads/${encodeURIComponent(id)}/parts`, { partNumbers }, signal)).parts;
  }

  async listParts(id: string, signal?: AbortSignal): Promise<StoredPart[]> {
    return (await this.#api<{ parts: StoredPart[] }>("GET", `/v1/uploads/${encodeURIComponent(id)}/parts`, undefined, signal)).parts;
  }

  cancelUpload(id: string): Promise<UploadStatus> {
    return this.#api("DELETE", `/v1/uploads/${encodeURIComponent(id)}`);
  }

  listFiles(options: { limit?: number; cursor?: string; state?: string } = {}): Promise<{ items: FileInfo[]; nextCursor: string | null }> {
    const q = new URLSearchParams();
    if (options.limit) q.set("limit", String(options.limit));
    if (options.cursor) q.set("cursor", options.cursor);
    if (options.state) q.set("state", options.state);
    return this.#api("GET", `/v1/files${q.size > 0 ? `?${q.toString()}` : ""}`);
  }

  async deleteFile(id: string): Promise<void> {
    await this.#api("DELETE", `/v1/files/${encodeURIComponent(id)}`);
  }

  createKey(name: string, scope?: ApiKeyScope): Promise<ApiKeyInfo & { key: string }> {
    return this.#api("POST", "/v1/keys", { name, ...(scope && { scope }) });
  }

  async listKeys(): Promise<ApiKeyInfo[]> {
    return (await this.#api<{ items: ApiKeyInfo[] }>("GET", "/v1/keys")).items;
  }

  async revokeKey(id: string): Promise<void> {
    await this.#api("DELETE", `/v1/keys/${encodeURIComponent(id)}`);
  }

  getFile(id: string): Promise<FileInfo> {
    return this.#api("GET", `/v1/files/${encodeURIComponent(id)}`);
  }

  downloadUrl(fileId: string, options: { once?: boolean; expiresIn?: number } = {}): Promise<{ url: string; expiresAt: string }> {
    const q = new URLSearchParams();
    if (options.once) q.set("once", "true");
    if (options.expiresIn) q.set("expiresIn", String(options.expiresIn));
    const query = q.size > 0 ? `?${q.toString()}` : "";
    return this.#api("GET", `/v1/files/${encodeURIComponent(fileId)}/download${query}`);
  }

  /**
   * Uploads a file, start to finish: asks for an upload, sends the bytes (in one request, or in
   * parts when the server says the file is large), and tells Sluice they are there. Failed
   * requests are retried with backoff; expired part URLs are signed again. With `resume`, an
   * interrupted multipart upload carries on, sending only the parts storage lacks.
   * Processing goes on server-side: `waitForUpload` follows it.
   */
  async upload(source: UploadSource, options: UploadOptions = {}): Promise<UploadResult> {
    const file = describeSource(source, options);
    if (options.resume) return this.#resume(options.resume, file, options);
    // A single upload promises its hash before sending, so it is hashed first (streamed, not
    // held); a multipart upload is hashed as its parts are read, and the hash goes with complete.
    const promised = options.checksum && file.size <= SINGLE_UPLOAD_HASH_MAX ? await file.hash() : undefined;
    const issued = await this.requestUpload(
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
      const status = await this.#sendParts(issued.id, issued.multipart, file, new Map(), { ...options, checksum: options.checksum === true && !promised });
      return { id: issued.id, key: issued.key, multipart: issued.multipart, status };
    }
    if (!issued.upload) throw new SluiceApiError(0, "bad_response", "The server gave neither an upload URL nor a multipart plan.");
    const body = await file.whole();
    const instructions = issued.upload;
    await withRetries(options, () => sendBody(instructions, body, options, this.#fetch));
    // Idempotent: through the gateway the arrival is already recorded, and this only reads it.
    const status = await this.completeUpload(issued.id, undefined, options.signal);
    return { id: issued.id, key: issued.key, status };
  }

  async #resume(id: string, file: SourceFile, options: UploadOptions): Promise<UploadResult> {
    const current = await this.getUpload(id);
    options.onIssued?.({ id, key: current.key, ...(current.multipart && { multipart: current.multipart }) });
    if (current.fileId || FINAL_STATES.includes(current.state) || current.state === "uploaded" || current.state === "processing") {
      return { id, key: current.key, status: current }; // nothing left to send
    }
    const plan = current.multipart;
    if (!plan) throw new SluiceApiError(409, "not_resumable", `Upload ${id} is not a multipart upload; only those can be resumed.`);
    if (Math.ceil(file.size / plan.partSize) !== plan.partCount && !(file.size === 0 && plan.partCount === 1)) {
      throw new SluiceApiError(400, "wrong_file", `This file is ${file.size} bytes, which does not fit upload ${id}'s plan of ${plan.partCount} parts of ${plan.partSize} bytes.`);
    }
    const stored = await this.listParts(id, options.signal);
    const done = new Map<number, string>();
    for (const p of stored) if (p.size === partLengthOf(plan, file.size, p.partNumber)) done.set(p.partNumber, p.etag);
    const status = await this.#sendParts(id, plan, file, done, options);
    return { id, key: current.key, multipart: plan, status };
  }

  /** Sends every part not in `done` (part number → ETag), `concurrency` at a time, then completes the upload. */
  async #sendParts(id: string, plan: MultipartPlan, file: SourceFile, done: Map<number, string>, options: UploadOptions): Promise<UploadStatus> {
    const signal = options.signal;
    const etags = new Map(done);
    const hasher = options.checksum ? sha256.create() : undefined;
    let loaded = 0;
    for (const n of done.keys()) loaded += partLengthOf(plan, file.size, n);
    const inFlight = new Map<number, number>();
    const report = () => {
      let partial = 0;
      for (const v of inFlight.values()) partial += v;
      options.onProgress?.({ loaded: loaded + partial, total: file.size });
    };
    report();

    const urls = new PartUrlCache(this, id, plan.partCount, signal);
    // Parts are read in order, one after another (a stream can only be read so, and the hash
    // needs the bytes in order); each is sent as soon as it is read.
    let reading: Promise<unknown> = Promise.resolve();
    let next = 1;
    const take = (): { partNumber: number; start: number; end: number; body: Promise<Blob | Uint8Array> } | undefined => {
      while (next <= plan.partCount) {
        const partNumber = next++;
        const start = (partNumber - 1) * plan.partSize;
        const end = start + partLengthOf(plan, file.size, partNumber);
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
          return this.#sendPart({
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
    return withRetries(options, () => this.completeUpload(id, { parts, ...(sha && { sha256: sha }) }, signal));
  }

  /** Polls until the upload reaches a final state (or `until` says stop). */
  async waitForUpload(
    id: string,
    options: { signal?: AbortSignal; intervalMs?: number; onState?: (status: UploadStatus) => void } = {},
  ): Promise<UploadStatus> {
    let interval = options.intervalMs ?? 250;
    for (;;) {
      const status = await this.getUpload(id);
      options.onState?.(status);
      if (FINAL_STATES.includes(status.state)) return status;
      await delay(interval, options.signal);
      interval = Math.min(interval * 1.5, 2000);
    }
  }

  async #api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await networkErrors(
      this.#fetch(`${this.#base}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#key}`, ...(body !== undefined && { "content-type": "application/json" }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        ...(signal && { signal }),
      }),
      signal,
    );
    return readJson<T>(response);
  }
}

async function readJson<T>(response: Response): Promise<T> {
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new SluiceApiError(response.status, error?.code ?? "http_error", error?.message ?? `HTTP ${response.status}`);
  }
  return parsed as T;
}

/** Sends the bytes. In a browser XMLHttpRequest reports upload progress; elsewhere fetch does the work. */
async function sendBody(instructions: NonNullable<IssuedUpload["upload"]>, file: Blob, options: UploadOptions, fetchFn: typeof fetch): Promise<void> {
  const body = instructions.method === "POST" ? formOf(instructions.fields ?? {}, file) : file;
  if (typeof XMLHttpRequest !== "undefined") {
    await new Promise<void>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(instructions.method, instructions.url);
      for (const [name, value] of Object.entries(instructions.headers)) xhr.setRequestHeader(name, value);
      // For a form, the progress counts the form's own bytes too; it is reported against the file's size.
      xhr.upload.onprogress = (e) => options.onProgress?.({ loaded: Math.min(e.loaded, file.size), total: file.size });
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          options.onProgress?.({ loaded: file.size, total: file.size });
          resolve();
        } else {
          const parsed = safeParse(xhr.responseText);
          reject(new SluiceApiError(xhr.status, parsed?.error?.code ?? "upload_failed", parsed?.error?.message ?? `Upload failed with HTTP ${xhr.status}`));
        }
      };
      xhr.onerror = () => reject(new SluiceApiError(0, "network_error", "The upload was interrupted."));
      xhr.onabort = () => reject(new SluiceApiError(0, "aborted", "The upload was aborted."));
      options.signal?.addEventListener("abort", () => xhr.abort(), { once: true });
      xhr.send(body);
    });
    return;
  }
  const response = await networkErrors(
    fetchFn(instructions.url, {
      method: instructions.method,
      headers: instructions.headers,
      body,
      ...(options.signal && { signal: options.signal }),
    }),
    options.signal,
  );
  await readJson<unknown>(response);
  options.onProgress?.({ loaded: file.size, total: file.size });
}

/** A POST policy upload: the signed fields first, the file last (storage reads the policy before the bytes). */
function formOf(fields: Record<string, string>, file: Blob): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", file);
  return form;
}

function safeParse(text: string): { error?: { code?: string; message?: string } } | undefined {
  try {
    return JSON.parse(text) as { error?: { code?: string; message?: string } };
  } catch {
    return undefined;
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new SluiceApiError(0, "aborted", "Aborted."));
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new SluiceApiError(0, "aborted", "Aborted."));
    }, { once: true });
  });
}

/** A source, seen the same way whatever it is. */
interface SourceFile {
  /** What was given to `upload`. */
  origin: unknown;
  name: string;
  type: string;
  size: number;
  /** A stream: parts must be read in order, once. */
  sequential: boolean;
  /** The whole file, as a Blob (a single upload). */
  whole(): Promise<Blob>;
  /** Bytes [start, end). A Blob slice is read lazily, while it is sent, unless `materialize`. */
  part(start: number, end: number, materialize: boolean): Promise<Blob | Uint8Array>;
  /** The SHA-256 of the whole file, read as a stream. */
  hash(): Promise<string>;
}

function describeSource(source: UploadSource, options: UploadOptions): SourceFile {
  const type = (options.contentType ?? (source.type || "application/octet-stream")).toLowerCase();
  if (source instanceof Blob) {
    const name = options.filename ?? (source as Partial<File>).name ?? "blob";
    return {
      origin: source,
      name,
      type,
      size: source.size,
      sequential: false,
      whole: () => Promise.resolve(source.type === type ? source : source.slice(0, source.size, type)),
      part: async (start, end, materialize) => {
        const slice = source.slice(start, end);
        return materialize ? new Uint8Array(await slice.arrayBuffer()) : slice;
      },
      hash: () => hashStream(source.stream()),
    };
  }
  if ("data" in source) {
    const data = source.data;
    return {
      origin: source,
      name: options.filename ?? source.name,
      type,
      size: data.byteLength,
      sequential: false,
      whole: () => Promise.resolve(new Blob([data as BlobPart], { type })),
      part: (start, end) => Promise.resolve(data.subarray(start, end)),
      hash: () => Promise.resolve(bytesToHex(sha256(data))),
    };
  }
  // A stream: read once, in order, a part at a time.
  const reader = new ChunkReader(source.stream);
  return {
    origin: source,
    name: options.filename ?? source.name,
    type,
    size: source.size,
    sequential: true,
    whole: async () => new Blob([(await reader.read(source.size)) as BlobPart], { type }),
    part: (start, end) => reader.read(end - start),
    // A stream is read once: it cannot be hashed first and then sent.
    hash: () => Promise.reject(new SluiceApiError(0, "stream_checksum", "A stream cannot be hashed before a single upload; pass a Blob (fs.openAsBlob) for checksum: true.")),
  };
}

/** Reads exactly n bytes at a time from a stream. */
class ChunkReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #pending: Uint8Array = new Uint8Array(0);

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  async read(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#pending.byteLength === 0) {
        const { done, value } = await this.#reader.read();
        if (done) throw new SluiceApiError(0, "short_stream", `The stream ended ${n - filled} bytes before its declared size.`);
        this.#pending = value;
      }
      const take = Math.min(n - filled, this.#pending.byteLength);
      out.set(this.#pending.subarray(0, take), filled);
      this.#pending = this.#pending.subarray(take);
      filled += take;
    }
    return out;
  }
}

async function hashStream(stream: ReadableStream<Uint8Array>): Promise<string> {
  const hasher = sha256.create();
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hasher.update(value);
  }
  return bytesToHex(hasher.digest());
}

function partLengthOf(plan: MultipartPlan, size: number, partNumber: number): number {
  return partNumber < plan.partCount ? plan.partSize : size - plan.partSize * (plan.partCount - 1);
}

/** Signed part URLs, asked for in batches, and asked for again when they are about to expire or were refused. */
class PartUrlCache {
  readonly #client: SluiceClient;
  readonly #id: string;
  readonly #partCount: number;
  readonly #signal: AbortSignal | undefined;
  readonly #urls = new Map<number, Promise<PartUrl>>();

  constructor(client: SluiceClient, id: string, partCount: number, signal: AbortSignal | undefined) {
    this.#client = client;
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
    const request = this.#client.partUrls(this.#id, batch, this.#signal);
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

/** PUTs one part and returns the ETag storage gave it. Progress within the part is reported where the platform can (XMLHttpRequest). */
async function sendPart(url: PartUrl, body: Blob | Uint8Array, fetchFn: typeof fetch, signal: AbortSignal | undefined, onSent: (bytes: number) => void): Promise<string> {
  if (typeof XMLHttpRequest !== "undefined") {
    return new Promise<string>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url.url);
      for (const [name, value] of Object.entries(url.headers)) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (e) => onSent(e.loaded);
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          const etag = xhr.getResponseHeader("etag");
          if (etag) resolve(etag);
          else reject(new SluiceApiError(0, "no_etag", "Storage did not expose the part's ETag: its CORS rules must expose the ETag header (sluice setup does)."));
        } else reject(new SluiceApiError(xhr.status, "part_failed", `Part ${url.partNumber} failed with HTTP ${xhr.status}.`));
      };
      xhr.onerror = () => reject(new SluiceApiError(0, "network_error", `Part ${url.partNumber} was interrupted.`));
      xhr.onabort = () => reject(new SluiceApiError(0, "aborted", "The upload was aborted."));
      signal?.addEventListener("abort", () => xhr.abort(), { once: true });
      xhr.send(body instanceof Blob ? body : new Blob([body as BlobPart]));
    });
  }
  let response: Response;
  try {
    response = await fetchFn(url.url, { method: "PUT", headers: url.headers, body: body as BodyInit, ...(signal && { signal }) });
  } catch (err) {
    if (signal?.aborted) throw new SluiceApiError(0, "aborted", "The upload was aborted.");
    throw new SluiceApiError(0, "network_error", `Part ${url.partNumber} was interrupted: ${err instanceof Error ? err.message : String(err)}`);
  }
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) throw new SluiceApiError(response.status, "part_failed", `Part ${url.partNumber} failed with HTTP ${response.status}.`);
  const etag = response.headers.get("etag");
  if (!etag) throw new SluiceApiError(0, "no_etag", "Storage did not return the part's ETag.");
  return etag;
}

/**
 * Runs `attempt` until it succeeds, retrying network failures, 5xx, 429 and refused or expired
 * URLs (403/410 from storage: the next attempt signs again) with exponential backoff and jitter.
 */
async function withRetries<T>(options: UploadOptions, attempt: (n: number) => Promise<T>): Promise<T> {
  const retries = options.retries ?? 5;
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      const status = err instanceof SluiceApiError ? err.status : 0;
      const code = err instanceof SluiceApiError ? err.code : "";
      const retryable = code === "network_error" || status >= 500 || status === 429 || (code === "part_failed" && (status === 403 || status === 410));
      if (!retryable || n >= retries || options.signal?.aborted) throw err;
      await delay(Math.min(250 * 2 ** n, 8000) * (0.5 + Math.random() / 2), options.signal);
    }
  }
}

/** A fetch that failed to get any answer, as an error the retry loop knows. */
async function networkErrors(request: Promise<Response>, signal: AbortSignal | undefined): Promise<Response> {
  try {
    return await request;
  } catch (err) {
    if (signal?.aborted) throw new SluiceApiError(0, "aborted", "Aborted.");
    throw new SluiceApiError(0, "network_error", `The request failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
