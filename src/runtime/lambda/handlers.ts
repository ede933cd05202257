/**
 * AWS Lambda adapters around the same app and domain as `npm start`:
 * - `http`: API Gateway (REST and HTTP API payloads, and function URLs) → the Hono app;
 * - `s3`: an S3 event notification sent straight to Lambda;
 * - `sqs`: S3 events delivered through SQS (optionally through SNS), with partial batch failures;
 * - `reconcile`: the sweep, on a schedule (EventBridge), since no loop runs between invocations;
 * - `dispatch`: sends the events (webhooks; EventBridge when `SLUICE_EVENTBRIDGE_BUS` is set),
 *   on a schedule and whenever `s3`, `sqs` or `reconcile` wake it after their work;
 * - `continue`: carries on the archive copies that an invocation's time cut short, from the
 *   continuation queue (`SLUICE_CONTINUE_QUEUE`, SQS), with partial batch failures.
 * Lambda may freeze the container once a handler returns, so each handler waits until the
 * processing its work started has finished.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, S3Event as LambdaS3Event, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { defaultIsContentTypeBinary, handle, type LambdaContext, type LambdaEvent } from "hono/aws-lambda";
import { processUpload } from "../../domain/pipeline.js";
import { reconcileStaging, type ReconcileReport } from "../../domain/reconcile.js";
import type { Services } from "../../domain/services.js";
import { S3EventSchema, handleStorageEvent, type EventResult } from "../../domain/storage-events.js";
import type { App } from "../../http/app.js";
import { once } from "../../internal/async.js";
import type { DispatchReport } from "../../webhooks/dispatch.js";
import type { EventBridgePublisher, PublishReport } from "./eventbridge.js";
import type { DispatcherWaker } from "./wake-dispatcher.js";
import { markInvocation } from "./adapter.js";
import { uploadIdToContinue } from "./continue-message.js";

/** What Lambda tells a handler about its invocation (the part Sluice reads). */
type InvocationContext = { getRemainingTimeInMillis?: () => number } | undefined;

/** What the handlers need of a running Sluice (`createSluice` gives it). */
export interface LambdaSluice {
  services: Services;
  app: App;
  idle(): Promise<void>;
}

export interface S3HandlerResult {
  results: (EventResult | { eventName: string; bucket: string; key: string; outcome: "malformed" })[];
}

export interface DispatchResult {
  webhooks: DispatchReport & { passes: number };
  eventBridge?: PublishReport;
}

/** What a dispatch run leaves of the function's time, for the report and the log: a run ends before the function's timeout would cut it. */
const DISPATCH_MARGIN_MS = 8000;
/** A run's budget when Lambda did not say how long is left (a test driving the handler). */
const DISPATCH_DEFAULT_BUDGET_MS = 50_000;

export function lambdaHandlers(ready: Promise<LambdaSluice>) {
  let http: ReturnType<typeof handle> | undefined;

  // Each SDK is loaded only in the functions whose configuration needs it, and the dispatcher's
  // code only in the dispatcher (the issuer's cold start loads none of it).
  const waker = once(async (): Promise<DispatcherWaker | undefined> => {
    const sluice = await ready;
    const config = sluice.services.config.serverless.dispatcher;
    if (!config) return undefined;
    const { DispatcherWaker } = await import("./wake-dispatcher.js");
    return new DispatcherWaker({ config, logger: sluice.services.logger });
  });
  const publisher = once(async (): Promise<EventBridgePublisher | undefined> => {
    const sluice = await ready;
    const config = sluice.services.config.serverless.eventBridge;
    if (!config) return undefined;
    const { EventBridgePublisher, createEventBridgeClient } = await import("./eventbridge.js");
    return new EventBridgePublisher({ client: createEventBridgeClient(config), bus: config.bus, store: sluice.services.metadata, logger: sluice.services.logger });
  });

  /** After work that may have written events: the dispatcher sends them now, not at its next scheduled run. */
  async function wakeDispatcher(by: string): Promise<void> {
    await (await waker())?.wake(by);
  }

  /**
   * Every record on its own: one that fails (a backend down) is logged and left to the
   * reconcile sweep, and the handler still succeeds, so Lambda never retries the whole event
   * and repeats the records that went through. (They would be harmless repeats, but a
   * retry storm on a down backend helps nobody; the sweep finds the objects in staging.)
   */
  async function handleRecords(event: LambdaS3Event | { Records?: unknown[] }): Promise<S3HandlerResult> {
    const sluice = await ready;
    const results: S3HandlerResult["results"] = [];
    for (const record of event.Records ?? []) {
      const parsed = S3EventSchema.safeParse({ Records: [record] });
      if (!parsed.success) {
        sluice.services.logger.warn({ record }, "an S3 event record Sluice cannot read; skipped");
        results.push({ eventName: "", bucket: "", key: "", outcome: "malformed" });
        continue;
      }
      try {
        results.push(...(await handleStorageEvent(sluice.services, parsed.data)));
      } catch (err) {
        const r = parsed.data.Records[0]!;
        sluice.services.logger.warn({ err, key: r.s3.object.key }, "could not handle an S3 event record; the reconcile sweep will find the object");
        results.push({ eventName: r.eventName, bucket: r.s3.bucket.name, key: r.s3.object.key, outcome: "unavailable" });
      }
    }
    await sluice.idle();
    return { results };
  }

  return {
    /** API Gateway REST (v1) and HTTP API (v2) events, ALB and function URLs. */
    http: async (event: APIGatewayProxyEvent | APIGatewayProxyEventV2 | LambdaEvent, context?: LambdaContext) => {
      markInvocation(context);
      const sluice = await ready;
      // An upload's server-sent events are text: base64 (Hono's default for a type it does not
      // list) would reach a REST API's client still encoded unless the stack listed the type.
      http ??= handle(sluice.app, { isContentTypeBinary: (type) => !/^text\/event-stream\b/i.test(type) && defaultIsContentTypeBinary(type) });
      // Hono declares its own types for the same events (`undefined` where @types/aws-lambda,
      // which deployments use, says `null`); the adapter reads both.
      const response = await http(event as LambdaEvent, context);
      await sluice.idle();
      return response;
    },

    s3: async (event: LambdaS3Event | { Records?: unknown[] }, context?: InvocationContext): Promise<S3HandlerResult> => {
      markInvocation(context);
      const result = await handleRecords(event);
      if (result.results.some(wroteState)) await wakeDispatcher("s3");
      return result;
    },

    /**
     * SQS messages whose bodies are S3 events (or SNS notifications wrapping them). A message
     * whose records could not all be handled is reported in `batchItemFailures`, so that SQS
     * redelivers that message alone (and, after its retries, moves it to the dead-letter
     * queue); the others are deleted. A message that is not an S3 event is dropped with a log
     * line: redelivering it would never help.
     */
    sqs: async (event: SQSEvent, context?: InvocationContext): Promise<SQSBatchResponse> => {
      markInvocation(context);
      const sluice = await ready;
      const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
      let handled = false;
      for (const message of event.Records) {
        const body = s3EventOf(message.body);
        if (!body) {
          sluice.services.logger.warn({ messageId: message.messageId }, "an SQS message that is not an S3 event; dropped");
          continue;
        }
        const { results } = await handleRecords(body);
        handled ||= results.some(wroteState);
        if (results.some((r) => r.outcome === "unavailable")) batchItemFailures.push({ itemIdentifier: message.messageId });
      }
      if (handled) await wakeDispatcher("sqs");
      return { batchItemFailures };
    },

    /** The reconcile sweep, run by a schedule. */
    reconcile: async (_event?: unknown, context?: InvocationContext): Promise<ReconcileReport> => {
      markInvocation(context);
      const sluice = await ready;
      const report = await reconcileStaging(sluice.services);
      await sluice.idle();
      // The sweep may have archived, rejected or expired uploads (it does not count its events).
      await wakeDispatcher("reconcile");
      return report;
    },

    /**
     * One run of the dispatcher, scheduled or woken: webhook deliveries that are due (new
     * events fanned out, retries, deliveries another run left leased and died with), then the
     * EventBridge publisher. The run stops before the function's own timeout would cut it;
     * what it left is the next run's, since every step is leased or behind a cursor.
     */
    dispatch: async (_event?: unknown, context?: InvocationContext): Promise<DispatchResult> => {
      markInvocation(context);
      const sluice = await ready;
      const remaining = context?.getRemainingTimeInMillis?.();
      const budget = AbortSignal.timeout(remaining === undefined ? DISPATCH_DEFAULT_BUDGET_MS : Math.max(1000, remaining - DISPATCH_MARGIN_MS));
      const { dispatchWhileDue } = await import("../dispatch-runs.js");
      const webhooks = await dispatchWhileDue(sluice.services, { signal: budget });
      const bus = await publisher();
      const result: DispatchResult = { webhooks, ...(bus && { eventBridge: await bus.publishPending({ signal: budget }) }) };
      await sluice.idle();
      sluice.services.logger.info(result, "dispatch run done");
      return result;
    },

    /**
     * Continuation messages (`{"sluice":"continue","uploadId":…}`), one job each, one after
     * another: each run takes the job's lease and goes on from the parts recorded, until this
     * invocation's time is nearly spent (then it hands the job on again). A message whose job
     * could not be run (a backend down) is reported in `batchItemFailures`, for SQS to
     * redeliver; one whose job is done, or held by another run, needs nothing more. A message
     * that is not a continuation is dropped with a log line.
     */
    continue: async (event: SQSEvent, context?: InvocationContext): Promise<SQSBatchResponse> => {
      markInvocation(context);
      const sluice = await ready;
      const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
      for (const message of event.Records) {
        const uploadId = uploadIdToContinue(message.body);
        if (!uploadId) {
          sluice.services.logger.warn({ messageId: message.messageId }, "an SQS message that is not a continuation; dropped");
          continue;
        }
        try {
          await processUpload(sluice.services, uploadId);
        } catch (err) {
          sluice.services.logger.warn({ err, uploadId }, "could not carry the job on; SQS redelivers the message (the reconcile sweep would find it too)");
          batchItemFailures.push({ itemIdentifier: message.messageId });
        }
      }
      await sluice.idle();
      await wakeDispatcher("continue");
      return { batchItemFailures };
    },
  };
}

/** Whether a storage event's record led to processing (so to an event, or soon one), rather than being ignored. */
function wroteState(r: S3HandlerResult["results"][number]): boolean {
  return r.outcome !== "malformed" && r.outcome !== "ignored" && r.outcome !== "invalid_key" && r.outcome !== "unavailable";
}

/** The S3 event in an SQS message body: sent by S3 directly, or wrapped in an SNS notification. */
function s3EventOf(body: string): { Records?: unknown[] } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (isObject(parsed) && parsed.Type === "Notification" && typeof parsed.Message === "string") return s3EventOf(parsed.Message);
  if (isObject(parsed) && parsed.Event === "s3:TestEvent") return { Records: [] };
  if (isObject(parsed) && Array.isArray(parsed.Records)) return { Records: parsed.Records as unknown[] };
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
