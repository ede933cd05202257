import { BackendUnavailableError, type BackendName } from "../errors.js";
import { answersWithin, type Pingable } from "../internal/ping.js";
import { unref } from "../internal/timers.js";

/**
 * Keeps a current view of which backends answer, by pinging each every second in the
 * background. The hot paths consult it without a round trip, so that a request that would
 * need a backend later (issuing needs the database once the bytes arrive) is refused with
 * 503 now, and service resumes by itself once the backend answers again.
 */
export class BackendHealth {
  readonly #backends: Map<BackendName, Pingable>;
  readonly #down = new Set<BackendName>();
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(backends: Partial<Record<BackendName, Pingable>>, options: { intervalMs?: number; timeoutMs?: number } = {}) {
    this.#backends = new Map(Object.entries(backends) as [BackendName, Pingable][]);
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.check(), this.#intervalMs);
    unref(this.#timer);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** Pings every backend once (never two rounds at once) and records which answered. */
  check(): Promise<void> {
    this.#running ??= Promise.all(
      [...this.#backends].map(async ([name, backend]) => {
        const up = await answersWithin(backend, this.#timeoutMs);
        if (up) this.#down.delete(name);
        else this.#down.add(name);
      }),
    ).then(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Throws 503 if any of these backends did not answer its last ping. */
  require(...names: BackendName[]): void {
    if (this.#down.size === 0) return;
    for (const name of names) if (this.#down.has(name)) throw new BackendUnavailableError(name, new Error(`${name} did not answer its last health check`));
  }
}
