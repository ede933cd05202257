/**
 * What one upload costs (issue 19, point 5): every mode (gateway, presigned PUT, POST form,
 * edge, scoped credentials) on each deployment (one Node instance on its embedded defaults;
 * the serverless stack's Lambda handlers driven in this process, as test/lambda.test.ts
 * drives them, with DynamoDB on dynalite), for a small file and a 1 GiB multipart one, from
 * issue to archived, with every call counted by the meters in bench/cost-meters.ts. The
 * counts become dollars in bench/cost-prices.ts.
 *
 * `BENCH_SECTIONS=cost npm run bench`, or alone: `node --import tsx bench/cost.ts`.
 * `BENCH_COST_BIG` (bytes, default 1 GiB) shrinks the big upload while developing.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { APIGatewayProxyEventV2, CloudFrontHeaders, CloudFrontRequest, CloudFrontRequestEvent, CloudFrontResponseEvent, CloudFrontResultResponse, SQSEvent } from "aws-lambda";
import { DeleteObjectCommand, S3Client, type S3Client as S3ClientType } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { serve } from "@hono/node-server";
import { SignatureV4 } from "@smithy/signature-v4";
import { loadConfig, type Config } from "../src/config.js";
import { stagingHeldUntil } from "../src/domain/pipeline.js";
import { loadProcessors } from "../src/domain/processors.js";
import { createLogger } from "../src/internal/logger.js";
import { createMetadataStore } from "../src/metadata/factory.js";
import { webhookStoreBeside } from "../src/webhooks/factory.js";
import type { WebhookStore } from "../src/webhooks/store.js";
import { assembleSluice, type Sluice } from "../src/runtime/assemble.js";
import { lambdaRuntime } from "../src/runtime/lambda/adapter.js";
import { edgeHandlers } from "../src/runtime/lambda/edge-handlers.js";
import { lambdaHandlers } from "../src/runtime/lambda/handlers.js";
import { nodeRuntime } from "../src/runtime/node/adapter.js";
import { createStorage } from "../src/storage/factory.js";
import { createS3Client } from "../src/storage/s3.js";
import { StsCredentialIssuer, createStsClient } from "../src/storage/s3-credentials.js";
import { createTicketStore } from "../src/tickets/factory.js";
import { DynamoTicketStore } from "../src/tickets/dynamodb.js";
import { startMotoDynamo, type BackendServer } from "../test/helpers/backends.js";
import { LOCAL_CREDENTIALS } from "../test/helpers/dynamo.js";
import { PNG, awsS3Event } from "../test/helpers/fixtures.js";
import { removeBuckets, useRgw, type Rgw } from "../test/helpers/rgw.js";
import { freePort } from "../test/helpers/server.js";
import { PARTY_HEADER, countingPort, startDynamoMeter, startStorageMeter, tally, type DynamoMeter, type StorageMeter } from "./cost-meters.js";
import { median, writeRandomFile } from "./measure.js";

export type Mode = "gateway" | "presigned PUT" | "POST form" | "edge" | "credentials";
export type DeploymentName = "node" | "serverless";

/** Everything one upload made happen, issue to archived. */
export interface FlowCounts {
  deployment: DeploymentName;
  mode: Mode;
  size: number;
  /** What Sluice planned: one request, or parts. */
  shape: string;
  /** `party|op` → requests to storage (party: sluice, client, cloudfront). */
  storage: Map<string, number>;
  storageSent: Map<string, number>;
  storageReceived: Map<string, number>;
  tickets: Map<string, number>;
  metadata: Map<string, number>;
  /** `table|op` → DynamoDB calls, and `table|read`/`table|write` → capacity units. */
  dynamoCalls: Map<string, number>;
  dynamoUnits: Map<string, number>;
  /** Requests to Sluice's HTTP API (on the stack: API Gateway requests, one issuer invocation each). */
  apiRequests: number;
  /** function → each invocation's measured wall time, ms. */
  lambda: Map<string, number[]>;
  /** Storage events delivered (on the stack through SQS: one message each). */
  storageEvents: number;
  /** Requests CloudFront served (edge mode). */
  cloudFrontRequests: number;
  /** How long the object stays in staging after it is archived (`stagingHeldUntil`: a direct upload's URL may still be used), s. */
  stagingHoldSeconds: number;
  seconds: number;
}

const KEY = "sk_cost_bench_0123456789abcdefghij";
const MIB = 1024 ** 2;
const SMALL = 100 * 1024;
/** Sluice's default SLUICE_MULTIPART_THRESHOLD: at or above it, an upload is planned in parts. */
const MULTIPART_THRESHOLD = 64 * MIB;
const BIG = Number(process.env.BENCH_COST_BIG ?? 1024 ** 3);

const silent = createLogger({ level: "silent" });

interface Issued {
  id: string;
  key: string;
  upload?: { method: string; url: string; headers: Record<string, string>; fields?: Record<string, string> };
  multipart?: { partSize: number; partCount: number };
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken: string; bucket: string; key: string; region: string; endpoint?: string; forcePathStyle?: boolean; contentType: string };
}

/** One deployment of Sluice, ready for uploads in some modes, with its meters. */
interface Deployment {
  name: DeploymentName;
  /** Where the client calls Sluice's API. */
  api: string;
  sluice: Sluice;
  staging: string;
  archive: string;
  /** After the client's bytes and calls: what storage and the platform then do on their own (the stack: S3's event, through SQS, to the processor). */
  afterUpload(key: string, size: number): Promise<void>;
  /** Whether the client calls `complete` after a single upload (a Node instance hears of nothing else; the stack hears S3's event). */
  completesSingle: boolean;
  apiRequests: { n: number };
  lambda: Map<string, number[]>;
  tickets: Map<string, number>;
  metadata: Map<string, number>;
  events: { n: number };
  cloudFront: { n: number };
  close(): Promise<void>;
}

const s3Env = (storageUrl: string, rgw: Rgw, staging: string, archive: string, dir: string): Record<string, string> => ({
  SLUICE_STORAGE: "s3",
  AWS_ENDPOINT_URL_S3: storageUrl,
  AWS_ENDPOINT_URL_STS: storageUrl,
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: rgw.accessKeyId,
  AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
  SLUICE_S3_FORCE_PATH_STYLE: "true",
  SLUICE_STAGING_BUCKET: staging,
  SLUICE_ARCHIVE_BUCKET: archive,
  SLUICE_DATA_DIR: dir,
  SLUICE_API_KEYS: KEY,
  SLUICE_RATE_LIMIT: "off",
  SLUICE_LOG_LEVEL: "silent",
  // The sweep is periodic, not per upload: it is left out of the per-upload counts.
  SLUICE_RECONCILE_INTERVAL: "86400",
});
/** Scoped credentials (direct mode only): RGW's STS takes any role name; the stack gives the issuer one. */
const STS_ENV = { SLUICE_STS_ROLE_ARN: "arn:aws:iam:::role/sluice-uploader" };

/**
 * Builds Sluice as `createSluice` does (src/runtime/compose.ts), with counting proxies around
 * the ticket and metadata ports.
 */
async function assembleCounted(config: Config, runtime: typeof nodeRuntime, counters: { tickets: Map<string, number>; metadata: Map<string, number> }) {
  const { objects, presigner } = await createStorage(config.storage);
  await objects.prepare([config.buckets.staging, config.buckets.archive]);
  const credentials = config.sts ? new StsCredentialIssuer({ client: createStsClient(config.sts), roleArn: config.sts.roleArn, maxSeconds: config.sts.maxSeconds }) : undefined;
  const metadata = await createMetadataStore(config.database);
  const sluice = await assembleSluice(
    config,
    {
      objects,
      presigner,
      credentials,
      metadata: countingPort(metadata, counters.metadata),
      webhooks: await webhooksBeside(metadata),
      tickets: countingPort(await createTicketStore(config.tickets), counters.tickets),
      processors: await loadProcessors(config.processors),
    },
    { logger: silent, runtime: runtime({ logger: silent }) },
  );
  return sluice;
}

/**
 * The webhooks store beside the metadata store. Until the DynamoDB one exists (i19-dyn-hooks),
 * a DynamoDB deployment's is an in-memory SQLite one: with no webhook registered, only the
 * dispatcher's look for due deliveries touches it, and that is not in the DynamoDB counts.
 */
async function webhooksBeside(metadata: Awaited<ReturnType<typeof createMetadataStore>>): Promise<WebhookStore> {
  try {
    return webhookStoreBeside(metadata);
  } catch {
    const side = await createMetadataStore({ kind: "sqlite", path: ":memory:" });
    await side.migrate();
    return webhookStoreBeside(side);
  }
}

/** One Node instance (`npm start` on its defaults: SQLite metadata, memory tickets) on S3 storage. */
async function nodeDeployment(rgw: Rgw, storage: StorageMeter, uploadMode: "gateway" | "direct", tmp: string): Promise<Deployment> {
  const suffix = randomBytes(4).toString("hex");
  const [staging, archive] = [`cost-staging-${suffix}`, `cost-archive-${suffix}`];
  const dir = await fs.mkdtemp(path.join(tmp, "node-"));
  const port = await freePort();
  const config = loadConfig({ ...s3Env(storage.url, rgw, staging, archive, dir), SLUICE_UPLOAD_MODE: uploadMode, ...(uploadMode === "direct" && STS_ENV), PORT: String(port), SLUICE_PUBLIC_URL: `http://127.0.0.1:${port}` });
  const counters = { tickets: new Map<string, number>(), metadata: new Map<string, number>() };
  const sluice = await assembleCounted(config, nodeRuntime, counters);
  // Node's webhook loop reads the events outbox once per wake-up; with no webhook nothing is
  // sent. It is off here so that the counts end when processing ends.
  sluice.start({ reconcileLoop: false, webhookLoop: false, healthChecks: false });
  const apiRequests = { n: 0 };
  const server = serve({
    fetch: (req: Request, env: unknown) => {
      if (!new URL(req.url).pathname.match(/\/(content|parts\/\d+)$/)) apiRequests.n++; // gateway bytes are not API calls
      return sluice.app.fetch(req, env);
    },
    port,
    hostname: "127.0.0.1",
    createServer: http.createServer,
  });
  return {
    name: "node",
    api: `http://127.0.0.1:${port}`,
    sluice,
    staging,
    archive,
    afterUpload: () => Promise.resolve(),
    completesSingle: true,
    apiRequests,
    lambda: new Map(),
    ...counters,
    events: { n: 0 },
    cloudFront: { n: 0 },
    async close() {
      server.close();
      await sluice.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Times one handler call as one invocation of `fn`. */
async function invoke<T>(lambda: Map<string, number[]>, fn: string, call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await call();
  } finally {
    const list = lambda.get(fn) ?? [];
    list.push(performance.now() - started);
    lambda.set(fn, list);
  }
}

const headersOf = (h: Record<string, string>): CloudFrontHeaders => Object.fromEntries(Object.entries(h).map(([name, value]) => [name.toLowerCase(), [{ key: name, value }]]));

/** An HTTP API (payload 2.0) event for a request, as API Gateway sends it. */
function apiGatewayEvent(req: http.IncomingMessage, body: string): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? "/", "http://api");
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
  const now = new Date();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: { ...headers, host: "abc123.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https" },
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      domainName: "abc123.execute-api.us-east-1.amazonaws.com",
      domainPrefix: "abc123",
      http: { method: req.method ?? "GET", path: url.pathname, protocol: "HTTP/1.1", sourceIp: "203.0.113.9", userAgent: "bench" },
      requestId: randomBytes(8).toString("hex"),
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body && { body }),
    isBase64Encoded: false,
  };
}

/** Listens on a free loopback port; resolves with the URL and a closer. */
async function listen(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function readAll(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The serverless stack, in this process: the issuer behind an API Gateway stand-in, S3's
 * events through SQS to the processor, the processor waking the dispatcher through the
 * Lambda API (a stand-in that runs it), and, in edge mode, a CloudFront stand-in running the
 * two Lambda@Edge functions around the PUT to staging (as test/edge.test.ts does). Tickets and
 * metadata in DynamoDB, when the DynamoDB metadata store exists (else `metadataUrl`).
 */
async function serverlessDeployment(rgw: Rgw, storage: StorageMeter, dynamo: DynamoMeter, uploadMode: "direct" | "edge", tmp: string, metadataUrl: string): Promise<Deployment> {
  const suffix = randomBytes(4).toString("hex");
  const [staging, archive] = [`cost-staging-${suffix}`, `cost-archive-${suffix}`];
  const dir = await fs.mkdtemp(path.join(tmp, "sls-"));
  const lambda = new Map<string, number[]>();
  const apiRequests = { n: 0 };
  const cloudFront = { n: 0 };
  const events = { n: 0 };
  const counters = { tickets: new Map<string, number>(), metadata: new Map<string, number>() };
  // The handlers exist before Sluice does (the Lambda API stand-in needs them); they wait for it, as at a cold start.
  let started: (sluice: Sluice) => void = () => undefined;
  const handlers = lambdaHandlers(new Promise<Sluice>((resolve) => (started = resolve)));

  // The Lambda API's Invoke (the processor wakes the dispatcher, InvocationType Event).
  const woken = new Set<Promise<unknown>>();
  const lambdaApi = await listen((req, res) => {
    void readAll(req).then(() => {
      res.writeHead(202).end();
      const run = invoke(lambda, "Dispatcher", () => handlers.dispatch({ source: "sluice.wake" }));
      woken.add(run);
      void run.finally(() => woken.delete(run));
    });
  });
  const front = uploadMode === "edge" ? await startCloudFront() : undefined;
  const env = {
    ...s3Env(storage.url, rgw, staging, archive, dir),
    SLUICE_UPLOAD_MODE: uploadMode,
    ...(uploadMode === "direct" && STS_ENV),
    ...(front && { SLUICE_EDGE_URL: front.url }),
    SLUICE_PUBLIC_URL: "https://abc123.execute-api.us-east-1.amazonaws.com",
    SLUICE_TICKETS: "dynamodb://tickets",
    SLUICE_DATABASE: metadataUrl,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
    SLUICE_DISPATCHER_FUNCTION: "sluice-dispatcher",
    AWS_ENDPOINT_URL_LAMBDA: lambdaApi.url,
  };
  const config = loadConfig(env);
  const sluice = await assembleCounted(config, lambdaRuntime, counters);
  // Backend health checks are periodic, not per upload: off, as in the Node deployment.
  sluice.start({ healthChecks: false });
  started(sluice);
  const gateway = await listen((req, res) => {
    void (async () => {
      const body = (await readAll(req)).toString("utf8");
      apiRequests.n++;
      const answer = await invoke(lambda, "Issuer", () => handlers.http(apiGatewayEvent(req, body)));
      const result = answer as { statusCode: number; headers?: Record<string, string>; body: string; isBase64Encoded?: boolean };
      res.writeHead(result.statusCode, result.headers ?? {}).end(result.isBase64Encoded ? Buffer.from(result.body, "base64") : result.body);
    })().catch((err: unknown) => res.writeHead(599).end(String(err)));
  });

  /** The CloudFront distribution in front of staging, with its two Lambda@Edge functions (their own ticket store client, as at an edge location). */
  async function startCloudFront() {
    const edgeTickets = countingPort(new DynamoTicketStore({ table: "tickets", endpoint: dynamo.url, region: "us-east-1", credentials: LOCAL_CREDENTIALS }), counters.tickets);
    const functions = edgeHandlers(Promise.resolve(edgeTickets), silent);
    const sdk = new S3Client({ region: "us-east-1" });
    const signer = new SignatureV4({ service: "s3", region: "us-east-1", credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey }, sha256: sdk.config.sha256 });
    sdk.destroy();
    const send = (res: http.ServerResponse, r: CloudFrontResultResponse) => {
      const headers = Object.fromEntries(Object.values(r.headers ?? {}).flatMap((values) => values.map((v) => [v.key ?? "", v.value])));
      res.writeHead(Number(r.status), headers).end(r.body ?? "");
    };
    const server = await listen((req, res) => {
      void (async () => {
        cloudFront.n++;
        const url = new URL(req.url ?? "/", "http://front");
        const viewer: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string" && !["host", "connection", PARTY_HEADER].includes(name)) viewer[name] = value;
        const requestId = randomBytes(8).toString("hex");
        const config = { distributionDomainName: "d111111abcdef8.cloudfront.net", distributionId: "EDFDVBD6EXAMPLE", requestId };
        const event: CloudFrontRequestEvent = {
          Records: [{ cf: { config: { ...config, eventType: "origin-request" }, request: { clientIp: "203.0.113.178", method: req.method ?? "GET", uri: url.pathname, querystring: url.search.slice(1), headers: headersOf({ ...viewer, Host: `${staging}.s3.us-east-1.amazonaws.com` }), origin: { s3: { authMethod: "none", customHeaders: {}, domainName: `${staging}.s3.us-east-1.amazonaws.com`, path: "" } } } } }],
        };
        const result = await invoke(lambda, "EdgeOriginRequest", () => functions.originRequest(event));
        if (result && "status" in result) {
          req.resume();
          return send(res, result);
        }
        const request = result as CloudFrontRequest;
        const target = new URL(`${storage.url}/${staging}${request.uri}`);
        const headers: Record<string, string> = { host: target.host };
        for (const values of Object.values(request.headers)) for (const v of values) if (v.key && !["host", "via"].includes(v.key.toLowerCase())) headers[v.key.toLowerCase()] = v.value;
        const signed = await signer.sign({ method: request.method, protocol: "http:", hostname: target.hostname, port: Number(target.port), path: target.pathname, query: {}, headers });
        const body = await readAll(req);
        const answer = await fetch(target, { method: request.method, headers: { ...signed.headers, [PARTY_HEADER]: "cloudfront" }, body: new Uint8Array(body) });
        await answer.arrayBuffer();
        const response: CloudFrontResponseEvent = {
          Records: [
            {
              cf: {
                config: { ...config, eventType: "origin-response" },
                request: { clientIp: request.clientIp, method: request.method, uri: request.uri, querystring: request.querystring, headers: request.headers },
                response: { status: String(answer.status), statusDescription: answer.statusText, headers: headersOf(Object.fromEntries([...answer.headers].filter(([name]) => ["etag", "content-type"].includes(name)))) },
              },
            },
          ],
        };
        send(res, await invoke(lambda, "EdgeOriginResponse", () => functions.originResponse(response)));
      })().catch((err: unknown) => res.writeHead(599).end(String(err)));
    });
    return { url: server.url, close: async () => (await server.close(), await edgeTickets.close()) };
  }

  return {
    name: "serverless",
    api: gateway.url,
    sluice,
    staging,
    archive,
    async afterUpload(key, size) {
      // S3 → SQS (the stack's default, viaQueue) → the processor, one message per object created.
      events.n++;
      const s3Event = awsS3Event(staging, key, size);
      const sqsEvent: SQSEvent = {
        Records: [
          {
            messageId: randomBytes(8).toString("hex"),
            receiptHandle: "handle",
            body: JSON.stringify(s3Event),
            attributes: { ApproximateReceiveCount: "1", SentTimestamp: String(Date.now()), SenderId: "AIDAIENQZJOLO23YVJ4VO", ApproximateFirstReceiveTimestamp: String(Date.now()) },
            messageAttributes: {},
            md5OfBody: createHash("md5").update(JSON.stringify(s3Event)).digest("hex"),
            eventSource: "aws:sqs",
            eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:sluice-events",
            awsRegion: "us-east-1",
          },
        ],
      };
      await invoke(lambda, "Processor", () => handlers.sqs(sqsEvent));
      // The dispatcher runs on its own (an asynchronous invoke); the upload's count ends with it.
      await Promise.all(woken);
    },
    completesSingle: false,
    apiRequests,
    lambda,
    ...counters,
    events,
    cloudFront,
    async close() {
      await gateway.close();
      await front?.close();
      await sluice.close();
      await lambdaApi.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

async function callApi<T>(d: Deployment, method: string, p: string, body?: unknown): Promise<T> {
  const res = await fetch(`${d.api}${p}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body !== undefined && { "content-type": "application/json" }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Streams part of a file as a PUT (or a whole-file POST form) with the client's party header; returns the answer's ETag. */
function sendFile(url: string, method: "PUT" | "POST", headers: Record<string, string>, file: string, range: { start: number; end: number }, form?: { fields: Record<string, string>; contentType: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const boundary = `----cost${randomBytes(8).toString("hex")}`;
    const pre = form
      ? Buffer.from(
          Object.entries(form.fields).map(([k, v]) => `--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join("") +
            `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="bench.bin"\r\ncontent-type: ${form.contentType}\r\n\r\n`,
        )
      : Buffer.alloc(0);
    const post = form ? Buffer.from(`\r\n--${boundary}--\r\n`) : Buffer.alloc(0);
    const length = pre.length + (range.end - range.start) + post.length;
    const req = http.request(url, {
      method,
      headers: { ...headers, ...(form && { "content-type": `multipart/form-data; boundary=${boundary}` }), "content-length": String(length), [PARTY_HEADER]: "client" },
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => ((res.statusCode ?? 0) < 300 ? resolve(String(res.headers.etag ?? "")) : reject(new Error(`${method} ${url} answered ${res.statusCode}: ${text}`))));
    });
    req.on("error", reject);
    req.write(pre);
    const stream = createReadStream(file, { start: range.start, end: range.end - 1, highWaterMark: MIB });
    stream.on("error", reject);
    stream.on("end", () => req.end(post));
    stream.pipe(req, { end: false });
  });
}

/** The user's side: ask Sluice, send the bytes as told, say they are there. */
async function clientUpload(d: Deployment, mode: Mode, file: { path: string; size: number; sha256: string }): Promise<{ issued: Issued; shape: string }> {
  const contentType = "image/png";
  const issued = await callApi<Issued>(d, "POST", "/v1/uploads", {
    filename: "photo.png",
    contentType,
    size: file.size,
    ...(mode === "POST form" && { method: "POST" }),
    ...(mode === "credentials" && { method: "credentials" }),
    // Edge mode's single PUT needs the hash (CloudFront signs it); the SDK sends one for single uploads when asked to.
    ...(mode === "edge" && file.size < MULTIPART_THRESHOLD && { sha256: file.sha256 }),
  });
  if (issued.multipart) {
    const { partSize, partCount } = issued.multipart;
    const urls: { partNumber: number; url: string; headers: Record<string, string> }[] = [];
    // In batches of 64, as the client SDK asks (packages/client/src/upload.ts).
    for (let first = 1; first <= partCount; first += 64) {
      const partNumbers = Array.from({ length: Math.min(64, partCount - first + 1) }, (_, i) => first + i);
      urls.push(...(await callApi<{ parts: typeof urls }>(d, "POST", `/v1/uploads/${issued.id}/parts`, { partNumbers })).parts);
    }
    const etags: { partNumber: number; etag: string }[] = [];
    let next = 0;
    // Four parts at a time, the SDK's default.
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = next++; i < urls.length; i = next++) {
          const u = urls[i]!;
          const start = (u.partNumber - 1) * partSize;
          etags.push({ partNumber: u.partNumber, etag: await sendFile(u.url, "PUT", u.headers, file.path, { start, end: Math.min(file.size, start + partSize) }) });
        }
      }),
    );
    etags.sort((a, b) => a.partNumber - b.partNumber);
    await callApi(d, "POST", `/v1/uploads/${issued.id}/complete`, { parts: etags });
    await d.afterUpload(issued.key, file.size);
    return { issued, shape: `${partCount} parts of ${partSize / MIB} MiB` };
  }
  if (issued.credentials) {
    const c = issued.credentials;
    const s3 = new S3Client({ region: c.region, ...(c.endpoint && { endpoint: c.endpoint }), forcePathStyle: c.forcePathStyle ?? false, credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken } });
    s3.middlewareStack.add(
      (next) => (args) => {
        (args.request as { headers: Record<string, string> }).headers[PARTY_HEADER] = "client";
        return next(args);
      },
      { step: "finalizeRequest", name: "costParty" },
    );
    // The user's uploader decides: lib-storage goes multipart above its part size (here Sluice's 16 MiB), four parts at a time.
    const upload = new Upload({ client: s3, partSize: 16 * MIB, queueSize: 4, params: { Bucket: c.bucket, Key: c.key, Body: createReadStream(file.path), ContentType: c.contentType } });
    await upload.done();
    s3.destroy();
    // The credentials' documented flow: upload, then complete.
    await callApi(d, "POST", `/v1/uploads/${issued.id}/complete`);
    await d.afterUpload(issued.key, file.size);
    const parts = Math.ceil(file.size / (16 * MIB));
    return { issued, shape: parts > 1 ? `the user's SDK: ${parts} parts of 16 MiB` : "the user's SDK: one PUT" };
  }
  const u = issued.upload!;
  if (u.method === "POST") await sendFile(u.url, "POST", u.headers, file.path, { start: 0, end: file.size }, { fields: u.fields ?? {}, contentType });
  else await sendFile(u.url, "PUT", u.headers, file.path, { start: 0, end: file.size });
  if (d.completesSingle && mode !== "gateway") await callApi(d, "POST", `/v1/uploads/${issued.id}/complete`);
  await d.afterUpload(issued.key, file.size);
  return { issued, shape: "one request" };
}

/** One counted upload: meters zeroed, the flow, processing waited for, then the counts read. */
async function countedFlow(d: Deployment, mode: Mode, file: { path: string; size: number; sha256: string }, meters: { storage: StorageMeter; dynamo: DynamoMeter | undefined }, direct: S3ClientType): Promise<FlowCounts> {
  const reset = () => {
    meters.storage.reset();
    meters.dynamo?.reset();
    d.tickets.clear();
    d.metadata.clear();
    d.lambda.clear();
    d.apiRequests.n = 0;
    d.events.n = 0;
    d.cloudFront.n = 0;
  };
  reset();
  const started = performance.now();
  const { issued, shape } = await clientUpload(d, mode, file);
  await d.sluice.idle();
  const seconds = (performance.now() - started) / 1000;
  const counts: FlowCounts = {
    deployment: d.name,
    mode,
    size: file.size,
    shape,
    storage: new Map(meters.storage.requests),
    storageSent: new Map(meters.storage.sent),
    storageReceived: new Map(meters.storage.received),
    tickets: new Map(d.tickets),
    metadata: new Map(d.metadata),
    dynamoCalls: new Map(meters.dynamo?.calls ?? []),
    dynamoUnits: new Map(meters.dynamo?.units ?? []),
    apiRequests: d.apiRequests.n,
    lambda: new Map([...d.lambda].map(([k, v]) => [k, [...v]])),
    storageEvents: d.events.n,
    cloudFrontRequests: d.cloudFront.n,
    stagingHoldSeconds: 0,
    seconds,
  };
  const record = await d.sluice.services.metadata.getUpload(issued.id);
  if (record?.state !== "archived") throw new Error(`${d.name} ${mode}: the upload ended ${record?.state}: ${JSON.stringify(record)}`);
  counts.stagingHoldSeconds = Math.max(0, stagingHeldUntil(d.sluice.services, record) - (record.archivedAt ?? Date.now())) / 1000;
  // The archived object goes at once, and the staging copy a direct upload leaves for the sweep
  // (priced above as held): RGW keeps its objects in memory, and it is shared.
  await direct.send(new DeleteObjectCommand({ Bucket: d.archive, Key: issued.key }));
  await direct.send(new DeleteObjectCommand({ Bucket: d.staging, Key: issued.key }));
  return counts;
}

export async function countUploads(options: { tmp: string; log?: (line: string) => void; metadataUrl?: string }): Promise<FlowCounts[]> {
  const log = options.log ?? console.log;
  const rgw = await useRgw();
  const direct = createS3Client({ endpoint: rgw.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } });
  const storage = await startStorageMeter(rgw.endpoint);
  let moto: BackendServer | undefined;
  let dynamo: DynamoMeter | undefined;
  const results: FlowCounts[] = [];
  const buckets: string[] = [];
  const files: Record<"small" | "big", { path: string; size: number; sha256: string }> = {
    small: await makeFile(options.tmp, "small.png", SMALL),
    big: await makeFile(options.tmp, "big.png", BIG),
  };
  const run = async (d: Deployment, modes: Mode[]) => {
    buckets.push(d.staging, d.archive);
    try {
      for (const mode of modes) {
        await countedFlow(d, mode, files.small, { storage, dynamo }, direct); // warm-up: a warm container's figures, not a cold start's
        for (const size of ["small", "big"] as const) {
          // Small uploads three times: the counts must agree, and durations are their medians.
          const runs: FlowCounts[] = [];
          for (let i = 0; i < (size === "small" ? SMALL_RUNS : 1); i++) runs.push(await countedFlow(d, mode, files[size], { storage, dynamo }, direct));
          const c = mergeRuns(runs);
          results.push(c);
          log(`${d.name} ${mode} ${size === "small" ? "100 KiB" : "1 GiB"}: ${c.shape}, ${c.seconds.toFixed(1)} s, storage ${fmtMap(c.storage)}; tickets ${fmtMap(c.tickets)}; metadata ${fmtMap(c.metadata)}; dynamo ${fmtMap(c.dynamoCalls)} units ${fmtMap(c.dynamoUnits)}; lambda ${[...c.lambda].map(([f, ms]) => `${f}×${ms.length} ${ms.map((m) => m.toFixed(0)).join("+")} ms`).join(", ")}`);
        }
      }
    } finally {
      if (process.env.BENCH_COST_DEBUG) console.log(`closing ${d.name}`);
      await d.close();
    }
  };
  // `BENCH_COST_DEPLOYMENTS=node` or `serverless`: one of them only (while developing).
  const deployments = new Set((process.env.BENCH_COST_DEPLOYMENTS ?? "node,serverless").split(","));
  try {
    if (deployments.has("node")) {
      await run(await nodeDeployment(rgw, storage, "gateway", options.tmp), ["gateway"]);
      await run(await nodeDeployment(rgw, storage, "direct", options.tmp), ["presigned PUT", "POST form", "credentials"]);
    }
    if (!deployments.has("serverless")) return results;
    // One DynamoDB for the stack's two tables: moto's server (the metadata store needs its
    // transactions; dynalite has none), behind the meter.
    moto = await startMotoDynamo();
    dynamo = await startDynamoMeter(moto.url);
    const ticketTable = new DynamoTicketStore({ table: "tickets", endpoint: dynamo.url, region: "us-east-1", credentials: LOCAL_CREDENTIALS });
    await ticketTable.ensureTable();
    await ticketTable.close();
    const metadataUrl = options.metadataUrl ?? process.env.BENCH_COST_METADATA ?? "dynamodb://sluice-metadata";
    await run(await serverlessDeployment(rgw, storage, dynamo, "direct", options.tmp, metadataUrl), ["presigned PUT", "POST form", "credentials"]);
    await run(await serverlessDeployment(rgw, storage, dynamo, "edge", options.tmp, metadataUrl), ["edge"]);
  } finally {
    const step = (s: string) => process.env.BENCH_COST_DEBUG && console.log(`cleanup: ${s}`);
    step("buckets");
    await removeBuckets(direct, buckets).catch(() => undefined);
    step("storage meter");
    await storage.close();
    step("dynamo meter");
    await dynamo?.close();
    step("moto");
    await moto?.stop();
    direct.destroy();
    step("rgw");
    await rgw.stop();
  }
  return results;
}

const SMALL_RUNS = 3;

/** One flow's figures from repeated runs: the counts, which must be the same each time, and each invocation's median duration. */
function mergeRuns(runs: FlowCounts[]): FlowCounts {
  const first = runs[0]!;
  const countsOf = (c: FlowCounts) => JSON.stringify([c.storage, c.tickets, c.metadata, c.dynamoCalls, c.apiRequests, c.storageEvents, c.cloudFrontRequests, [...c.lambda].map(([f, ms]) => [f, ms.length]).sort()].map((x) => (x instanceof Map ? [...x].sort() : x)));
  for (const r of runs) if (countsOf(r) !== countsOf(first)) console.warn(`counts differ between runs of ${first.deployment} ${first.mode}: ${countsOf(first)} / ${countsOf(r)}`);
  const lambda = new Map([...first.lambda].map(([fn, ms]) => [fn, ms.map((_, i) => median(runs.map((r) => r.lambda.get(fn)?.[i] ?? NaN)))]));
  return { ...first, lambda, seconds: median(runs.map((r) => r.seconds)) };
}

async function makeFile(dir: string, name: string, size: number) {
  const file = path.join(dir, name);
  await writeRandomFile(file, size);
  // A real PNG first, so that the sniffed type is the declared one (as the tests make theirs).
  const handle = await fs.open(file, "r+");
  await handle.write(PNG, 0, PNG.byteLength, 0);
  await handle.close();
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return { path: file, size, sha256: hash.digest("hex") };
}

export const fmtMap = (m: Map<string, number>) =>
  [...m]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(1)}`)
    .join(", ") || "none";

export { tally };

if (import.meta.url === `file://${process.argv[1]}`) {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-cost-"));
  try {
    const results = await countUploads({ tmp });
    const { costTables } = await import("./cost-prices.js");
    console.log(costTables(results));
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
