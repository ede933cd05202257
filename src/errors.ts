/**
 * The small set of errors that cross layers. Each carries the HTTP status and the
 * machine-readable code, both checked against the registry in `errors/codes.ts`; the HTTP
 * layer maps them to `{error: {code, message}}` in one place.
 */
import { UnsafeObjectKeyError } from "./storage/object-store.js";
import { ERROR_CODES, type CodeWithStatus, type ErrorCode, type ErrorStatus, type StatusOf } from "./errors/codes.js";

export { ERROR_CODES, errorCodes, statusOf, type CodeWithStatus, type ErrorCode, type ErrorStatus } from "./errors/codes.js";

/**
 * A status and a code the registry pairs: `new SluiceError(429, "quota_exceeded", …)` compiles,
 * `new SluiceError(400, "quota_exceeded", …)` and an unregistered code do not.
 */
type SluiceErrorArgs = {
  [C in ErrorCode]: [status: StatusOf<C>, code: C, message: string, headers?: Record<string, string>];
}[ErrorCode];

export class SluiceError extends Error {
  readonly status: ErrorStatus;
  readonly code: ErrorCode;
  /** Extra response headers, e.g. `Retry-After` on 429. */
  readonly headers: Record<string, string>;

  constructor(...[status, code, message, headers = {}]: SluiceErrorArgs) {
    super(message);
    this.name = "SluiceError";
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** The error for a code, with the status the registry gives it. */
export function sluiceError(code: ErrorCode, message: string, headers: Record<string, string> = {}): SluiceError {
  // The registry pairs every code with its own status; the tuple union cannot see that through a generic code.
  return new SluiceError(...([ERROR_CODES[code].status, code, message, headers] as SluiceErrorArgs));
}

export const badRequest = (code: CodeWithStatus<400>, message: string) => new SluiceError(400, code, message);
export const unauthorized = (message = "Missing or invalid API key.") => sluiceError("unauthorized", message);
export const forbidden = (code: CodeWithStatus<403>, message: string) => new SluiceError(403, code, message);
export const notFound = (what: string) => sluiceError("not_found", `${what} was not found.`);
export const conflict = (code: CodeWithStatus<409>, message: string) => new SluiceError(409, code, message);
export const gone = (code: CodeWithStatus<410>, message: string) => new SluiceError(410, code, message);
export const tooLarge = (message: string) => sluiceError("too_large", message);
export const unsupportedType = (message: string) => sluiceError("type_not_allowed", message);
export const unprocessable = (code: CodeWithStatus<422>, message: string) => new SluiceError(422, code, message);

/** Every backend Sluice fails closed on, by the name its errors and `/readyz` give it. */
export type BackendName = "object store" | "ticket store" | "metadata store" | "rate limiter" | "STS";

/** A backend did not answer: fail closed rather than issue what cannot be enforced. */
export class BackendUnavailableError extends SluiceError {
  readonly backend: BackendName;
  constructor(backend: BackendName, cause?: unknown) {
    super(503, "backend_unavailable", `The ${backend} is unavailable.`);
    this.backend = backend;
    if (cause !== undefined) this.cause = cause;
  }
}

/**
 * The one mapping from what a backend call threw to what the caller is answered: a Sluice
 * error passes as it is; a key no store can hold is the request's fault (400), the store
 * itself being fine; anything else means the backend did not answer (503, fail closed).
 */
export function toSluiceError(backend: BackendName, err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  if (err instanceof UnsafeObjectKeyError) return badRequest("invalid_key", err.message);
  return new BackendUnavailableError(backend, err);
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
