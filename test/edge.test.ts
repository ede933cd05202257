/**
 * The CloudFront "sandwich": uploads through a CloudFront distribution in front of staging,
 * whose Lambda@Edge functions claim the ticket before the body flows (origin request) and
 * spend it by what S3 answered (origin response). CloudFront itself cannot run here, so a
 * small stand-in does what it does around the functions: it builds the CloudFront events
 * (the `@types/aws-lambda` shapes, as in AWS's documented samples), forwards the request the
 * origin-request function returns to a real RGW signed with SigV4 as origin access control
 * signs it (the viewer's `x-amz-content-sha256` as the payload hash), and hands S3's real
 * answer to the origin-response function. Tickets are in DynamoDB (dynalite).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { CloudFrontHeaders, CloudFrontRequest, CloudFrontRequestEvent, CloudFrontRequestResult, CloudFrontResponseEvent, CloudFrontResultResponse } from "aws-lambda";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { SignatureV4 } from "@smithy/signature-v4";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/internal/logger.js";
import { createSluice, type Sluice } from "../src/runtime/compose.js";
import { lambdaHandlers } from "../src/runtime/lambda/handlers.js";
import { edgeHandlers, LEASE_HEADER } from "../src/runtime/lambda/edge-handlers.js";
import { DynamoTicketStore } from "../src/tickets/dynamodb.js";
import { LOCAL_CREDENTIALS, startDynalite, type LocalDynamo } from "./helpers/dynamo.js";
import { PNG, awsS3Event, sha256 } from "./helpers/fixtures.js";
import { freePort } from "./helpers/server.js";
import { keysIn, removeBuckets, s3ClientFor, sluiceS3Env, useRgw, type Rgw } from "./helpers/rgw.js";

const KEY = "sk_edge_test_0123456789abcdef01";
let rgw: Rgw;
let s3: S3Client;
let sluice: Sluice;
let dir: string;
let staging: string;
let archive: string;
let dynamo: LocalDynamo;
let tickets: DynamoTicketStore;
let front: CloudFrontStandIn;

/** What the stand-in saw: each origin request the function let through, and S3's status for it. */
interface CloudFrontStandIn {
  url: string;
  forwarded: { request: CloudFrontRequest; status: number }[];
  close(): Promise<void>;
}

const headersOf = (h: Record<string, string>): CloudFrontHeaders =>
  Object.fromEntries(Object.entries(h).map(([name, value]) => [name.toLowerCase(), [{ key: name, value }]]));

/**
 * Runs the two functions the way CloudFront runs them around an S3 origin with origin access
 * control: the body is never given to the functions, only to S3.
 */
async function startCloudFront(functions: ReturnType<typeof edgeHandlers>): Promise<CloudFrontStandIn> {
  const signer = new SignatureV4({ service: "s3", region: "us-east-1", credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey }, sha256: s3.config.sha256 });
  const forwarded: CloudFrontStandIn["forwarded"] = [];
  const send = (res: http.ServerResponse, r: CloudFrontResultResponse) => {
    const headers = Object.fromEntries(Object.values(r.headers ?? {}).flatMap((values) => values.map((v) => [v.key ?? "", v.value])));
    res.writeHead(Number(r.status), headers).end(r.body ?? "");
  };
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://front");
      const viewerHeaders: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string" && name !== "host" && name !== "connection") viewerHeaders[name] = value;
      const event: CloudFrontRequestEvent = {
        Records: [
          {
            cf: {
              config: { distributionDomainName: "d111111abcdef8.cloudfront.net", distributionId: "EDFDVBD6EXAMPLE", eventType: "origin-request", requestId: randomBytes(8).toString("hex") },
              request: {
                clientIp: "203.0.113.178",
                method: req.method ?? "GET",
                uri: url.pathname,
                querystring: url.search.slice(1),
                headers: headersOf({ ...viewerHeaders, Host: `${staging}.s3.us-east-1.amazonaws.com`, Via: "2.0 2afae0d44e2540f472c0635ab62c232b.cloudfront.net (CloudFront)" }),
                origin: { s3: { authMethod: "none", customHeaders: {}, domainName: `${staging}.s3.us-east-1.amazonaws.com`, path: "" } },
              },
            },
          },
        ],
      };
      const result: CloudFrontRequestResult = await functions.originRequest(event);
      if (result && "status" in result) {
        req.resume();
        return send(res, result);
      }
      const request = result as CloudFrontRequest;
      // Forward what the function returned: its headers, its (emptied) query string, the viewer's body.
      const target = new URL(`${rgw.endpoint}/${staging}${request.uri}${request.querystring ? `?${request.querystring}` : ""}`);
      const headers: Record<string, string> = { host: target.host };
      for (const values of Object.values(request.headers)) for (const v of values) if (v.key && !["host", "via"].includes(v.key.toLowerCase())) headers[v.key.toLowerCase()] = v.value;
      const signed = await signer.sign({ method: request.method, protocol: "http:", hostname: target.hostname, port: Number(target.port), path: target.pathname, query: {}, headers });
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const answer = await fetch(target, { method: request.method, headers: signed.headers, body });
      await answer.arrayBuffer();
      forwarded.push({ request, status: answer.status });
      const response: CloudFrontResponseEvent = {
        Records: [
          {
            cf: {
              config: { distributionDomainName: "d111111abcdef8.cloudfront.net", distributionId: "EDFDVBD6EXAMPLE", eventType: "origin-response", requestId: event.Records[0]!.cf.config.requestId },
              request: { clientIp: request.clientIp, method: request.method, uri: request.uri, querystring: request.querystring, headers: request.headers },
              response: {
                status: String(answer.status),
                statusDescription: answer.statusText,
                headers: headersOf(Object.fromEntries([...answer.headers].filter(([name]) => ["etag", "content-type", "x-amz-request-id"].includes(name)))),
              },
            },
          },
        ],
      };
      send(res, await functions.originResponse(response));
    })().catch((err: unknown) => res.writeHead(599).end(String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwarded,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

before(async () => {
  rgw = await useRgw();
  s3 = s3ClientFor(rgw);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-edge-"));
  dynamo = await startDynalite();
  tickets = dynamo.tickets();
  const suffix = randomBytes(4).toString("hex");
  staging = `staging-${suffix}`;
  archive = `archive-${suffix}`;
  // The edge functions get their own client of the same table, as at an edge location.
  front = await startCloudFront(edgeHandlers(Promise.resolve(dynamo.tickets()), createLogger({ level: "silent" })));
  const config = loadConfig(
    sluiceS3Env(rgw, {
      SLUICE_UPLOAD_MODE: "edge",
      SLUICE_EDGE_URL: front.url,
      SLUICE_STAGING_BUCKET: staging,
      SLUICE_ARCHIVE_BUCKET: archive,
      SLUICE_DATA_DIR: dir,
      SLUICE_API_KEYS: KEY,
      SLUICE_RATE_LIMIT: "off",
      SLUICE_TICKETS: "dynamodb://tickets",
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    }),
  );
  sluice = await createSluice(config, { logger: createLogger({ level: "silent" }) });
  sluice.start({ reconcileLoop: false });
});

after(async () => {
  await front?.close();
  await sluice?.close();
  await tickets?.close();
  await dynamo?.close();
  await removeBuckets(s3, [staging, archive]);
  s3?.destroy();
  await rgw?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

interface Issued {
  id: string;
  key: string;
  upload: { method: string; url: string; headers: Record<string, string> };
}

const request = (body: Record<string, unknown>) => {
  const text = JSON.stringify(body);
  return sluice.app.request("/v1/uploads", {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) },
    body: text,
  });
};

async function issue(body: Buffer): Promise<Issued> {
  const res = await request({ filename: "cat.png", contentType: "image/png", size: body.byteLength, sha256: sha256(body) });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as Issued;
}

function png(size: number): Buffer {
  const body = randomBytes(size);
  body.set(PNG, 0);
  return body;
}

const put = (url: string, headers: Record<string, string>, body: Buffer) => fetch(url, { method: "PUT", headers, body: new Uint8Array(body) });
const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

describe("uploads through CloudFront with Lambda@Edge", () => {
  it("issues a PUT to the distribution at the object's key, with the hash CloudFront signs", async () => {
    const body = png(1024);
    const issued = await issue(body);
    assert.equal(issued.upload.url, `${front.url}/${issued.key}`);
    assert.deepEqual(issued.upload.headers, { "content-type": "image/png", "x-amz-content-sha256": sha256(body) });
    const res = await request({ filename: "cat.png", contentType: "image/png", size: 10 });
    assert.equal(res.status, 422);
    assert.equal(await errorCode(res), "sha256_required");
  });

  it("claims before the body flows, stores with If-None-Match, spends the ticket, and the S3 event archives the file", async () => {
    const body = png(256 * 1024);
    const issued = await issue(body);
    const res = await put(issued.upload.url, issued.upload.headers, body);
    assert.equal(res.status, 200, await res.clone().text());
    assert.ok(res.headers.get("etag"), "S3's answer passes through");

    const sent = front.forwarded.at(-1)!;
    assert.equal(sent.request.querystring, "");
    assert.deepEqual(sent.request.headers["if-none-match"], [{ key: "If-None-Match", value: "*" }]);
    assert.ok(sent.request.headers[LEASE_HEADER]?.[0]?.value, "the claim's lease travels to the origin response");
    assert.equal((await tickets.get(issued.id))?.state, "consumed", "the origin response spent the ticket");

    const { results } = await lambdaHandlers(Promise.resolve(sluice)).s3(awsS3Event(staging, issued.key, body.byteLength));
    assert.deepEqual(results.map((r) => r.outcome), ["recorded"], "the event records a ticket spent at the edge");
    await sluice.idle();
    const status = await sluice.app.request(`/v1/uploads/${issued.id}`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(((await status.json()) as { state: string }).state, "archived");
    const archived = await s3.send(new GetObjectCommand({ Bucket: archive, Key: issued.key }));
    assert.equal(sha256(await archived.Body!.transformToByteArray()), sha256(body));
  });

  it("refuses a spent URL at the edge: nothing reaches storage", async () => {
    const body = png(2048);
    const issued = await issue(body);
    assert.equal((await put(issued.upload.url, issued.upload.headers, body)).status, 200);
    const before = front.forwarded.length;
    const again = await put(issued.upload.url, issued.upload.headers, body);
    assert.equal(again.status, 410);
    assert.equal(await errorCode(again), "already_used");
    assert.equal(front.forwarded.length, before, "the second PUT never reached S3");
  });

  it("refuses a wrong type, length or hash before the body flows, and gives the claim back", async () => {
    const body = png(4096);
    const issued = await issue(body);
    const before = front.forwarded.length;
    const cases: [Record<string, string>, Buffer, number, string][] = [
      [{ ...issued.upload.headers, "content-type": "text/html" }, body, 400, "content_type_mismatch"],
      [issued.upload.headers, body.subarray(0, 4000), 400, "length_mismatch"],
      [issued.upload.headers, Buffer.concat([body, body]), 413, "too_large"],
      [{ ...issued.upload.headers, "x-amz-content-sha256": sha256(Buffer.from("other")) }, body, 400, "checksum_mismatch"],
    ];
    for (const [headers, sent, status, code] of cases) {
      const res = await put(issued.upload.url, headers, sent);
      assert.equal(res.status, status, code);
      assert.equal(await errorCode(res), code);
    }
    assert.equal(front.forwarded.length, before, "none of them reached S3");
    assert.equal((await put(issued.upload.url, issued.upload.headers, body)).status, 200, "the claim was given back each time");
  });

  it("storage checks the body against the signed hash; the claim comes back, and the same URL then works", async () => {
    const body = png(8192);
    const issued = await issue(body);
    const forged = png(8192); // the promised hash, other bytes of the same length
    const res = await put(issued.upload.url, issued.upload.headers, forged);
    assert.equal(front.forwarded.at(-1)!.status, 400, "RGW refused the body: its hash is not the signed one");
    assert.equal(res.status, 400);
    assert.equal(await errorCode(res), "storage_refused");
    assert.deepEqual(await keysIn(s3, staging).then((keys) => keys.filter((k) => k === issued.key)), []);
    assert.equal((await tickets.get(issued.id))?.state, "issued");
    assert.equal((await put(issued.upload.url, issued.upload.headers, body)).status, 200);
  });

  it("storage's If-None-Match refuses a key that already holds an object (412 → 410), and the claim is released", async () => {
    const body = png(1024);
    const issued = await issue(body);
    await s3.send(new PutObjectCommand({ Bucket: staging, Key: issued.key, Body: body, ContentType: "image/png" }));
    const res = await put(issued.upload.url, issued.upload.headers, body);
    assert.equal(front.forwarded.at(-1)!.status, 412);
    assert.equal(res.status, 410);
    assert.equal(await errorCode(res), "already_used");
    assert.equal((await tickets.get(issued.id))?.state, "issued", "released, for the event or the sweep to judge the object");
  });

  it("lets exactly one of concurrent PUTs of one URL through", async () => {
    const body = png(64 * 1024);
    const issued = await issue(body);
    const answers = await Promise.all(Array.from({ length: 8 }, () => put(issued.upload.url, issued.upload.headers, body)));
    const statuses = answers.map((r) => r.status).sort();
    assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join(","));
    assert.ok(statuses.every((s) => s === 200 || s === 409 || s === 410), statuses.join(","));
  });

  it("fails closed when the ticket store is down: 503, nothing forwarded", async () => {
    const down = new DynamoTicketStore({ table: "tickets", endpoint: `http://127.0.0.1:${await freePort()}`, region: "us-east-1", credentials: LOCAL_CREDENTIALS });
    const functions = edgeHandlers(Promise.resolve(down), createLogger({ level: "silent" }));
    const result = await functions.originRequest({
      Records: [
        {
          cf: {
            config: { distributionDomainName: "d111111abcdef8.cloudfront.net", distributionId: "EDFDVBD6EXAMPLE", eventType: "origin-request", requestId: "r1" },
            request: {
              clientIp: "203.0.113.178",
              method: "PUT",
              uri: "/upl_AAAAAAAAAAAAAAAAAAAAAA/cat.png",
              querystring: "",
              headers: headersOf({ "Content-Type": "image/png", "Content-Length": "3", "X-Amz-Content-Sha256": createHash("sha256").update("abc").digest("hex") }),
            },
          },
        },
      ],
    });
    await down.close();
    assert.ok(result && "status" in result);
    assert.equal(result.status, "503");
    assert.equal((JSON.parse(result.body ?? "{}") as { error: { code: string } }).error.code, "backend_unavailable");
  });
});
