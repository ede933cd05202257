import os from "node:os";
import type { Context } from "hono";
import { getConnInfo } from "hono/aws-lambda";
import type { Config } from "../../config.js";
import { InProcessArrivalQueue } from "../../events/in-process.js";
import type { Logger } from "../../internal/logger.js";
import { webRequestBody, type RuntimeAdapter, type RuntimeCapabilities } from "../adapter.js";
import { createSluice, type Sluice } from "../compose.js";

/**
 * A container that Lambda freezes between invocations and may drop at any time: timers fire
 * only while it is warm, so the sweep runs on a schedule, and a retry due later is the
 * scheduled sweep's unless the container happens to be warm then.
 */
export const LAMBDA_CAPABILITIES: RuntimeCapabilities = {
  backgroundTimers: true,
  reconcileLoop: false,
  delayedRetries: false,
  peerAddress: true,
  // Not refused (a container has /tmp), but what is kept there is lost with the container.
  filesystemStorage: false,
  processorModules: true,
  stsCredentials: true,
  redisRateLimits: true,
  configuredStores: true,
  // API Gateway (REST and HTTP APIs) buffers the whole answer before sending it.
  streamingResponses: false,
};

/**
 * The client's address as API Gateway saw it: `requestContext.identity.sourceIp` (REST),
 * `requestContext.http.sourceIp` (HTTP API, function URLs), or the entry an ALB appended to
 * X-Forwarded-For (Hono's getConnInfo for Lambda reads all three). Outside an invocation's
 * event (an app driven with `app.request`) there is none.
 */
export function lambdaPeerAddress(c: Context): string | undefined {
  if (!(c.env as { requestContext?: unknown } | undefined)?.requestContext) return undefined;
  return getConnInfo(c).remote.address;
}

/** AWS Lambda behind API Gateway: the event's body, the event's source address, arrivals processed within the invocation. */
export function lambdaRuntime(options: { logger: Logger }): RuntimeAdapter {
  return {
    name: "lambda",
    capabilities: LAMBDA_CAPABILITIES,
    requestBody: webRequestBody,
    peerAddress: lambdaPeerAddress,
    // The handlers wait for this queue to be idle before they return (a frozen container processes nothing).
    arrivals: new InProcessArrivalQueue({ concurrency: Math.max(2, os.availableParallelism()), logger: options.logger }),
  };
}

/**
 * Sluice as the Lambda entry builds it, started. The stack makes the buckets; the functions'
 * roles may not (and need not) look for them, unless `createBuckets` says otherwise (tests).
 */
export async function startLambdaSluice(config: Config, options: { logger?: Logger; createBuckets?: boolean } = {}): Promise<Sluice> {
  const sluice = await createSluice(config, { runtime: lambdaRuntime, createBuckets: options.createBuckets ?? false, ...(options.logger && { logger: options.logger }) });
  sluice.start();
  return sluice;
}
