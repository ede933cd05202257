/**
 * Meters for the cost model (bench/cost.ts): what an upload makes each backend do, counted
 * where it happens rather than estimated.
 * - `startStorageMeter`: an HTTP proxy in front of the S3 endpoint (RGW here) that names each
 *   request as S3 bills it (PutObject, UploadPart, CopyObject, …), by who sent it. Every S3
 *   client in the flow points at it: Sluice's, the issued URLs (signed for the proxy's
 *   address, which it keeps as the Host), the user's SDK with scoped credentials, and the
 *   CloudFront stand-in. It plays the part of S3's server access log.
 * - `startDynamoMeter`: the same in front of DynamoDB (dynalite), naming each call by its
 *   `X-Amz-Target`, and asking every item call for `ReturnConsumedCapacity: TOTAL`, whose
 *   answer is summed per table.
 * - `countingPort`: a proxy around a port (ticket store, metadata store) that counts its calls.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

/** The header a client sets to say who it is (the meter removes it before forwarding). */
export const PARTY_HEADER = "x-cost-party";

/** Adds `n` to `key` in a tally. */
export function tally(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

export interface StorageMeter {
  url: string;
  /** `party op` → requests; an answer of 300 or more adds its status to the name (`HeadObject 404`). */
  requests: Map<string, number>;
  /** Request body bytes sent to storage, and answer bytes read from it, by party. */
  sent: Map<string, number>;
  received: Map<string, number>;
  reset(): void;
  close(): Promise<void>;
}

/**
 * The S3 operation a request is, from its method, path (path-style: `/bucket/key`), query
 * and headers. STS (AssumeRole: a form POST to `/`) shares the endpoint on RGW.
 */
export function s3Operation(method: string, url: URL, headers: http.IncomingHttpHeaders): string {
  const [, bucket = "", ...rest] = url.pathname.split("/");
  const key = rest.join("/");
  const q = url.searchParams;
  if (!bucket) return method === "POST" ? "STS" : `${method} /`;
  const copy = headers["x-amz-copy-source"] !== undefined;
  switch (method) {
    case "PUT":
      if (!key) return "CreateBucket";
      if (q.has("partNumber")) return copy ? "UploadPartCopy" : "UploadPart";
      return copy ? "CopyObject" : "PutObject";
    case "POST":
      if (q.has("uploads")) return "CreateMultipartUpload";
      if (q.has("uploadId")) return "CompleteMultipartUpload";
      if (q.has("delete")) return "DeleteObjects";
      return key ? "POST (other)" : "PostObject";
    case "GET":
      if (!key) return q.has("uploads") ? "ListMultipartUploads" : "ListObjects";
      return q.has("uploadId") ? "ListParts" : "GetObject";
    case "HEAD":
      return key ? "HeadObject" : "HeadBucket";
    case "DELETE":
      if (!key) return "DeleteBucket";
      return q.has("uploadId") ? "AbortMultipartUpload" : "DeleteObject";
    default:
      return method;
  }
}

export async function startStorageMeter(target: string): Promise<StorageMeter> {
  const upstream = new URL(target);
  const meter: StorageMeter = { url: "", requests: new Map(), sent: new Map(), received: new Map(), reset() {}, close: () => Promise.resolve() };
  meter.reset = () => {
    meter.requests.clear();
    meter.sent.clear();
    meter.received.clear();
  };
  const server = http.createServer((req, res) => {
    const party = String(req.headers[PARTY_HEADER] ?? "sluice");
    const headers = { ...req.headers };
    delete headers[PARTY_HEADER];
    delete headers.expect; // the body is piped at once; a 100-continue in between would only be passed on
    const op = s3Operation(req.method ?? "", new URL(req.url ?? "/", "http://meter"), req.headers);
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (answer) => {
      const status = answer.statusCode ?? 0;
      tally(meter.requests, `${party}|${op}${status >= 300 ? ` ${status}` : ""}`);
      answer.on("data", (chunk: Buffer) => tally(meter.received, party, chunk.length));
      res.writeHead(status || 502, answer.headers);
      answer.pipe(res);
    });
    out.on("error", () => res.destroy());
    req.on("data", (chunk: Buffer) => tally(meter.sent, party, chunk.length));
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  meter.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  meter.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return meter;
}

const READS = new Set(["GetItem", "BatchGetItem", "Query", "Scan"]);
const WRITES = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"]);

export interface DynamoMeter {
  url: string;
  /** `table op` → calls. */
  calls: Map<string, number>;
  /** `table read` / `table write` → capacity units, as DynamoDB (here dynalite) reported them. */
  units: Map<string, number>;
  reset(): void;
  close(): Promise<void>;
}

interface Consumed {
  TableName?: string;
  CapacityUnits?: number;
}

export async function startDynamoMeter(target: string): Promise<DynamoMeter> {
  const upstream = new URL(target);
  const meter: DynamoMeter = { url: "", calls: new Map(), units: new Map(), reset() {}, close: () => Promise.resolve() };
  meter.reset = () => {
    meter.calls.clear();
    meter.units.clear();
  };
  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const op = String(req.headers["x-amz-target"] ?? "").split(".").pop() ?? "";
      let body = Buffer.concat(chunks);
      const data = JSON.parse(body.toString("utf8") || "{}") as { TableName?: string; ReturnConsumedCapacity?: string; RequestItems?: Record<string, unknown> };
      const table = data.TableName ?? Object.keys(data.RequestItems ?? {}).join("+");
      const itemCall = READS.has(op) || WRITES.has(op);
      if (itemCall && (data.ReturnConsumedCapacity ?? "NONE") === "NONE") {
        // dynalite checks the signature's form, not its value: a changed body still passes.
        data.ReturnConsumedCapacity = "TOTAL";
        body = Buffer.from(JSON.stringify(data));
      }
      const answer = await fetch(new URL(req.url ?? "/", upstream), {
        method: req.method ?? "POST",
        headers: Object.fromEntries(Object.entries(req.headers).flatMap(([k, v]) => (typeof v === "string" && !["host", "content-length", "connection"].includes(k) ? [[k, v]] : []))),
        body,
      });
      const text = await answer.text();
      tally(meter.calls, `${table}|${op}${answer.status >= 300 ? ` ${answer.status}` : ""}`);
      // A write refused by its condition still costs the units of the item it was checked
      // against, at least one (DynamoDB's rule); dynalite reports none for it, so one is counted.
      if (WRITES.has(op) && answer.status === 400 && text.includes("ConditionalCheckFailed")) tally(meter.units, `${table}|write`, 1);
      if (itemCall && answer.ok) {
        const consumed = (JSON.parse(text) as { ConsumedCapacity?: Consumed | Consumed[] }).ConsumedCapacity;
        for (const c of [consumed ?? []].flat()) tally(meter.units, `${c.TableName ?? table}|${READS.has(op) ? "read" : "write"}`, c.CapacityUnits ?? 0);
      }
      const headers: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (!["content-length", "content-encoding", "transfer-encoding", "connection"].includes(name)) headers[name] = value;
      });
      res.writeHead(answer.status, headers).end(text);
    })().catch((err: unknown) => res.writeHead(599).end(String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  meter.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  meter.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return meter;
}

/** Counts calls to a port by method name, passing each on to the real store (as test/data-path.test.ts does). */
export function countingPort<T extends object>(store: T, calls: Map<string, number>): T {
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        tally(calls, String(prop));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
