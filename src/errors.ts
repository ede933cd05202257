/**
 * The small set of errors that cross layers. Each carries the HTTP status and the
 * machine-readable code; the HTTP layer maps them to `{error: {code, message}}` in one place.
 */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 408 | 409 | 410 | 411 | 412 | 413 | 415 | 422 | 429 | 500 | 502 | 503 | 507;

export class SluiceError extends Error {
  readonly status: ErrorStatus;
  readonly code: string;
  /** Extra response headers, e.g. `Retry-After` on 429. */
  readonly headers: Record<string, string>;

  constructor(status: ErrorStatus, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = "SluiceError";
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export const badRequest = (code: string, message: string) => new SluiceError(400, code, message);
export const unauthorized = (message = "Missing or invalid API key.") =>
  new SluiceError(401, "unauthorized", message);
export const forbidden = (code: string, message: string) => new SluiceError(403, code, message);
export const notFound = (what: string) => new SluiceError(404, "not_found", `${what} was not found.`);
export const conflict = (code: string, message: string) => new SluiceError(409, code, message);
export const gone = (code: string, message: string) => new SluiceError(410, code, message);
export const tooLarge = (message: string) => new SluiceError(413, "too_large", message);
export const unsupportedType = (message: string) => new SluiceError(415, "type_not_allowed", message);
export const unprocessable = (code: string, message: string) => new SluiceError(422, code, message);

/** A backend did not answer: fail closed rather than issue what cannot be enforced. */
export class BackendUnavailableError extends SluiceError {
  readonly backend: string;
  constructor(backend: string, cause?: unknown) {
    super(503, "backend_unavailable", `The ${backend} is unavailable.`);
    this.backend = backend;
    if (cause !== undefined) this.cause = cause;
  }
}

/**
 * The store has no room for the bytes (ENOSPC, or a quota): 507, so that the client knows
 * to retry later and nothing of the upload was kept. `/readyz` reports the same store as down
 * while its free space is under the configured minimum.
 */
export class StorageFullError extends SluiceError {
  constructor(cause?: unknown) {
    super(507, "storage_full", "The object store is out of space; nothing was stored. Try again later.");
    if (cause !== undefined) this.cause = cause;
  }
}
