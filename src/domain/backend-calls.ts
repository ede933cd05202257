import { SluiceError, toSluiceError, type BackendName } from "../errors.js";

/** Runs a backend call, turning a failure to reach the backend into 503 (fail closed). */
export async function guard<T>(backend: BackendName, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toSluiceError(backend, err);
  }
}

/** The Sluice error a failure carries, however deep: stream machinery wraps what a body check threw. */
export function findSluiceError(err: unknown): SluiceError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof SluiceError) return e;
  }
  return undefined;
}
