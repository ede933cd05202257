/**
 * Meters for the cost model (bench/cost.ts): what an upload makes each backend do, counted
 * where it happens rather than estimated.
 * - `startStorageMeter`: an HTTP proxy in front of the S3 endpoint (RGW here) that names each
 *   request as S3 bills it (PutObject, UploadPart, CopyObject, …), by who sent it. Every S3
 *   client in the flow points at it: Sluice's, the issued URLs (signed for the proxy's
 *   address, which it keeps as the Host), the user's SDK with scoped credentials, and the
 *   CloudFront stand-in. It plays the part of S3's server access log.
 * - `startDynamoMeter`: the same in front of DynamoDB (dynalite for tickets, moto for metadata),
 *   naming each call by its `X-Amz-Target` and sizing its request units by DynamoDB's rules.
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

const READS = new Set(["GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"]);
const WRITES = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]);

export interface DynamoMeter {
  url: string;
  /** `table|op` → calls (`op 400` when refused). */
  calls: Map<string, number>;
  /** `table|read` / `table|write` → request units, by DynamoDB's sizing rules (see `unitsOf`). */
  units: Map<string, number>;
  reset(): void;
  close(): Promise<void>;
}

type Value = { S?: string; N?: string; B?: string; BOOL?: boolean; NULL?: boolean; M?: Item; L?: Value[]; SS?: string[]; NS?: string[]; BS?: string[] };
type Item = Record<string, Value>;

/** A number's size: one byte per two significant digits, plus one (DynamoDB's "Item sizes"). */
function numberSize(n: string): number {
  const digits = n.replace(/^[-+]/, "").replace(/e.*$/i, "").replace(".", "").replace(/^0+/, "").replace(/0+$/, "");
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

function valueSize(v: Value): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return numberSize(v.N);
  if (v.B !== undefined) return Buffer.from(v.B, "base64").length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.M) return 3 + Object.entries(v.M).reduce((a, [k, x]) => a + Buffer.byteLength(k) + valueSize(x) + 1, 0);
  if (v.L) return 3 + v.L.reduce((a, x) => a + valueSize(x) + 1, 0);
  if (v.SS) return v.SS.reduce((a, x) => a + Buffer.byteLength(x), 0);
  if (v.NS) return v.NS.reduce((a, x) => a + numberSize(x), 0);
  if (v.BS) return v.BS.reduce((a, x) => a + Buffer.from(x, "base64").length, 0);
  return 0;
}

/** An item's size as DynamoDB bills it: each attribute's name plus its value. */
export function itemSize(item: Item | undefined): number {
  return item ? Object.entries(item).reduce((a, [k, v]) => a + Buffer.byteLength(k) + valueSize(v), 0) : 0;
}

interface Schema {
  key: string[];
  /** Each global secondary index's key attributes (projection ALL: the whole item is written to it). */
  indexes: string[][];
}

/**
 * Write units of one item write: the larger of the item before and after, per started KB
 * (at least one), doubled in a transaction; plus each index the item is in before or after:
 * one write of the new item, and one delete of the old entry when its index key changed or it
 * left the index (DynamoDB's "Managing throughput capacity for global secondary indexes").
 */
export function writeUnits(before: Item | undefined, after: Item | undefined, schema: Schema, transactional: boolean): number {
  const kb = (item: Item | undefined) => Math.max(1, Math.ceil(itemSize(item) / 1024));
  let units = Math.max(kb(before), after ? kb(after) : 1) * (transactional ? 2 : 1);
  for (const attrs of schema.indexes) {
    const keyOf = (item: Item | undefined) => (item && attrs.every((a) => item[a]) ? JSON.stringify(attrs.map((a) => item[a])) : undefined);
    const was = keyOf(before);
    const is = keyOf(after);
    if (is) units += kb(after);
    if (was && was !== is) units += kb(before);
  }
  return units;
}

/** Read units: per started 4 KB of what was read, halved unless strongly consistent, doubled in a transaction; at least half a unit. */
export function readUnits(bytes: number, consistent: boolean, transactional: boolean): number {
  const units = Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);
  return units * (transactional ? 2 : 1);
}

/**
 * Counts every call by table and operation, and what it costs in request units. The units
 * are computed here by DynamoDB's documented rules rather than taken from the server's
 * `ConsumedCapacity`: moto (the metadata store's test server: it has transactions) answers a
 * fixed 1.0 whatever the item, and dynalite counts no index writes. To size a write, the meter
 * reads the item before and after it, on a side channel that is not counted; it reads each
 * table's key schema and indexes the same way.
 */
export async function startDynamoMeter(target: string): Promise<DynamoMeter> {
  const upstream = new URL(target);
  const meter: DynamoMeter = { url: "", calls: new Map(), units: new Map(), reset() {}, close: () => Promise.resolve() };
  meter.reset = () => {
    meter.calls.clear();
    meter.units.clear();
  };
  const schemas = new Map<string, Schema>();
  let auth: Record<string, string> = {};
  const side = async <T>(op: string, body: unknown): Promise<T> => {
    const res = await fetch(upstream, { method: "POST", headers: { ...auth, "content-type": "application/x-amz-json-1.0", "x-amz-target": `DynamoDB_20120810.${op}` }, body: JSON.stringify(body) });
    return (await res.json()) as T;
  };
  const schemaOf = async (table: string): Promise<Schema> => {
    const known = schemas.get(table);
    if (known) return known;
    type KeyElement = { AttributeName: string };
    const d = await side<{ Table?: { KeySchema: KeyElement[]; GlobalSecondaryIndexes?: { KeySchema: KeyElement[] }[] } }>("DescribeTable", { TableName: table });
    const schema = { key: (d.Table?.KeySchema ?? []).map((k) => k.AttributeName), indexes: (d.Table?.GlobalSecondaryIndexes ?? []).map((g) => g.KeySchema.map((k) => k.AttributeName)) };
    schemas.set(table, schema);
    return schema;
  };
  const current = async (table: string, key: Item) => (await side<{ Item?: Item }>("GetItem", { TableName: table, Key: key, ConsistentRead: true })).Item;

  /** The item writes a request makes: table, key, the new item when the request holds it whole. */
  type Write = { table: string; key: Item; put?: Item; check?: boolean };
  async function writesOf(op: string, data: Record<string, unknown>): Promise<Write[]> {
    const keyFrom = async (table: string, item: Item) => Object.fromEntries((await schemaOf(table)).key.map((k) => [k, item[k]!]));
    const one = async (kind: string, w: { TableName: string; Item?: Item; Key?: Item }): Promise<Write> =>
      kind === "Put" || kind === "PutRequest" ? { table: w.TableName, key: await keyFrom(w.TableName, w.Item!), put: w.Item! } : { table: w.TableName, key: w.Key!, check: kind === "ConditionCheck" };
    if (op === "TransactWriteItems") {
      const entries = data.TransactItems as Record<string, { TableName: string; Item?: Item; Key?: Item }>[];
      return Promise.all(entries.map((e) => { const [kind, w] = Object.entries(e)[0]!; return one(kind, w); }));
    }
    if (op === "BatchWriteItem") {
      const out: Write[] = [];
      for (const [table, requests] of Object.entries(data.RequestItems as Record<string, Record<string, { Item?: Item; Key?: Item }>[]>)) {
        for (const r of requests) { const [kind, w] = Object.entries(r)[0]!; out.push(await one(kind, { TableName: table, ...w })); }
      }
      return out;
    }
    return [await one(op === "PutItem" ? "Put" : op, data as { TableName: string; Item?: Item; Key?: Item })];
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      auth = Object.fromEntries(["authorization", "x-amz-date", "x-amz-security-token"].flatMap((h) => (typeof req.headers[h] === "string" ? [[h, req.headers[h]]] : [])));
      const op = String(req.headers["x-amz-target"] ?? "").split(".").pop() ?? "";
      const body = Buffer.concat(chunks);
      const data = JSON.parse(body.toString("utf8") || "{}") as Record<string, unknown>;
      const tables = typeof data.TableName === "string" ? [data.TableName] : Object.keys((data.RequestItems ?? {}));
      if (op === "TransactWriteItems" || op === "TransactGetItems") for (const e of data.TransactItems as Record<string, { TableName: string }>[]) tables.push(Object.values(e)[0]!.TableName);
      const table = [...new Set(tables)].join("+");
      const writes = WRITES.has(op) ? await writesOf(op, data) : [];
      const before = await Promise.all(writes.map((w) => current(w.table, w.key)));
      const answer = await fetch(new URL(req.url ?? "/", upstream), {
        method: req.method ?? "POST",
        headers: Object.fromEntries(Object.entries(req.headers).flatMap(([k, v]) => (typeof v === "string" && !["host", "content-length", "connection"].includes(k) ? [[k, v]] : []))),
        body,
      });
      const text = await answer.text();
      tally(meter.calls, `${table}|${op}${answer.status >= 300 ? ` ${answer.status}` : ""}`);
      const transactional = op.startsWith("Transact");
      if (WRITES.has(op) && (answer.ok || text.includes("ConditionalCheckFailed") || text.includes("TransactionCanceled"))) {
        // A write refused by its condition still costs the units of the item it was checked against.
        for (const [i, w] of writes.entries()) {
          const after = answer.ok && !w.check ? (w.put ?? (await current(w.table, w.key))) : before[i];
          tally(meter.units, `${w.table}|write`, writeUnits(before[i], after, answer.ok && !w.check ? await schemaOf(w.table) : { key: [], indexes: [] }, transactional));
        }
      }
      if (READS.has(op) && answer.ok) {
        const out = JSON.parse(text) as { Item?: Item; Items?: Item[]; Responses?: Record<string, Item[]> | { Item?: Item }[] };
        const consistent = data.ConsistentRead === true || transactional;
        if (op === "GetItem") tally(meter.units, `${table}|read`, readUnits(itemSize(out.Item), consistent, false));
        else if (op === "Query" || op === "Scan") tally(meter.units, `${table}|read`, readUnits((out.Items ?? []).reduce((a, i) => a + itemSize(i), 0), consistent, false));
        else if (op === "BatchGetItem") {
          for (const [t, items] of Object.entries((out.Responses ?? {}) as Record<string, Item[]>)) {
            const rc = (data.RequestItems as Record<string, { ConsistentRead?: boolean }>)[t]?.ConsistentRead === true;
            // Batch reads are billed per item read, each by the whole item, whatever was projected.
            for (const item of items) tally(meter.units, `${t}|read`, readUnits(itemSize(await current(t, Object.fromEntries((await schemaOf(t)).key.map((k) => [k, item[k]!])))), rc, false));
          }
        } else for (const r of (out.Responses ?? []) as { Item?: Item }[]) tally(meter.units, `${table}|read`, readUnits(itemSize(r.Item), true, true));
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
