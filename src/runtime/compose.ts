import os from "node:os";
import type { Config } from "../config.js";
import { ApiKeyAuthenticator, bootstrapApiKey } from "../domain/api-keys.js";
import { BackendHealth } from "../domain/health.js";
import { UploadLimits } from "../domain/limits.js";
import { processUpload } from "../domain/pipeline.js";
import { loadProcessors } from "../domain/processors.js";
import { startReconcileLoop } from "../domain/reconcile.js";
import type { Services } from "../domain/services.js";
import { UrlSigner } from "../domain/signing.js";
import { InProcessArrivalQueue } from "../events/in-process.js";
import { createApp, type App, type AppOptions } from "../http/app.js";
import { newId, newSecret } from "../internal/crypto.js";
import { createLogger, type Logger } from "../internal/logger.js";
import { Metrics } from "../internal/metrics.js";
import { createMetadataStore } from "../metadata/factory.js";
import { createStorage } from "../storage/factory.js";
import type { ObjectStore } from "../storage/object-store.js";
import { createTicketStore } from "../tickets/factory.js";

export interface Sluice {
  services: Services;
  app: App;
  /** Set on the very first start only: the API key created for the operator, to be shown once. */
  bootstrapKey: string | undefined;
  /**
   * Starts background work: processing, backend health checks and (unless `reconcileLoop`
   * is false: serverless runtimes invoke the sweep on a schedule) the reconcile sweep.
   */
  start(options?: { reconcileLoop?: boolean }): void;
  /** Resolves when no arrival is being processed or waiting (a delayed retry is left to the sweep). */
  idle(): Promise<void>;
  /** Waits for background work, then closes every backend. */
  close(): Promise<void>;
}

/**
 * The composition root: the one place that turns configuration into backends and wires
 * them together. Runtimes (Node now; Lambda and Workers later) call this and serve `app`.
 */
export async function createSluice(
  config: Config,
  options: {
    logger?: Logger;
    webRoot?: string;
    defaultMetrics?: boolean;
    requestBody?: AppOptions["requestBody"];
    peerAddress?: AppOptions["peerAddress"];
    /** False where the buckets are made by someone else and the role may not make them (Lambda: the stack makes them). */
    createBuckets?: boolean;
  } = {},
): Promise<Sluice> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const metrics = new Metrics({ defaultMetrics: options.defaultMetrics ?? false });

  const { objects, presigner } = createStorage(config.storage);
  const buckets = [config.buckets.staging, config.buckets.archive, ...(config.buckets.quarantine ? [config.buckets.quarantine] : [])];
  const storageReady = options.createBuckets === false ? { stop: () => undefined } : await prepareStorage(objects, buckets, logger);
  const metadata = createMetadataStore(config.database);
  await metadata.migrate();
  const tickets = createTicketStore(config.tickets);
  const limits = new UploadLimits(config);
  const health = new BackendHealth({ "ticket store": tickets, "metadata store": metadata, ...(limits.shared && { "rate limiter": limits }) });

  // Without a configured secret, one is made on first start and kept in the metadata store, so
  // URLs survive restarts and every instance sharing the store signs alike.
  const signingSecret = config.signingSecret ?? (await metadata.getOrInitSetting("url_signing_secret", newSecret(32)));
  const eventsSecret = config.eventsSecret ?? (await metadata.getOrInitSetting("events_secret", newSecret(32)));
  const processors = await loadProcessors(config.processors);
  const arrivals = new InProcessArrivalQueue({ concurrency: Math.max(2, os.availableParallelism()), logger });

  const services: Services = {
    config,
    objects,
    presigner,
    tickets,
    metadata,
    limits,
    health,
    signer: new UrlSigner(signingSecret),
    processors,
    arrivals,
    metrics,
    logger,
    instanceId: newId("inst"),
    now: Date.now,
  };

  const auth = new ApiKeyAuthenticator({ metadata, configuredKeys: config.apiKeys });
  const bootstrapKey = await bootstrapApiKey(metadata, { configuredKeys: config.apiKeys, now: Date.now() });
  const app = createApp({ services, auth, eventsSecret, webRoot: options.webRoot, requestBody: options.requestBody, peerAddress: options.peerAddress });

  let reconcile: { stop(): Promise<void> } | undefined;
  return {
    services,
    app,
    bootstrapKey,
    start(startOptions = {}) {
      health.start();
      arrivals.start((id) => processUpload(services, id));
      if (startOptions.reconcileLoop !== false) reconcile = startReconcileLoop(services, config.reconcileIntervalSeconds * 1000);
    },
    idle: () => arrivals.idle(),
    async close() {
      storageReady.stop();
      await health.stop();
      await reconcile?.stop();
      await arrivals.close();
      await tickets.close();
      await limits.shutdown();
      await metadata.close();
    },
  };
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
