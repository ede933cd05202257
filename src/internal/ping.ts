import { unref } from "./timers.js";

/** Anything that can be asked whether it answers: a store, a limiter. */
export interface Pingable {
  ping(): Promise<void>;
}

/**
 * Whether `backend` answers a ping within `timeoutMs`. A ping that fails or hangs is "no":
 * a backend that does not answer is down, whatever its driver does with the request later.
 * The timer is unref'd, so a hanging ping never keeps the process alive.
 */
export function answersWithin(backend: Pingable, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = unref(setTimeout(resolve, timeoutMs, false));
  });
  return Promise.race([backend.ping().then(() => true, () => false), timedOut]).finally(() => clearTimeout(timer));
}
