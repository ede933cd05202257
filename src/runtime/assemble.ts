import type { Config } from "../config.js";
import { ApiKeyAuthenticator, bootstrapApiKey } from "../domain/api-keys.js";
import { BackendHealth } from "../domain/health.js";
import { UploadLimits } from "../domain/limits.js";
import { processUpload } from "../domain/pipeline.js";
import type { Processor } from "../domain/processors.js";
import { startReconcileLoop } from "../domain/reconcile.js";
import type { Services } from "../domain/services.js";
import { UrlSigner } from "../domain/signing.js";
import { chooseUploadRoutes } from "../domain/upload-routes/index.js";
import { EventBell } from "../events/bell.js";
import { createApp, type App } from "../http/app.js";
import { newId, newSecret } from "../internal/crypto.js";
import type { Logger } from "../internal/logger.js";
import { Metrics } from "../internal/metrics.js";
import { MemoryLimitStore } from "../limits/memory.js";
import type { LimitStore } from "../limits/limit-store.js";
import { RedisLimitStore } from "../limits/redis.js";
import type { MetadataStore } from "../metadata/metadata-store.js";
import type { ObjectStore } from "../storage/object-store.js";
import type { Presigner } from "../storage/presign.js";
import type { CredentialIssuer } from "../storage/credential-issuer.js";
import type { TicketStore } from "../tickets/ticket-store.js";
import type { Redis } from "ioredis";
import type { RuntimeAdapter } from "./adapter.js";
import { startDispatchLoop } from "../webhooks/dispatch.js";
import { webhookStoreBeside } from "../webhooks/factory.js";
import { WebhookSecretBox } from "../webhooks/secrets.js";
import type { WebhookStore } from "../webhooks/store.js";

export type { LocalArrivalQueue } from "./adapter.js";

export interface Sluice {
  services: Services;
  app: App;
  /** The API-key check the app uses (Node's issue lane asks it too). */
  auth: ApiKeyAuthenticator;
  /**
   * On the very first start only (no key configured, none ever stored), creates the API key
   * for the operator, to be shown once; otherwise resolves to undefined. Called by a runtime
   * once it can show the key: Node calls it after the port is bound, so that a start that
   * fails to listen does not store a key nobody ever saw.
   */
  createBootstrapKey(): Promise<string | undefined>;
  /**
   * Starts background work: processing, and what the runtime's capabilities allow of the
   * rest: backend health checks (where timers may fire outside a request: not on Workers) and
   * the reconcile loop (where the runtime has no schedule to invoke the sweep: Node). Either
   * can be turned off here (tests drive the sweep themselves).
   */
  start(options?: { reconcileLoop?: boolean; healthChecks?: boolean; webhookLoop?: boolean }): void;
  /** Resolves when no arrival is being processed or waiting (a delayed retry is left to the sweep). */
  idle(): Promise<void>;
  /** Waits for background work, then closes every backend. */
  close(): Promise<void>;
}

/** The backends a runtime chose, ready to be wired together. */
export interface Backends {
  objects: ObjectStore;
  presigner: Presigner | undefined;
  /** Scoped STS credentials for uploads, when configured. */
  credentials?: CredentialIssuer | undefined;
  metadata: MetadataStore;
  tickets: TicketStore;
  processors: Processor[];
  /** The Redis client limits are counted in, when `SLUICE_RATE_LIMIT_STORE` (or its default) is Redis. */
  limitsRedis?: Redis | undefined;
  /** Webhooks; absent: on the metadata store's own database. */
  webhooks?: WebhookStore | undefined;
  /** Stops whatever the runtime started to prepare storage. */
  onClose?: () => void;
}

export interface AssembleOptions {
  logger: Logger;
  /** How the runtime reads bodies and addresses, where it processes arrivals, and what it cannot do. */
  runtime: RuntimeAdapter;
  defaultMetrics?: boolean;
  webRoot?: string | undefined;
}

/**
 * Wires chosen backends into services and the HTTP app. It imports no backend: each runtime
 * (Node and Lambda through `compose.ts`, Workers through its own entry) picks and builds its
 * backends, and everything from here on is the same code everywhere.
 */
export async function assembleSluice(config: Config, backends: Backends, options: AssembleOptions): Promise<Sluice> {
  const { logger } = options;
  const { objects, presigner, metadata, tickets, processors } = backends;
  const metrics = new Metrics({ defaultMetrics: options.defaultMetrics ?? false });
  await metadata.migrate();
  const limits = new UploadLimits(config, limitStoreFor(config, backends.limitsRedis));
  const health = new BackendHealth({ "ticket store": tickets, "metadata store": metadata, ...(limits.shared && { "rate limiter": limits }) });

  // Without a configured secret, one is made on first start and kept in the metadata store, so
  // URLs survive restarts and every instance sharing the store signs alike.
  const signingSecret = config.signingSecret ?? (await metadata.getOrInitSetting("url_signing_secret", newSecret(32)));
  const eventsSecret = config.eventsSecret ?? (await metadata.getOrInitSetting("events_secret", newSecret(32)));
  const { runtime } = options;
  const { arrivals } = runtime;
  const signer = new UrlSigner(signingSecret);
  const auth = new ApiKeyAuthenticator({ metadata, configuredKeys: config.apiKeys, tokenSigner: signer });

  const services: Services = {
    config,
    objects,
    presigner,
    routes: chooseUploadRoutes({ config, presigner, credentials: backends.credentials }),
    tickets,
    metadata,
    webhooks: backends.webhooks ?? webhookStoreBeside(metadata),
    // Sealed under a key derived from the URL signing secret, which every instance shares.
    webhookSecrets: new WebhookSecretBox(signingSecret),
    limits,
    health,
    signer,
    keys: auth,
    processors,
    arrivals,
    processingTime: runtime.processingTime(config),
    metrics,
    events: new EventBell(),
    logger,
    instanceId: newId("inst"),
    now: Date.now,
  };

  const app = createApp({ services, auth, eventsSecret, webRoot: options.webRoot, streaming: runtime.capabilities.streamingResponses, requestBody: runtime.requestBody, peerAddress: runtime.peerAddress });

  let reconcile: { stop(): Promise<void> } | undefined;
  let dispatcher: { stop(): Promise<void> } | undefined;
  return {
    services,
    app,
    auth,
    createBootstrapKey: () => bootstrapApiKey(metadata, { configuredKeys: config.apiKeys, now: Date.now() }),
    start(startOptions = {}) {
      const healthChecks = startOptions.healthChecks ?? runtime.capabilities.backgroundTimers;
      const reconcileLoop = startOptions.reconcileLoop ?? runtime.capabilities.reconcileLoop;
      if (healthChecks) health.start();
      arrivals.start((id) => processUpload(services, id));
      if (reconcileLoop) reconcile = startReconcileLoop(services, config.reconcileIntervalSeconds * 1000);
      // Where the runtime has no schedule to call dispatchOnce (Node), a loop woken by the bell.
      if (startOptions.webhookLoop ?? reconcileLoop) dispatcher = startDispatchLoop(services);
    },
    idle: () => arrivals.idle(),
    async close() {
      backends.onClose?.();
      await health.stop();
      await reconcile?.stop();
      await dispatcher?.stop();
      await arrivals.close();
      await tickets.close();
      await limits.shutdown();
      await metadata.close();
    },
  };
}

/**
 * Where rate limits and quotas are counted: in the shared Redis the configuration names, or in
 * this process. Configured for Redis without a client is a wiring fault: counting in memory
 * instead would silently give each instance its own budget.
 */
export function limitStoreFor(config: Pick<Config, "rateLimitStore">, redis: Redis | undefined): LimitStore {
  if (config.rateLimitStore.kind !== "redis") return new MemoryLimitStore();
  if (!redis) throw new Error("Limits counted in Redis (SLUICE_RATE_LIMIT_STORE) need a Redis client.");
  return new RedisLimitStore(redis);
}
