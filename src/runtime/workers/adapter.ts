import type { Context } from "hono";
import { getConnInfo } from "hono/cloudflare-workers";
import { ConfigError, type Config } from "../../config.js";
import type { Logger } from "../../internal/logger.js";
import { budgetOf, webRequestBody, type RuntimeAdapter, type RuntimeCapabilities } from "../adapter.js";
import { InvocationArrivalQueue } from "./arrivals.js";

/**
 * An isolate that serves many requests but owns no timer, disk or socket outside them:
 * processing rides on the request that announced it, and the sweep on a Cron Trigger.
 */
export const WORKERS_CAPABILITIES: RuntimeCapabilities = {
  backgroundTimers: false,
  reconcileLoop: false,
  delayedRetries: false,
  peerAddress: true,
  filesystemStorage: false,
  processorModules: false,
  stsCredentials: false,
  redisRateLimits: false,
  configuredStores: false,
  streamingResponses: true,
};

/** The client's address: Cloudflare sets `CF-Connecting-IP` itself, and a client cannot forge it (Hono's getConnInfo for Workers reads it). */
export const workersPeerAddress = (c: Context): string | undefined => getConnInfo(c).remote.address;

export interface WorkersRuntime extends RuntimeAdapter {
  /** Typed as the Workers queue: the entry runs each invocation through `arrivals.track`. */
  readonly arrivals: InvocationArrivalQueue;
}

/**
 * A processing run's default budget on Workers: it rides on a request's `waitUntil`, which
 * lasts about 30 s after the response (a Cron Trigger's invocation may last longer, but runs
 * the same code). A copy that needs more goes on at the next Cron Trigger's sweep.
 */
const WORKERS_PROCESSING_BUDGET_MS = 20_000;

export function workersRuntime(options: { logger: Logger }): WorkersRuntime {
  return {
    name: "workers",
    capabilities: WORKERS_CAPABILITIES,
    requestBody: webRequestBody,
    peerAddress: workersPeerAddress,
    arrivals: new InvocationArrivalQueue({ logger: options.logger }),
    // No Queue binding: the released job is due at once, and the Cron Trigger's sweep (every
    // five minutes, wrangler.json) takes it; handing it to this invocation again would overrun it.
    processingTime: (config) => ({
      budget: budgetOf(config.processingBudgetMs ?? WORKERS_PROCESSING_BUDGET_MS),
      handOn: () => Promise.resolve(),
    }),
  };
}

/** Configuration a Worker can run: objects in S3-compatible storage. */
export type WorkerConfig = Config & { storage: Extract<Config["storage"], { kind: "s3" }> };

/**
 * Refuses, by name, a setting the Worker cannot honour (see WORKERS_CAPABILITIES), rather
 * than starting without it. `vars` are the settings as given, before defaults.
 */
export function refuseWhatWorkersCannotDo(config: Config, vars: Record<string, string>): asserts config is WorkerConfig {
  if (config.storage.kind !== "s3") throw new ConfigError("Invalid SLUICE_STORAGE: a Worker stores objects in S3-compatible storage (s3)");
  if (config.processors.length > 0) throw new ConfigError("Invalid SLUICE_PROCESSORS: a Worker cannot load processor modules from paths");
  for (const name of ["SLUICE_TICKETS", "SLUICE_DATABASE"]) {
    if (vars[name]) throw new ConfigError(`Invalid ${name}: a Worker keeps tickets and metadata in its D1 binding (DB); unset it`);
  }
  if (config.sts) throw new ConfigError("Invalid SLUICE_STS_ROLE_ARN: scoped STS credentials are served by the Node and Lambda builds, not the Worker");
  if (config.rateLimitStore.kind === "redis") throw new ConfigError("Invalid SLUICE_RATE_LIMIT_STORE: a Worker cannot reach Redis; limits are counted per isolate (memory)");
}
