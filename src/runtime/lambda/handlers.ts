/**
 * AWS Lambda adapters around the same app and domain as `npm start`:
 * - `http`: API Gateway (REST and HTTP API payloads, and function URLs) → the Hono app;
 * - `s3`: an S3 event notification sent straight to Lambda;
 * - `sqs`: S3 events delivered through SQS (optionally through SNS), with partial batch failures;
 * - `reconcile`: the sweep, on a schedule (EventBridge), since no loop runs between invocations.
 * Lambda may freeze the container once a handler returns, so each handler waits until the
 * processing its work started has finished.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, S3Event as LambdaS3Event, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { defaultIsContentTypeBinary, handle, type LambdaContext, type LambdaEvent } from "hono/aws-lambda";
import { reconcileStaging, type ReconcileReport } from "../../domain/reconcile.js";
import type { Services } from "../../domain/services.js";
import { S3EventSchema, handleStorageEvent, type EventResult } from "../../domain/storage-events.js";
import type { App } from "../../http/app.js";

/** What the handlers need of a running Sluice (`createSluice` gives it). */
export interface LambdaSluice {
  services: Services;
  app: App;
  idle(): Promise<void>;
}

export interface S3HandlerResult {
  results: (EventResult | { eventName: string; bucket: string; key: string; outcome: "malformed" })[];
}

export function lambdaHandlers(ready: Promise<LambdaSluice>) {
  let http: ReturnType<typeof handle> | undefined;

  /**
   * Every record on its own: one that fails (a backend down) is logged and left to the
   * reconcile sweep, and the handler still succeeds, so Lambda never retries the whole event
   * and repeats the records that went through. (They would be harmless repeats, but a
   * retry storm on a down backend helps nobody; the sweep finds the objects in staging.)
   */
  async function s3(event: LambdaS3Event | { Records?: unknown[] }): Promise<S3HandlerResult> {
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

    s3,

    /**
     * SQS messages whose bodies are S3 events (or SNS notifications wrapping them). A message
     * whose records could not all be handled is reported in `batchItemFailures`, so that SQS
     * redelivers that message alone (and, after its retries, moves it to the dead-letter
     * queue); the others are deleted. A message that is not an S3 event is dropped with a log
     * line: redelivering it would never help.
     */
    sqs: async (event: SQSEvent): Promise<SQSBatchResponse> => {
      const sluice = await ready;
      const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
      for (const message of event.Records) {
        const body = s3EventOf(message.body);
        if (!body) {
          sluice.services.logger.warn({ messageId: message.messageId }, "an SQS message that is not an S3 event; dropped");
          continue;
        }
        const { results } = await s3(body);
        if (results.some((r) => r.outcome === "unavailable")) batchItemFailures.push({ itemIdentifier: message.messageId });
      }
      return { batchItemFailures };
    },

    /** The reconcile sweep, run by a schedule. */
    reconcile: async (): Promise<ReconcileReport> => {
      const sluice = await ready;
      const report = await reconcileStaging(sluice.services);
      await sluice.idle();
      return report;
    },
  };
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
