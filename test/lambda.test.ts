/**
 * The Lambda adapters, driven locally with real event shapes (those of `@types/aws-lambda`,
 * AWS's documented samples, and an event RGW really sent): issue through an API Gateway
 * event, PUT to a real RGW, then an S3 event (straight, or through SQS and SNS) to the
 * processor handler. The handlers run in this process, as Lambda would run them, configured
 * as the stack's default configures them: tickets and metadata in DynamoDB (moto's server,
 * since dynalite has no transactions and the metadata store writes with them).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, S3Event, SQSEvent, SQSRecord } from "aws-lambda";
import type { S3Client } from "@aws-sdk/client-s3";
import { loadConfig } from "../src/config.js";
import type { App } from "../src/http/app.js";
import { createLogger } from "../src/internal/logger.js";
import type { ObjectRef } from "../src/storage/object-store.js";
import type { Sluice } from "../src/runtime/compose.js";
import { startLambdaSluice } from "../src/runtime/lambda/adapter.js";
import { lambdaHandlers } from "../src/runtime/lambda/handlers.js";
import { DynamoTicketStore } from "../src/tickets/dynamodb.js";
import { startMotoDynamo, type BackendServer } from "./helpers/backends.js";
import { LOCAL_CREDENTIALS } from "./helpers/dynamo.js";
import { PNG, awsS3Event } from "./helpers/fixtures.js";
import { keysIn, removeBuckets, s3ClientFor, sluiceS3Env, useRgw, type Rgw } from "./helpers/rgw.js";
import { makeServices } from "./helpers/services.js";

const KEY = "sk_lambda_test_0123456789abcdef";
let rgw: Rgw;
let s3: S3Client;
let sluice: Sluice;
let dir: string;
let staging: string;
let archive: string;
let handlers: ReturnType<typeof lambdaHandlers>;
let dynamo: BackendServer;

before(async () => {
  rgw = await useRgw();
  s3 = s3ClientFor(rgw);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-lambda-"));
  // Tickets and metadata in DynamoDB, as the serverless stack keeps them: one local server on a
  // free loopback port. The stack makes both tables; here the ticket table is made as the
  // ticket tests make it, and the metadata table by the store's start (ensureMetadataTable).
  dynamo = await startMotoDynamo();
  const ticketTable = new DynamoTicketStore({ table: "tickets", endpoint: dynamo.url, region: "us-east-1", credentials: LOCAL_CREDENTIALS });
  await ticketTable.ensureTable();
  await ticketTable.close();
  const suffix = randomBytes(4).toString("hex");
  staging = `staging-${suffix}`;
  archive = `archive-${suffix}`;
  const config = loadConfig(
    sluiceS3Env(rgw, {
      SLUICE_UPLOAD_MODE: "direct",
      SLUICE_STAGING_BUCKET: staging,
      SLUICE_ARCHIVE_BUCKET: archive,
      SLUICE_DATA_DIR: dir,
      SLUICE_API_KEYS: KEY,
      SLUICE_RATE_LIMIT: "off",
      SLUICE_PUBLIC_URL: "https://abc123.execute-api.us-east-1.amazonaws.com",
      SLUICE_TICKETS: "dynamodb://tickets",
      SLUICE_DATABASE: "dynamodb://sluice-metadata",
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
    }),
  );
  // As the Lambda entry builds it, but making this test's buckets (the stack makes them in AWS).
  sluice = await startLambdaSluice(config, { logger: createLogger({ level: "silent" }), createBuckets: true });
  handlers = lambdaHandlers(Promise.resolve(sluice));
});

after(async () => {
  await sluice?.close();
  await dynamo?.stop();
  await removeBuckets(s3, [staging, archive]);
  s3?.destroy();
  await rgw?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

/** An HTTP API (payload 2.0) event, as API Gateway sends it. */
function httpApiEvent(method: string, rawPath: string, body?: unknown): APIGatewayProxyEventV2 {
  const now = new Date();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString: "",
    cookies: [],
    headers: {
      accept: "application/json",
      authorization: `Bearer ${KEY}`,
      "content-type": "application/json",
      host: "abc123.execute-api.us-east-1.amazonaws.com",
      "user-agent": "curl/8.5.0",
      "x-amzn-trace-id": "Root=1-65f1c3b2-0123456789abcdef01234567",
      "x-forwarded-for": "203.0.113.9",
      "x-forwarded-port": "443",
      "x-forwarded-proto": "https",
      ...(body !== undefined && { "content-length": String(Buffer.byteLength(JSON.stringify(body))) }),
    },
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      domainName: "abc123.execute-api.us-east-1.amazonaws.com",
      domainPrefix: "abc123",
      http: { method, path: rawPath, protocol: "HTTP/1.1", sourceIp: "203.0.113.9", userAgent: "curl/8.5.0" },
      requestId: "JKJaXmPLvHcESHA=",
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    isBase64Encoded: false,
  };
}

/** A REST API (payload 1.0) proxy event. */
function restApiEvent(method: string, p: string): APIGatewayProxyEvent {
  return {
    resource: "/{proxy+}",
    path: p,
    httpMethod: method,
    headers: { Accept: "application/json", Authorization: `Bearer ${KEY}`, Host: "abc123.execute-api.us-east-1.amazonaws.com" },
    multiValueHeaders: { Accept: ["application/json"], Authorization: [`Bearer ${KEY}`], Host: ["abc123.execute-api.us-east-1.amazonaws.com"] },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { proxy: p.slice(1) },
    stageVariables: null,
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      authorizer: null,
      protocol: "HTTP/1.1",
      httpMethod: method,
      identity: {
        accessKey: null, accountId: null, apiKey: null, apiKeyId: null, caller: null, clientCert: null, cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null, cognitoIdentityId: null, cognitoIdentityPoolId: null, principalOrgId: null, sourceIp: "203.0.113.9", user: null,
        userAgent: "curl/8.5.0", userArn: null,
      },
      path: `/prod${p}`,
      stage: "prod",
      requestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
      requestTimeEpoch: Date.now(),
      resourceId: "123456",
      resourcePath: "/{proxy+}",
    },
    body: null,
    isBase64Encoded: false,
  };
}

/** An S3 notification as AWS sends it to Lambda, for this test's staging bucket by default. */
const s3Event = (key: string, bucket = staging): S3Event => awsS3Event(bucket, key, PNG.byteLength);

function sqsRecord(body: string, messageId: string): SQSRecord {
  return {
    messageId,
    receiptHandle: "MessageReceiptHandle",
    body,
    attributes: { ApproximateReceiveCount: "1", SentTimestamp: "1523232000000", SenderId: "123456789012", ApproximateFirstReceiveTimestamp: "1523232000001" },
    messageAttributes: {},
    md5OfBody: "7b270e59b47ff90a553787216d55d91d",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:sluice-staging-events",
    awsRegion: "us-east-1",
  };
}

async function issue(filename: string) {
  const res = await handlers.http(httpApiEvent("POST", "/v1/uploads", { filename, contentType: "image/png", size: PNG.byteLength }));
  assert.equal(res.statusCode, 201, res.body);
  const body = JSON.parse(res.body) as { id: string; key: string; upload: { url: string; headers: Record<string, string> } };
  assert.ok(body.upload.url.startsWith(rgw.endpoint), "direct: the client uploads straight to storage");
  const put = await fetch(body.upload.url, { method: "PUT", headers: body.upload.headers, body: new Uint8Array(PNG) });
  assert.equal(put.status, 200);
  return body;
}

async function stateOf(id: string): Promise<string> {
  const res = await handlers.http(restApiEvent("GET", `/v1/uploads/${id}`));
  assert.equal(res.statusCode, 200, res.body);
  return (JSON.parse(res.body) as { state: string }).state;
}

/** The file as `GET /v1/files/{id}` shows it through the API Gateway handler. */
async function fileOf(uploadId: string): Promise<{ state: string; size: number }> {
  const res = await handlers.http(httpApiEvent("GET", `/v1/files/fil_${uploadId.slice("upl_".length)}`));
  assert.equal(res.statusCode, 200, res.body);
  return JSON.parse(res.body) as { state: string; size: number };
}

describe("the Lambda handlers, end to end on RGW with tickets and metadata in DynamoDB", () => {
  it("issues through an HTTP API event, and an S3 event archives the upload before the handler returns", async () => {
    assert.equal(sluice.services.tickets.name, "dynamodb ticket store");
    assert.equal(sluice.services.metadata.name, "dynamodb metadata store", "as the stack configures it");
    const issued = await issue("my cat.png");
    assert.equal(await stateOf(issued.id), "issued");
    const event = s3Event(issued.key);
    // Other records in the same event: another bucket's, and a key that does not decode.
    event.Records.push(s3Event("x/y.bin", "some-other-bucket").Records[0]!);
    event.Records.push({ ...s3Event("z").Records[0]!, s3: { ...s3Event("z").Records[0]!.s3, object: { key: "upl_%E0%A4%A/bad", size: 1, eTag: "e", sequencer: "1" } } });
    const { results } = await handlers.s3(event);
    assert.deepEqual(results.map((r) => r.outcome), ["recorded", "ignored", "invalid_key"]);
    assert.equal(results[0]!.key, issued.key, "the + in the key was a space");
    assert.equal(await stateOf(issued.id), "archived", "processed before the handler returned");
    assert.deepEqual((await keysIn(s3, archive)).filter((k) => k.startsWith(`${issued.id}/`)), [issued.key]);
    const file = await fileOf(issued.id);
    assert.equal(file.state, "archived");
    assert.equal(file.size, PNG.byteLength);
  });

  it("answers an upload's server-sent events with its state and a retry hint, whole (API Gateway buffers)", async () => {
    const issued = await issue("streamed.png");
    await handlers.s3(s3Event(issued.key));
    const res = await handlers.http(restApiEvent("GET", `/v1/uploads/${issued.id}/events`));
    assert.equal(res.statusCode, 200, res.body);
    const headers = { ...res.headers, ...Object.fromEntries(Object.entries(res.multiValueHeaders ?? {}).map(([k, v]) => [k, (v as string[]).join(",")])) };
    assert.match(String(headers["content-type"]), /^text\/event-stream/, JSON.stringify(headers));
    assert.equal(headers["transfer-encoding"], undefined);
    assert.equal(res.isBase64Encoded, false, "text, as API Gateway passes it on");
    assert.match(res.body, /^event: state\ndata: \{"id":"upl_[^"]+","state":"archived"[^\n]*\nretry: 3000\n\n$/);
  });

  it("gives the same result when the event comes again, late", async () => {
    const issued = await issue("again.png");
    await handlers.s3(s3Event(issued.key));
    const again = await handlers.s3(s3Event(issued.key));
    assert.equal(again.results.length, 1);
    assert.equal(await stateOf(issued.id), "archived");
    assert.deepEqual((await keysIn(s3, archive)).filter((k) => k.startsWith(`${issued.id}/`)), [issued.key]);
  });

  it("handles the event exactly as Ceph RGW sends it", async () => {
    const issued = await issue("ceph.png");
    const sample = JSON.parse(await fs.readFile(path.join(import.meta.dirname, "fixtures/rgw-event-sample.json"), "utf8")) as S3Event;
    const record = sample.Records[0]!;
    record.s3.bucket.name = staging;
    record.s3.object.key = issued.key;
    const { results } = await handlers.s3(sample);
    assert.deepEqual(results.map((r) => r.outcome), ["recorded"]);
    assert.equal(await stateOf(issued.id), "archived");
  });

  it("takes S3 events through SQS, straight or wrapped in SNS, and drops what is not an S3 event", async () => {
    const first = await issue("via sqs.png");
    const second = await issue("via-sns.png");
    const sns = { Type: "Notification", MessageId: "95df01b4-ee98-5cb9-9903-4c221d41eb5e", TopicArn: "arn:aws:sns:us-east-1:123456789012:sluice", Message: JSON.stringify(s3Event(second.key)) };
    const event: SQSEvent = {
      Records: [
        sqsRecord(JSON.stringify(s3Event(first.key)), "m1"),
        sqsRecord(JSON.stringify(sns), "m2"),
        sqsRecord(JSON.stringify({ Service: "Amazon S3", Event: "s3:TestEvent", Time: "2026-11-23T00:00:00.000Z", Bucket: staging }), "m3"),
        sqsRecord("not json", "m4"),
      ],
    };
    assert.deepEqual(await handlers.sqs(event), { batchItemFailures: [] });
    assert.equal(await stateOf(first.id), "archived");
    assert.equal(await stateOf(second.id), "archived");
  });

  it("runs the reconcile sweep on a schedule: an upload whose event was lost is archived", async () => {
    const issued = await issue("lost-event.png");
    const report = await handlers.reconcile();
    assert.ok(report.arrivalsFound >= 1, JSON.stringify(report));
    assert.equal(await stateOf(issued.id), "archived");
  });
});

describe("the Lambda handlers' failure isolation", () => {
  it("reports only the SQS message whose record hit a down backend, and never throws", async () => {
    // The filesystem store, failing for one key only: that record is "unavailable".
    const h = await makeServices({
      wrapObjects: (store) =>
        new Proxy(store, {
          get(target, prop, receiver) {
            if (prop === "head") return (ref: ObjectRef) => (ref.key.includes("broken") ? Promise.reject(new Error("connect ECONNREFUSED")) : target.head(ref));
            return Reflect.get(target, prop, receiver) as unknown;
          },
        }),
    });
    try {
      const isolated = lambdaHandlers(Promise.resolve({ services: h.services, app: undefined as unknown as App, idle: () => Promise.resolve() }));
      const bucket = h.services.config.buckets.staging;
      const event: SQSEvent = {
        Records: [
          sqsRecord(JSON.stringify(s3Event("upl_aaaaaaaaaaaaaaaaaaaaaa/broken.png", bucket)), "bad"),
          sqsRecord(JSON.stringify(s3Event("upl_bbbbbbbbbbbbbbbbbbbbbb/fine.png", bucket)), "good"),
        ],
      };
      assert.deepEqual(await isolated.sqs(event), { batchItemFailures: [{ itemIdentifier: "bad" }] });
      // Straight from S3: the failing record is reported in the result, and the handler still succeeds.
      const direct = await isolated.s3({ Records: [...s3Event("upl_aaaaaaaaaaaaaaaaaaaaaa/broken.png", bucket).Records, ...s3Event("upl_bbbbbbbbbbbbbbbbbbbbbb/fine.png", bucket).Records, { nonsense: true }] });
      assert.deepEqual(direct.results.map((r) => r.outcome), ["unavailable", "absent", "malformed"]);
    } finally {
      await h.close();
    }
  });

  it("skips a record whose key is traversal-shaped, and neither fails nor retries the others", async () => {
    const h = await makeServices();
    try {
      const isolated = lambdaHandlers(Promise.resolve({ services: h.services, app: undefined as unknown as App, idle: () => Promise.resolve() }));
      const bucket = h.services.config.buckets.staging;
      const traversal = s3Event("x", bucket);
      traversal.Records[0]!.s3.object.key = "..%2F..%2Fetc%2Fpasswd";
      const direct = await isolated.s3({ Records: [...traversal.Records, ...s3Event("upl_bbbbbbbbbbbbbbbbbbbbbb/fine.png", bucket).Records] });
      assert.deepEqual(direct.results.map((r) => [r.key, r.outcome]), [["../../etc/passwd", "invalid_key"], ["upl_bbbbbbbbbbbbbbbbbbbbbb/fine.png", "absent"]]);
      // Through SQS: a message of bad keys only is not redelivered (that could never help).
      assert.deepEqual(await isolated.sqs({ Records: [sqsRecord(JSON.stringify(traversal), "bad-key")] }), { batchItemFailures: [] });
      assert.equal((await h.services.metrics.eventRecordsIgnored.get()).values.reduce((n, v) => n + v.value, 0), 2);
    } finally {
      await h.close();
    }
  });
});

describe("per-address rate limits on Lambda", () => {
  it("counts issues by the address API Gateway saw, and answers 429 past SLUICE_RATE_LIMIT_IP", async () => {
    const limitedDir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-lambda-ip-"));
    const limited = await startLambdaSluice(
      loadConfig({ SLUICE_DATA_DIR: limitedDir, SLUICE_API_KEYS: KEY, SLUICE_RATE_LIMIT: "off", SLUICE_RATE_LIMIT_IP: "2/min" }),
      { logger: createLogger({ level: "silent" }) },
    );
    try {
      const http = lambdaHandlers(Promise.resolve(limited)).http;
      const request = { filename: "a.png", contentType: "image/png", size: PNG.byteLength };
      const fromHttpApi = (sourceIp: string) => {
        const event = httpApiEvent("POST", "/v1/uploads", request);
        event.requestContext.http.sourceIp = sourceIp;
        event.headers["x-forwarded-for"] = sourceIp;
        return http(event);
      };
      // A REST API (payload 1.0) event carries the address in requestContext.identity.
      const fromRestApi = (sourceIp: string) => {
        const event = restApiEvent("POST", "/v1/uploads");
        event.requestContext.identity.sourceIp = sourceIp;
        event.headers["Content-Type"] = "application/json";
        event.multiValueHeaders["Content-Type"] = ["application/json"];
        event.body = JSON.stringify(request);
        return http(event);
      };
      assert.deepEqual([(await fromHttpApi("198.51.100.7")).statusCode, (await fromHttpApi("198.51.100.7")).statusCode], [201, 201]);
      const refused = await fromHttpApi("198.51.100.7");
      assert.equal(refused.statusCode, 429, refused.body);
      assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, "rate_limited");
      // Another address has its own count; the REST payload is counted the same way.
      assert.deepEqual([(await fromRestApi("198.51.100.8")).statusCode, (await fromRestApi("198.51.100.8")).statusCode, (await fromRestApi("198.51.100.8")).statusCode], [201, 201, 429]);
      assert.equal((await fromHttpApi("198.51.100.9")).statusCode, 201);
    } finally {
      await limited.close();
      await fs.rm(limitedDir, { recursive: true, force: true });
    }
  });
});
