import os from "node:os";
import { InProcessArrivalQueue } from "../../events/in-process.js";
import type { Logger } from "../../internal/logger.js";
import type { RuntimeAdapter, RuntimeCapabilities } from "../adapter.js";
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
  return {
    name: "node",
    capabilities: NODE_CAPABILITIES,
    requestBody: nodeRequestBody,
    peerAddress: nodePeerAddress,
    arrivals: new InProcessArrivalQueue({ concurrency: Math.max(2, os.availableParallelism()), logger: options.logger }),
  };
}
