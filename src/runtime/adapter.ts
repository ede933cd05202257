import type { Context } from "hono";
import type { Config } from "../config.js";
import type { ArrivalQueue, ProcessingTime } from "../domain/services.js";

/**
 * What a runtime can do, stated once per runtime (`node/adapter.ts`, `lambda/adapter.ts`,
 * `workers/adapter.ts`) and listed for operators in docs/runtimes.md. `false` is a limit the
 * runtime lives with, not a setting: the assembly and the runtime's entry read these instead
 * of asking which runtime they are on.
 */
export interface RuntimeCapabilities {
  /**
   * A timer set by the instance may fire outside any request: the backend health pings
   * (every second). Lambda: yes, while a container is warm (frozen between invocations, its
   * timers just fire late). Workers: no, an isolate runs nothing outside a request.
   */
  backgroundTimers: boolean;
  /**
   * The reconcile sweep runs as a loop in the process. Otherwise something outside invokes it
   * on a schedule (an EventBridge rule on Lambda, a Cron Trigger on Workers).
   */
  reconcileLoop: boolean;
  /**
   * A processing retry due later waits on a timer in the process. Otherwise it is left to the
   * reconcile sweep, which finds the upload when it next runs.
   */
  delayedRetries: boolean;
  /**
   * The client's own address is known (a socket's peer, or what the platform's front door
   * saw), so `SLUICE_RATE_LIMIT_IP` counts per client. Without it that limit counts nothing.
   */
  peerAddress: boolean;
  /** Objects can be kept on the local filesystem (`SLUICE_STORAGE=fs`): the runtime has a disk that lasts. */
  filesystemStorage: boolean;
  /** Processors can be loaded from module paths (`SLUICE_PROCESSORS`). */
  processorModules: boolean;
  /** Scoped STS credentials can be issued (`SLUICE_STS_ROLE_ARN`). */
  stsCredentials: boolean;
  /** Rate limits can be counted in Redis (`SLUICE_RATE_LIMIT_STORE`), shared by every instance. */
  redisRateLimits: boolean;
  /**
   * An answer reaches the client as it is written, so server-sent events stream. Lambda: no,
   * API Gateway buffers the whole answer (an upload's stream is then its state and a retry hint).
   */
  streamingResponses: boolean;
  /** Tickets and metadata live where `SLUICE_TICKETS` and `SLUICE_DATABASE` say (Workers: in the D1 binding, always). */
  configuredStores: boolean;
}

/** An arrival queue processed where it lives, started and stopped with Sluice. */
export interface LocalArrivalQueue extends ArrivalQueue {
  start(handler: (id: string) => Promise<void>): void;
  /** Resolves when no arrival is being processed or waiting (a delayed retry is left to the sweep). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * One runtime (Node, AWS Lambda, Cloudflare Workers) as the assembly sees it: how it reads a
 * request's body and its client's address, where arrivals are processed, and what it cannot
 * do. Everything past this is the same code on every runtime.
 */
export interface RuntimeAdapter {
  readonly name: "node" | "lambda" | "workers";
  readonly capabilities: RuntimeCapabilities;
  /**
   * Reads a request's body as a stream. The Web Request's own unless the runtime has a
   * cheaper one (Node's avoids a copy of every chunk).
   */
  readonly requestBody: (c: Context) => ReadableStream<Uint8Array> | null;
  /**
   * The client's address as the runtime sees it, for per-address rate limits; undefined where
   * it cannot tell. Forwarded-for headers are read on top of it per `SLUICE_TRUST_PROXY`.
   */
  readonly peerAddress: (c: Context) => string | undefined;
  /** Where this instance processes arrivals. */
  readonly arrivals: LocalArrivalQueue;
  /** How long one processing run may go on here, and where a job goes that needs another run. */
  readonly processingTime: (config: Config) => ProcessingTime;
}

/** A budget of `ms` for each run (`SLUICE_PROCESSING_BUDGET`); 0: none. */
export function budgetOf(ms: number): () => number | undefined {
  return () => (ms > 0 ? ms : undefined);
}

/** The Web Request's body: what a runtime with nothing cheaper reads. */
export const webRequestBody = (c: Context): ReadableStream<Uint8Array> | null => c.req.raw.body;
