import os from "node:os";
import type { Context } from "hono";
import { getConnInfo } from "hono/aws-lambda";
import type { Config } from "../../config.js";
import { InProcessArrivalQueue } from "../../events/in-process.js";
import type { Logger } from "../../internal/logger.js";
import { once } from "../../internal/async.js";
import type { ProcessingTime } from "../../domain/services.js";
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
    processingTime: (config) => lambdaProcessingTime(config, options.logger),
  };
}

/**
 * When the invocation under way ends (epoch ms), as its handler learnt from Lambda's context
 * (`markInvocation`); undefined outside one, or when driven without a context (tests). A
 * container serves one invocation at a time, so one value per container is exact.
 */
let invocationEndsAt: number | undefined;

/** Called by every handler as its invocation begins. */
export function markInvocation(context: { getRemainingTimeInMillis?: () => number } | undefined): void {
  const remaining = context?.getRemainingTimeInMillis?.();
  invocationEndsAt = remaining === undefined ? undefined : Date.now() + remaining;
}

/**
 * What a run keeps of the invocation's remaining time for the parts in flight when its budget
 * runs out (they finish, then the progress is saved and the job handed on). It covers a run's
 * first parts; after them a run starts no part that would not finish in its budget at the pace
 * of its slowest part so far (docs/architecture.md#resumable-archive-copies).
 */
const INVOCATION_MARGIN_MS = 90_000;

/**
 * A run stops starting copy parts at the earlier of `SLUICE_PROCESSING_BUDGET` (if set and not
 * 0) and the invocation's end less a margin (at most half of what remains), and hands the job
 * to the continuation queue; without one the reconcile sweep finds it due.
 */
function lambdaProcessingTime(config: Config, logger: Logger): ProcessingTime {
  const queue = config.serverless.continueQueue;
  // The SQS client is loaded only by a run that hands a job on.
  const sender = once(async () => {
    const { ContinuationSender } = await import("./continuations.js");
    return new ContinuationSender(queue!);
  });
  return {
    budget() {
      const limits: number[] = [];
      if (config.processingBudgetMs) limits.push(config.processingBudgetMs);
      if (invocationEndsAt !== undefined) {
        const remaining = invocationEndsAt - Date.now();
        limits.push(Math.max(0, remaining - Math.min(INVOCATION_MARGIN_MS, remaining / 2)));
      }
      return limits.length > 0 ? Math.min(...limits) : undefined;
    },
    async handOn(uploadId) {
      if (!queue) {
        logger.info({ uploadId }, "no continuation queue (SLUICE_CONTINUE_QUEUE): the reconcile sweep carries the copy on");
        return;
      }
      await (await sender()).send(uploadId);
    },
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
