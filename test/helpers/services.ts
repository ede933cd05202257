/** Builds the domain's Services with the real assembly, on embedded backends (fs, SQLite, memory) in a temp dir. */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/config.js";
import type { Processor } from "../../src/domain/processors.js";
import type { Services } from "../../src/domain/services.js";
import { createLogger } from "../../src/internal/logger.js";
import { createMetadataStore } from "../../src/metadata/factory.js";
import { budgetOf, webRequestBody, type LocalArrivalQueue, type RuntimeAdapter } from "../../src/runtime/adapter.js";
import { assembleSluice, type Sluice } from "../../src/runtime/assemble.js";
import { NODE_CAPABILITIES } from "../../src/runtime/node/adapter.js";
import { FsObjectStore } from "../../src/storage/fs.js";
import type { ObjectStore } from "../../src/storage/object-store.js";
import { MemoryTicketStore } from "../../src/tickets/memory.js";
import type { TicketStore } from "../../src/tickets/ticket-store.js";

/** Records what was queued instead of running it, so that a test drives every step itself. */
export class RecordingQueue implements LocalArrivalQueue {
  readonly queued: { id: string; at: number | undefined }[] = [];
  enqueue(id: string, at?: number) {
    this.queued.push({ id, at });
  }
  start(): void {}
  idle(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A runtime for domain tests: Node's capabilities, with arrivals recorded instead of processed. */
function recordingRuntime(queue: RecordingQueue): RuntimeAdapter {
  return {
    name: "node",
    capabilities: NODE_CAPABILITIES,
    requestBody: webRequestBody,
    peerAddress: () => undefined,
    arrivals: queue,
    processingTime: (config) => ({ budget: budgetOf(config.processingBudgetMs ?? 0), handOn: (id) => Promise.resolve(queue.enqueue(id)) }),
  };
}

export interface Harness {
  services: Services;
  /** The whole assembly, app included (never started: no timers, nothing processed but what a test runs). */
  sluice: Sluice;
  queue: RecordingQueue;
  dir: string;
  close(): Promise<void>;
}

/**
 * The services as `npm start` assembles them (`assembleSluice`), on real embedded backends
 * (fs, SQLite, memory tickets unless given) in a temp dir, with a fixed signing secret.
 */
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
  const config = loadConfig({
    SLUICE_DATA_DIR: dir,
    SLUICE_API_KEYS: "sk_test_key_0123456789",
    SLUICE_MAX_ATTEMPTS: "3",
    SLUICE_SIGNING_SECRET: "test-signing-secret-0123456789",
    ...options.env,
  });
  const base = new FsObjectStore({ root: path.join(dir, "objects") });
  await base.prepare([config.buckets.staging, config.buckets.archive, ...(config.buckets.quarantine ? [config.buckets.quarantine] : [])]);
  const metadata = await createMetadataStore(config.database);
  const queue = new RecordingQueue();
  const tickets = options.tickets ?? options.shareWith?.services.tickets ?? new MemoryTicketStore();
  const sluice = await assembleSluice(
    config,
    { objects: options.wrapObjects ? options.wrapObjects(base) : base, presigner: undefined, metadata, tickets, processors: options.processors ?? [] },
    { logger: createLogger({ level: "silent" }), runtime: recordingRuntime(queue) },
  );
  const { services } = sluice;
  // Two harnesses on one store stand for two instances: each its own lease holder.
  services.instanceId = options.instanceId ?? "inst_test";
  return {
    services,
    sluice,
    queue,
    dir,
    async close() {
      if (options.shareWith) {
        // The tickets and the directory are the first harness's to close.
        await metadata.close();
        return;
      }
      await sluice.close();
      await fs.rm(dir, { recursive: true, force: true });
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
