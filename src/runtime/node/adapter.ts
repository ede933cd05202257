import os from "node:os";
import { InProcessArrivalQueue } from "../../events/in-process.js";
import type { Logger } from "../../internal/logger.js";
import { budgetOf, type RuntimeAdapter, type RuntimeCapabilities } from "../adapter.js";
import { nodePeerAddress, nodeRequestBody } from "./body.js";

/** A long-lived process with a disk: nothing is out of reach. */
export const NODE_CAPABILITIES: RuntimeCapabilities = {
  backgroundTimers: true,
  reconcileLoop: true,
  delayedRetries: true,
  peerAddress: true,
  filesystemStorage: true,
  processorModules: true,
  stsCredentials: true,
  redisRateLimits: true,
  configuredStores: true,
  streamingResponses: true,
};

/**
 * Node's HTTP server (`npm start`): bodies read straight from the IncomingMessage, the
 * socket's peer as the client's address, and arrivals processed in this process a few at a
 * time. Off a Node server (an app driven with `app.request`, as tests do) both readers fall
 * back to the Web Request and to no address.
 */
export function nodeRuntime(options: { logger: Logger }): RuntimeAdapter {
  const arrivals = new InProcessArrivalQueue({ concurrency: Math.max(2, os.availableParallelism()), logger: options.logger });
  return {
    name: "node",
    capabilities: NODE_CAPABILITIES,
    requestBody: nodeRequestBody,
    peerAddress: nodePeerAddress,
    arrivals,
    // No budget unless one is set: a process that lives copies a large object in one go. With
    // one, the job goes back on this process's own queue, as a new run.
    processingTime: (config) => ({
      budget: budgetOf(config.processingBudgetMs ?? 0),
      handOn: (uploadId) => Promise.resolve(arrivals.enqueue(uploadId)),
    }),
  };
}
