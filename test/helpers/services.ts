/** Builds the domain's Services on real embedded backends (fs, SQLite, memory) in a temp dir. */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/config.js";
import type { Processor } from "../../src/domain/processors.js";
import type { ArrivalQueue, Services } from "../../src/domain/services.js";
import { ApiKeyAuthenticator } from "../../src/domain/api-keys.js";
import { UploadLimits } from "../../src/domain/limits.js";
import { UrlSigner } from "../../src/domain/signing.js";
import { chooseUploadRoutes } from "../../src/domain/upload-routes/index.js";
import { MemoryLimitStore } from "../../src/limits/memory.js";
import { createLogger } from "../../src/internal/logger.js";
import { Metrics } from "../../src/internal/metrics.js";
import { createMetadataStore } from "../../src/metadata/factory.js";
import { FsObjectStore } from "../../src/storage/fs.js";
import type { ObjectStore } from "../../src/storage/object-store.js";
import { MemoryTicketStore } from "../../src/tickets/memory.js";
import type { TicketStore } from "../../src/tickets/ticket-store.js";

/** Records what was queued instead of running it, so that a test drives every step itself. */
export class RecordingQueue implements ArrivalQueue {
  readonly queued: { id: string; at: number | undefined }[] = [];
  enqueue(id: string, at?: number) {
    this.queued.push({ id, at });
  }
}

export interface Harness {
  services: Services;
  queue: RecordingQueue;
  dir: string;
  close(): Promise<void>;
}

export async function makeServices(
  options: {
    env?: Record<string, string>;
    processors?: Processor[];
    wrapObjects?: (store: ObjectStore) => ObjectStore;
    tickets?: TicketStore;
    instanceId?: string;
    shareWith?: Harness;
  } = {},
): Promise<Harness> {
  const dir = options.shareWith?.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), "sluice-svc-")));
  const config = loadConfig({ SLUICE_DATA_DIR: dir, SLUICE_API_KEYS: "sk_test_key_0123456789", SLUICE_MAX_ATTEMPTS: "3", ...options.env });
  const base = new FsObjectStore({ root: path.join(dir, "objects") });
  await base.prepare([config.buckets.staging, config.buckets.archive, ...(config.buckets.quarantine ? [config.buckets.quarantine] : [])]);
  const metadata = await createMetadataStore(config.database);
  await metadata.migrate();
  const queue = new RecordingQueue();
  const tickets = options.tickets ?? options.shareWith?.services.tickets ?? new MemoryTicketStore();
  const services: Services = {
    config,
    objects: options.wrapObjects ? options.wrapObjects(base) : base,
    presigner: undefined,
    routes: chooseUploadRoutes({ config, presigner: undefined, credentials: undefined }),
    tickets,
    metadata,
    limits: new UploadLimits(config, new MemoryLimitStore()),
    signer: new UrlSigner("test-signing-secret-0123456789"),
    keys: new ApiKeyAuthenticator({ metadata, configuredKeys: config.apiKeys }),
    processors: options.processors ?? [],
    arrivals: queue,
    metrics: new Metrics(),
    logger: createLogger({ level: "silent" }),
    instanceId: options.instanceId ?? "inst_test",
    now: Date.now,
  };
  return {
    services,
    queue,
    dir,
    async close() {
      await metadata.close();
      if (!options.shareWith) {
        await tickets.close();
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A body stream of the given bytes. */
export function bodyOf(data: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      c.enqueue(data);
      c.close();
    },
  });
}
