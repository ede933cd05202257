/**
 * Requests on the wire: JSON calls to Sluice, the bytes to storage or the gateway (through
 * XMLHttpRequest where a browser has it, for progress; fetch elsewhere), and retries.
 */
import { SluiceApiError } from "./errors.js";
import type { PartUrl, UploadInstructions } from "./types.js";

export interface Progress {
  loaded: number;
  total: number;
}

/** When to give up and how to report: the part of the upload options the transport reads. */
export interface TransportOptions {
  /** Bytes acknowledged so far. */
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
  /** Tries per request after the first, with exponential backoff. Default 5. */
  retries?: number;
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

/** A JSON answer from Sluice, or its `{error: {code, message}}` as a SluiceApiError. */
export async function readJson<T>(response: Response): Promise<T> {
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
export async function sendBody(instructions: UploadInstructions, file: Blob, options: TransportOptions, fetchFn: typeof fetch): Promise<void> {
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
    instructions.url,
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

/** PUTs one part and returns the ETag storage gave it. Progress within the part is reported where the platform can (XMLHttpRequest). */
export async function sendPart(url: PartUrl, body: Blob | Uint8Array, fetchFn: typeof fetch, signal: AbortSignal | undefined, onSent: (bytes: number) => void): Promise<string> {
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
    throw new SluiceApiError(0, "network_error", `Part ${url.partNumber} was interrupted (${withoutQuery(url.url)}): ${failureText(err)}`);
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
export async function withRetries<T>(options: TransportOptions, attempt: (n: number) => Promise<T>): Promise<T> {
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

/**
 * A fetch that failed to get any answer, as an error the retry loop knows, naming where it
 * went: "fetch failed" alone does not tell a user which server (Sluice or storage) is down.
 */
export async function networkErrors(request: Promise<Response>, signal: AbortSignal | undefined, url: string): Promise<Response> {
  try {
    return await request;
  } catch (err) {
    if (signal?.aborted) throw new SluiceApiError(0, "aborted", "Aborted.");
    throw new SluiceApiError(0, "network_error", `Could not reach ${withoutQuery(url)}: ${failureText(err)}`);
  }
}

/** A URL without its query: a signed URL's signature is a credential, and has no place in a message. */
export function withoutQuery(url: string): string {
  return url.replace(/[?#].*$/s, "");
}

/** Node's fetch says "fetch failed" and keeps the reason (ECONNREFUSED, ENOTFOUND, …) in `cause`. */
function failureText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error && cause.message ? cause.message : err.message;
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new SluiceApiError(0, "aborted", "Aborted."));
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new SluiceApiError(0, "aborted", "Aborted."));
    }, { once: true });
  });
}
