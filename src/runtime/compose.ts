import type { Config } from "../config.js";
import { loadProcessors } from "../domain/processors.js";
import { createLogger, type Logger } from "../internal/logger.js";
import { createMetadataStore } from "../metadata/factory.js";
import { createStorage } from "../storage/factory.js";
import type { ObjectStore } from "../storage/object-store.js";
import { createTicketStore } from "../tickets/factory.js";
import type { RuntimeAdapter } from "./adapter.js";
import { assembleSluice, type Sluice } from "./assemble.js";
import { nodeRuntime } from "./node/adapter.js";

export type { Sluice };

/**
 * The composition root for Node and Lambda: turns configuration into backends (each loaded
 * only when configured, so a bundle's entry carries none it does not use) and wires them
 * together. Workers choose their backends from bindings instead (`runtime/workers`).
 */
export async function createSluice(
  config: Config,
  options: {
    logger?: Logger;
    webRoot?: string;
    defaultMetrics?: boolean;
    /** The runtime it serves (Node's unless said: `lambdaRuntime` on Lambda), made with Sluice's logger. */
    runtime?: (options: { logger: Logger }) => RuntimeAdapter;
    /** False where the buckets are made by someone else and the role may not make them (Lambda: the stack makes them). */
    createBuckets?: boolean;
  } = {},
): Promise<Sluice> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const { objects, presigner } = await createStorage(config.storage);
  const buckets = [config.buckets.staging, config.buckets.archive, ...(config.buckets.quarantine ? [config.buckets.quarantine] : [])];
  const storageReady = options.createBuckets === false ? { stop: () => undefined } : await prepareStorage(objects, buckets, logger);
  const backends = {
    objects,
    presigner,
    credentials: await createCredentialIssuer(config),
    metadata: await createMetadataStore(config.database),
    tickets: await createTicketStore(config.tickets),
    processors: await loadProcessors(config.processors),
    limitsRedis: await connectLimitsRedis(config),
    onClose: () => storageReady.stop(),
  };
  return assembleSluice(config, backends, {
    logger,
    runtime: (options.runtime ?? nodeRuntime)({ logger }),
    defaultMetrics: options.defaultMetrics,
    webRoot: options.webRoot,
  });
}

/** The STS client for scoped upload credentials, when a role is configured (its SDK is loaded only then). */
async function createCredentialIssuer(config: Config) {
  if (!config.sts) return undefined;
  const { StsCredentialIssuer, createStsClient } = await import("../storage/s3-credentials.js");
  return new StsCredentialIssuer({ client: createStsClient(config.sts), roleArn: config.sts.roleArn, maxSeconds: config.sts.maxSeconds });
}

/** The Redis client for shared rate limits and quotas, when they are counted in Redis (the driver is loaded only then). */
async function connectLimitsRedis(config: Config) {
  if (config.rateLimitStore.kind !== "redis") return undefined;
  const [{ Redis }, { failFastRedisOptions }] = await Promise.all([import("ioredis"), import("../tickets/redis.js")]);
  return new Redis(config.rateLimitStore.url, failFastRedisOptions());
}

/**
 * Creates the buckets. Storage that cannot be reached at start does not stop Sluice: it
 * starts, `/readyz` names the object store until storage answers, and the buckets are
 * created then (retried every few seconds), with no restart. What needs no storage, such as
 * issuing presigned URLs, works meanwhile.
 */
async function prepareStorage(objects: ObjectStore, buckets: string[], logger: Logger): Promise<{ stop(): void }> {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let warned = false;
  // The first attempt is awaited, so that a reachable store is ready before the first request.
  const attempt = () =>
    objects.prepare(buckets).then(
      () => {
        if (warned) logger.info("the object store answers; buckets are ready");
      },
      (err: unknown) => {
        if (!warned) logger.warn({ err }, "the object store cannot be reached; retrying every 5 s (readyz says so meanwhile)");
        warned = true;
        if (!stopped) timer = setTimeout(() => void attempt(), 5000).unref();
      },
    );
  await attempt();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
