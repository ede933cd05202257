/**
 * Lets the process exit with this timer pending (Node's `unref`). Workers' timers have no
 * such method (an isolate's life is not the process's), and there it does nothing.
 */
export function unref<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
