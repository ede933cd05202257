/**
 * Events on Lambda: the processor handler (an S3 event for a real upload to RGW) writes the
 * event and wakes the dispatcher with an asynchronous Invoke; the dispatcher handler delivers
 * it to a real local receiver (verified with the `standardwebhooks` package) and publishes it
 * to EventBridge. No AWS traffic: the Lambda and EventBridge clients are pointed at a loopback
 * server that records what the SDK serialized (the Invoke, the PutEvents JSON) and answers as
 * AWS documents. The metadata store is a real SQLite file, as the handlers open it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { S3Client } from "@aws-sdk/client-s3";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/internal/logger.js";
import type { Sluice } from "../src/runtime/compose.js";
import { startLambdaSluice } from "../src/runtime/lambda/adapter.js";
import { lambdaHandlers } from "../src/runtime/lambda/handlers.js";
import { PNG, awsS3Event } from "./helpers/fixtures.js";
import { startVerifyingReceiver, type Delivery } from "./helpers/verifying-receiver.js";
import { removeBuckets, s3ClientFor, sluiceS3Env, useRgw, type Rgw } from "./helpers/rgw.js";

const KEY = "sk_lambda_dispatch_0123456789abcdef";
const BUS = "sluice-events";
const DISPATCHER = "Sluice-Dispatcher";

interface Recorded {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Loopback stand-in for AWS's Lambda and EventBridge endpoints: records each request, answers as AWS does. */
async function startAwsRecorder() {
  const requests: Recorded[] = [];
  /** How many PutEvents calls from now on answer with every entry failed (throttled). */
  let failNextPutEvents = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({ path: req.url ?? "", headers: req.headers, body });
      if (req.url?.startsWith("/2015-03-31/functions/")) {
        res.writeHead(202, { "content-type": "application/json", "x-amzn-requestid": "r-1" }).end();
        return;
      }
      if (req.headers["x-amz-target"] === "AWSEvents.PutEvents") {
        const entries = (JSON.parse(body) as { Entries: unknown[] }).Entries;
        const failing = failNextPutEvents > 0;
        if (failing) failNextPutEvents--;
        const answer = failing
          ? { FailedEntryCount: entries.length, Entries: entries.map(() => ({ ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" })) }
          : { FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: `eb-${requests.length}-${i}` })) };
        res.writeHead(200, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify(answer));
        return;
      }
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ __type: "UnknownOperationException" }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    failPutEvents(times: number) {
      failNextPutEvents = times;
    },
    putEvents: () => requests.filter((r) => r.headers["x-amz-target"] === "AWSEvents.PutEvents"),
    invokes: () => requests.filter((r) => r.path.startsWith("/2015-03-31/functions/")),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let rgw: Rgw;
let s3: S3Client;
let sluice: Sluice;
let dir: string;
let staging: string;
let archive: string;
let handlers: ReturnType<typeof lambdaHandlers>;
let aws: Awaited<ReturnType<typeof startAwsRecorder>>;
let receiver: Awaited<ReturnType<typeof startVerifyingReceiver>>;

function apiEvent(method: string, rawPath: string, body?: unknown): APIGatewayProxyEventV2 {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString: "",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...(text !== undefined && { "content-length": String(Buffer.byteLength(text)) }) },
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      domainName: "abc123.execute-api.us-east-1.amazonaws.com",
      domainPrefix: "abc123",
      http: { method, path: rawPath, protocol: "HTTP/1.1", sourceIp: "203.0.113.9", userAgent: "test" },
      requestId: "r",
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(text !== undefined && { body: text }),
    isBase64Encoded: false,
  };
}

/** Issues an upload through the API handler and PUTs `body` to its presigned URL (RGW). */
async function upload(filename: string, body: Uint8Array<ArrayBuffer>, contentType = "image/png"): Promise<{ id: string; key: string }> {
  const res = await handlers.http(apiEvent("POST", "/v1/uploads", { filename, contentType, size: body.byteLength }));
  assert.equal(res.statusCode, 201, res.body);
  const issued = JSON.parse(res.body) as { id: string; key: string; upload: { url: string; headers: Record<string, string> } };
  const put = await fetch(issued.upload.url, { method: "PUT", headers: issued.upload.headers, body });
  assert.equal(put.status, 200);
  return issued;
}

before(async () => {
  rgw = await useRgw();
  s3 = s3ClientFor(rgw);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-lambda-dispatch-"));
  aws = await startAwsRecorder();
  receiver = await startVerifyingReceiver();
  const suffix = randomBytes(4).toString("hex");
  staging = `dstaging-${suffix}`;
  archive = `darchive-${suffix}`;
  const config = loadConfig(
    sluiceS3Env(rgw, {
      SLUICE_UPLOAD_MODE: "direct",
      SLUICE_STAGING_BUCKET: staging,
      SLUICE_ARCHIVE_BUCKET: archive,
      SLUICE_DATA_DIR: dir,
      SLUICE_DATABASE: `sqlite:${path.join(dir, "sluice.db")}`,
      SLUICE_API_KEYS: KEY,
      SLUICE_RATE_LIMIT: "off",
      SLUICE_PUBLIC_URL: "https://abc123.execute-api.us-east-1.amazonaws.com",
      // The receiver is on loopback.
      SLUICE_WEBHOOK_ALLOW_PRIVATE: "true",
      // What the stack sets on the processor and the dispatcher.
      SLUICE_DISPATCHER_FUNCTION: DISPATCHER,
      AWS_ENDPOINT_URL_LAMBDA: aws.endpoint,
      SLUICE_EVENTBRIDGE_BUS: BUS,
      AWS_ENDPOINT_URL_EVENTBRIDGE: aws.endpoint,
    }),
  );
  sluice = await startLambdaSluice(config, { logger: createLogger({ level: "silent" }), createBuckets: true });
  handlers = lambdaHandlers(Promise.resolve(sluice));
});

after(async () => {
  await sluice?.close();
  await removeBuckets(s3, [staging, archive]);
  s3?.destroy();
  await rgw?.stop();
  await aws?.close();
  await receiver?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe("the dispatcher on Lambda", () => {
  let archived: { id: string; key: string };

  it("processes an upload, wakes the dispatcher with an asynchronous Invoke, and the dispatcher delivers a signed upload.archived", async () => {
    const created = await handlers.http(apiEvent("POST", "/v1/webhooks", { url: receiver.url }));
    assert.equal(created.statusCode, 201, created.body);
    receiver.useSecret((JSON.parse(created.body) as { secret: string }).secret);

    archived = await upload("cat.png", new Uint8Array(PNG));
    const processed = await handlers.s3(awsS3Event(staging, archived.key, PNG.byteLength));
    assert.deepEqual(processed.results.map((r) => r.outcome), ["recorded"]);

    const [invoke, ...more] = aws.invokes();
    assert.equal(more.length, 0, "one wake for one processed event");
    assert.equal(invoke!.path, `/2015-03-31/functions/${DISPATCHER}/invocations`);
    assert.equal(invoke!.headers["x-amz-invocation-type"], "Event", "asynchronous: the processor does not wait for the dispatcher");
    assert.match(String(invoke!.headers.authorization), /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/us-east-1\/lambda\/aws4_request/);
    assert.deepEqual(JSON.parse(invoke!.body), { source: "sluice.wake", by: "s3" });
    assert.equal(receiver.verified.length, 0, "the processor itself sends nothing");

    const run = await handlers.dispatch({ source: "sluice.wake", by: "s3" }, { getRemainingTimeInMillis: () => 60_000 });
    assert.equal(run.webhooks.delivered, 1, JSON.stringify(run));
    assert.equal(receiver.refused(), 0);
    assert.deepEqual(
      receiver.verified.map((d) => [d.type, d.data.uploadId, d.data.state]),
      [["upload.archived", archived.id, "archived"]],
    );
  });

  it("publishes the same event to EventBridge: source sluice, detail-type the event type, the webhook's JSON as detail, signed for events", () => {
    const [put, ...more] = aws.putEvents();
    assert.equal(more.length, 0);
    assert.match(String(put!.headers.authorization), /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/us-east-1\/events\/aws4_request/);
    assert.equal(put!.headers["content-type"], "application/x-amz-json-1.1");
    const { Entries } = JSON.parse(put!.body) as { Entries: { EventBusName: string; Source: string; DetailType: string; Detail: string; Time: number }[] };
    assert.equal(Entries.length, 1);
    const [entry] = Entries;
    assert.equal(entry!.EventBusName, BUS);
    assert.equal(entry!.Source, "sluice");
    assert.equal(entry!.DetailType, "upload.archived");
    const detail = JSON.parse(entry!.Detail) as Delivery & { seq: number; timestamp: string };
    assert.equal(detail.id, receiver.verified[0]!.id, "the same event id as the webhook's (targets dedupe by detail.id)");
    assert.equal(detail.data.uploadId, archived.id);
    assert.equal(Math.round(entry!.Time * 1000), Date.parse(detail.timestamp), "the event's own time, in epoch seconds as the JSON protocol sends it");
  });

  it("sends nothing twice on the next run: the webhook was delivered and the bus cursor moved", async () => {
    const run = await handlers.dispatch({ "detail-type": "Scheduled Event", source: "aws.events" });
    assert.equal(run.webhooks.delivered, 0);
    assert.deepEqual(run.eventBridge, { published: 0 });
    assert.equal(aws.putEvents().length, 1);
    assert.equal(receiver.verified.length, 1);
  });

  it("keeps the bus cursor where it was when EventBridge refuses a page, and publishes that page on the next run (at least once)", async () => {
    const second = await upload("dog.png", new Uint8Array(PNG));
    await handlers.s3(awsS3Event(staging, second.key, PNG.byteLength));
    aws.failPutEvents(1);
    const refused = await handlers.dispatch();
    assert.deepEqual(refused.eventBridge, { published: 0, stopped: "entries_failed" });
    const retried = await handlers.dispatch();
    assert.deepEqual(retried.eventBridge, { published: 1 });
    const [first, again] = aws.putEvents().slice(1).map((r) => (JSON.parse(r.body) as { Entries: { Detail: string }[] }).Entries.map((e) => (JSON.parse(e.Detail) as Delivery).id));
    assert.deepEqual(again, first, "the refused page, sent again");
    assert.equal((JSON.parse((JSON.parse(aws.putEvents().at(-1)!.body) as { Entries: { Detail: string }[] }).Entries[0]!.Detail) as Delivery).data.uploadId, second.id);
    assert.equal((await handlers.dispatch()).eventBridge?.published, 0);
  });

  it("wakes the dispatcher after the scheduled sweep too", async () => {
    const before = aws.invokes().length;
    await handlers.reconcile();
    const wakes = aws.invokes().slice(before);
    assert.deepEqual(wakes.map((w) => JSON.parse(w.body) as unknown), [{ source: "sluice.wake", by: "reconcile" }]);
  });
});
