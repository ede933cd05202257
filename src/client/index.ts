/**
 * The Sluice client, for browsers and Node alike. It imports no server code and no
 * Node-only module: only `fetch`, and `XMLHttpRequest` where a browser has it (for progress).
 */

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

export interface IssuedUpload {
  id: string;
  state: UploadState;
  key: string;
  expiresAt: string;
  /**
   * Where the bytes go: Sluice's gateway, or straight to storage (a presigned PUT, or a POST
   * form whose `fields` come before the `file` field).
   */
  upload: { method: "PUT" | "POST"; url: string; headers: Record<string, string>; fields?: Record<string, string> };
}

export interface UploadStatus {
  id: string;
  state: UploadState;
  key: string;
  reason?: string;
  fileId?: string;
  expiresAt: string;
  createdAt: string;
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

export interface Progress {
  loaded: number;
  total: number;
}

export interface UploadOptions {
  metadata?: Record<string, string>;
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

/** What can be uploaded: a browser File/Blob, or bytes with a name. */
export type UploadSource = Blob | { name: string; type: string; data: Uint8Array };

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
}

export class SluiceClient {
  readonly #base: string;
  readonly #key: string;
  readonly #fetch: typeof fetch;

  constructor(options: SluiceClientOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#key = options.apiKey;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  requestUpload(request: UploadRequest, signal?: AbortSignal): Promise<IssuedUpload> {
    return this.#api("POST", "/v1/uploads", request, signal);
  }

  getUpload(id: string): Promise<UploadStatus> {
    return this.#api("GET", `/v1/uploads/${encodeURIComponent(id)}`);
  }

  completeUpload(id: string): Promise<UploadStatus> {
    return this.#api("POST", `/v1/uploads/${encodeURIComponent(id)}/complete`);
  }

  cancelUpload(id: string): Promise<UploadStatus> {
    return this.#api("DELETE", `/v1/uploads/${encodeURIComponent(id)}`);
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
   * Asks for a URL, sends the bytes to it, and tells Sluice they are there (so that a direct
   * upload to storage is processed at once, without waiting for a storage event). Returns
   * the issued upload; processing goes on server-side.
   */
  async upload(source: UploadSource, options: UploadOptions = {}): Promise<IssuedUpload> {
    const name = source instanceof Blob ? ((source as Partial<File>).name ?? "blob") : source.name;
    const type = (source.type || "application/octet-stream").toLowerCase();
    const size = source instanceof Blob ? source.size : source.data.byteLength;
    const issued = await this.requestUpload(
      { filename: name, contentType: type, size, ...(options.metadata && { metadata: options.metadata }) },
      options.signal,
    );
    const body = source instanceof Blob ? source : new Blob([source.data as BlobPart], { type });
    await sendBody(issued.upload, body, options, this.#fetch);
    // Idempotent: through the gateway the arrival is already recorded, and this only reads it.
    await this.completeUpload(issued.id);
    return issued;
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
    const response = await this.#fetch(`${this.#base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.#key}`, ...(body !== undefined && { "content-type": "application/json" }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      ...(signal && { signal }),
    });
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
async function sendBody(instructions: IssuedUpload["upload"], file: Blob, options: UploadOptions, fetchFn: typeof fetch): Promise<void> {
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
  const response = await fetchFn(instructions.url, {
    method: instructions.method,
    headers: instructions.headers,
    body,
    ...(options.signal && { signal: options.signal }),
  });
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
