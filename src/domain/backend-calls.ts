import { BackendUnavailableError, SluiceError, badRequest } from "../errors.js";
import { UnsafeObjectKeyError } from "../storage/object-store.js";

/** Runs a backend call, turning a failure to reach the backend into 503 (fail closed). */
export async function guard<T>(backend: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    // A key no store can hold is bad input; the store itself is fine.
    if (err instanceof UnsafeObjectKeyError) throw badRequest("invalid_key", err.message);
    throw new BackendUnavailableError(backend, err);
  }
}

/** The Sluice error a failure carries, however deep: stream machinery wraps what a body check threw. */
export function findSluiceError(err: unknown): SluiceError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof SluiceError) return e;
  }
  return undefined;
}
