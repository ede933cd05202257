/**
 * List prices (AWS us-east-1, and the two hosted services compared), each with where it was
 * read, and the arithmetic that turns bench/cost.ts's counts into dollars per million
 * uploads. Prints the markdown tables that docs/benchmarks.md's "Cost model" section holds.
 */
import type { FlowCounts } from "./cost.js";

/** The stack's function memory (infra/sluice-stack.ts), MB; Lambda@Edge functions run on x86, the others on arm64. */
export const LAMBDA_MEMORY_MB: Record<string, number> = { Issuer: 512, Processor: 1024, Dispatcher: 512, EdgeOriginRequest: 256, EdgeOriginResponse: 256 };

const GIB = 1024 ** 3;
/** AWS bills storage in GB-months of 2^30 bytes; a month of 730 hours (its pricing examples' month). */
const MONTH_SECONDS = 730 * 3600;

export interface Price {
  usd: number;
  unit: string;
  /** The page the figure was read on, and when. */
  source: string;
}

/** Read on 2026-12-02 from the stored copies of each page that the search tool holds (their capture dates are not shown). */
export const PRICES = {
  s3Tier1: { usd: 0.005 / 1000, unit: "PUT, COPY, POST, LIST request (incl. UploadPart, UploadPartCopy, Create/CompleteMultipartUpload, ListParts)", source: "$0.005 per 1,000: \"S3 request fees explained\" (c3x.dev) and \"Understanding AWS S3 Pricing\" (devnotes.tech), quoting the Amazon S3 pricing page" },
  s3Tier2: { usd: 0.0004 / 1000, unit: "GET, HEAD and all other requests", source: "$0.0004 per 1,000: the same pages" },
  s3Delete: { usd: 0, unit: "DELETE, AbortMultipartUpload", source: "no charge: Amazon S3 FAQs (stored copy, Express One Zone example: \"DELETE requests … (no charge)\"); S3 Standard the same on its pricing page" },
  s3Storage: { usd: 0.023, unit: "GB-month, S3 Standard, first 50 TB ($0.022 next 450 TB, $0.021 over 500 TB)", source: "\"Amazon S3 Pricing Explained\" (cloudburn.io, prices as of March 2026); the tiers above 50 TB as on the Amazon S3 pricing page (not in a stored copy read here)" },
  lambdaRequest: { usd: 0.2 / 1e6, unit: "Lambda request", source: "$0.20 per 1M (x86 and arm64): Lambda cost notes (git.mcrn.ar, table of AWS's rates); \"AWS Lambda Pricing\" (api-evangelist transcription of aws.amazon.com/lambda/pricing, read 2026-09-20)" },
  lambdaArm: { usd: 0.0000133334, unit: "GB-second, arm64 (the stack's functions)", source: "\"AWS Lambda Pricing Breakdown: Ultimate Guide 2024\" (cloudchipr.com): first 7.5 billion GB-s/month" },
  lambdaX86: { usd: 0.0000166667, unit: "GB-second, x86", source: "the same page" },
  edgeRequest: { usd: 0.6 / 1e6, unit: "Lambda@Edge request", source: "$0.60 per 1M: Amazon CloudFront pricing page, Lambda@Edge section (no stored copy with the figure found)" },
  edgeGbSecond: { usd: 0.00005001, unit: "Lambda@Edge GB-second (x86: Lambda@Edge runs no arm64)", source: "$0.00005001: the same (no stored copy with the figure found)" },
  restApi: { usd: 3.5 / 1e6, unit: "API Gateway REST API request (the stack's `LambdaRestApi`), first 333M/month", source: "\"Best Practices for Designing Amazon API Gateway Private APIs and Private Integration\", Cost optimization, Table 4 (docs.aws.amazon.com whitepaper)" },
  httpApi: { usd: 1 / 1e6, unit: "API Gateway HTTP API request, first 300M/month (512 KB metering)", source: "the same table" },
  dynamoWrite: { usd: 0.625 / 1e6, unit: "DynamoDB on-demand write request unit", source: "\"Amazon DynamoDB Pricing: On-Demand & Provisioned Plans\" (airbyte.com), US East; AWS News Blog \"Amazon DynamoDB On-Demand\" updated 2025-01-31 for the reduced on-demand prices" },
  dynamoRead: { usd: 0.125 / 1e6, unit: "DynamoDB on-demand read request unit", source: "the same" },
  sqs: { usd: 0.4 / 1e6, unit: "SQS standard request (64 KB chunk)", source: "\"Amazon SQS Pricing: Complete Guide\" (cloudburn.io, as of March 2026); \"Amazon SQS Pricing: The 64 KB Rule\" (factualminds.com, June 2026)" },
  cloudFrontRequest: { usd: 0.01 / 10000, unit: "CloudFront HTTPS request, North America", source: "\"AWS CloudFront pricing guide\" (wring.co): $0.0100 per 10,000" },
  cloudFrontToOrigin: { usd: 0.02, unit: "GB, CloudFront regional data transfer out to origin, United States (an upload's bytes)", source: "Amazon CloudFront pricing page (the stored copy's table is cut off before it; figure as published there, not re-read)" },
  uploadThing: { usd: 25, unit: "month, UploadThing \"Usage based\": 250 GB included, then $0.08/GB, no bandwidth fees (\"100GB app\": $10/month)", source: "UploadThing's pricing page (uploadthing.com/pricing) has no stored copy; figures as transcribed \"verified: 2026-09\" in a public comparison notes file, and the same in another dated Jan 2025" },
  supabase: { usd: 25, unit: "month, Supabase Pro: 100 GB storage included, then $0.021/GB-month; 250 GB egress included, then $0.09/GB", source: "Supabase docs \"Storage pricing\" (supabase.com/docs/guides/storage/pricing; the stored Japanese copy shows $0.021/GB-month, $0.00002919/GB-hour, Pro quota 100 GB) and \"How billing works\" (Pro: $25/month)" },
} satisfies Record<string, Price>;

const TIER1 = new Set(["PutObject", "UploadPart", "CopyObject", "UploadPartCopy", "PostObject", "CreateMultipartUpload", "CompleteMultipartUpload", "ListParts", "ListObjects", "ListMultipartUploads", "CreateBucket"]);
const FREE = new Set(["DeleteObject", "AbortMultipartUpload", "DeleteObjects", "STS"]);

function s3Class(op: string): "tier1" | "tier2" | "free" {
  const name = op.split(" ")[0]!; // `HeadObject 404` is billed as a HEAD
  if (FREE.has(name)) return "free";
  return TIER1.has(name) ? "tier1" : "tier2";
}

/** Tiered S3 Standard storage for `gb` GB over one month. */
export function s3StorageMonth(gb: number): number {
  const tiers: [number, number][] = [[50 * 1024, 0.023], [450 * 1024, 0.022], [Infinity, 0.021]];
  let left = gb;
  let usd = 0;
  for (const [size, rate] of tiers) {
    const here = Math.min(left, size);
    usd += here * rate;
    left -= here;
    if (left <= 0) break;
  }
  return usd;
}

export interface Dollars {
  s3Requests: number;
  stagingHold: number;
  lambdaRequests: number;
  lambdaCompute: number;
  apiGateway: number;
  dynamo: number;
  sqs: number;
  cloudFront: number;
  total: number;
}

/** One upload's dollars, at list prices. */
export function dollarsOf(c: FlowCounts): Dollars {
  let s3Requests = 0;
  for (const [key, n] of c.storage) {
    const cls = s3Class(key.split("|")[1]!);
    s3Requests += n * (cls === "tier1" ? PRICES.s3Tier1.usd : cls === "tier2" ? PRICES.s3Tier2.usd : 0);
  }
  const stagingHold = (c.size / GIB) * (c.stagingHoldSeconds / MONTH_SECONDS) * PRICES.s3Storage.usd;
  let lambdaRequests = 0;
  let lambdaCompute = 0;
  if (c.deployment === "serverless") {
    for (const [fn, ms] of c.lambda) {
      const edge = fn.startsWith("Edge");
      const gb = (LAMBDA_MEMORY_MB[fn] ?? 0) / 1024;
      lambdaRequests += ms.length * (edge ? PRICES.edgeRequest.usd : PRICES.lambdaRequest.usd);
      for (const m of ms) lambdaCompute += gb * (Math.ceil(m) / 1000) * (edge ? PRICES.edgeGbSecond.usd : PRICES.lambdaArm.usd);
    }
  }
  const apiGateway = c.deployment === "serverless" ? c.apiRequests * PRICES.restApi.usd : 0;
  let dynamo = 0;
  for (const [key, units] of c.dynamoUnits) dynamo += units * (key.endsWith("|read") ? PRICES.dynamoRead.usd : PRICES.dynamoWrite.usd);
  // Each event: S3's SendMessage, the event source's ReceiveMessage and DeleteMessage (batches of one at this rate).
  const sqs = c.deployment === "serverless" ? c.storageEvents * 3 * PRICES.sqs.usd : 0;
  const cloudFront = c.cloudFrontRequests * PRICES.cloudFrontRequest.usd + (c.cloudFrontRequests > 0 ? (c.size / GIB) * PRICES.cloudFrontToOrigin.usd : 0);
  const total = s3Requests + stagingHold + lambdaRequests + lambdaCompute + apiGateway + dynamo + sqs + cloudFront;
  return { s3Requests, stagingHold, lambdaRequests, lambdaCompute, apiGateway, dynamo, sqs, cloudFront, total };
}

const sizeName = (size: number) => (size >= GIB ? `${(size / GIB).toFixed(0)} GiB` : size >= 1024 ** 2 ? `${(size / 1024 ** 2).toFixed(0)} MiB` : `${(size / 1024).toFixed(0)} KiB`);
const ops = (m: Map<string, number>, party?: string) =>
  [...m]
    .filter(([k]) => party === undefined || k.startsWith(`${party}|`))
    .map(([k, n]) => [party === undefined ? k : k.slice(party.length + 1), n] as const)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${Number.isInteger(n) ? n : n.toFixed(1)}`)
    .join(", ") || "–";
const usd = (x: number) => (x === 0 ? "0" : x >= 100 ? `$${x.toFixed(0)}` : x >= 1 ? `$${x.toFixed(2)}` : `$${x.toFixed(3)}`);
const table = (head: string[], rows: string[][]) => [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");

export function costTables(results: FlowCounts[]): string {
  const label = (c: FlowCounts) => `${c.deployment} | ${c.mode} | ${sizeName(c.size)}`;
  const counts = table(
    ["deployment", "mode", "size", "Sluice planned", "S3 requests by Sluice", "S3 requests by the client (or CloudFront)", "ticket store calls", "metadata store calls", "DynamoDB calls (table: op n)", "DynamoDB units (RRU / WRU)", "API requests", "Lambda invocations (median ms each, measured here)", "bytes Sluice sent / read at storage"],
    results.map((c) => {
      const units = (kind: string) => [...c.dynamoUnits].filter(([k]) => k.endsWith(`|${kind}`)).reduce((a, [, n]) => a + n, 0);
      const lambda = [...c.lambda].map(([fn, ms]) => `${fn} ${ms.length}× (${ms.map((m) => m.toFixed(0)).join(", ")})`).join("; ") || "–";
      const client = [ops(c.storage, "client"), ops(c.storage, "cloudfront")].filter((s) => s !== "–").join("; ") || "–";
      return [...label(c).split(" | "), c.shape, ops(c.storage, "sluice"), client, ops(c.tickets), ops(c.metadata), c.dynamoCalls.size ? ops(c.dynamoCalls) : "–", c.dynamoUnits.size ? `${units("read")} / ${units("write")}` : "–", String(c.apiRequests), lambda, `${bytes(c.storageSent.get("sluice") ?? 0)} / ${bytes(c.storageReceived.get("sluice") ?? 0)}`];
    }),
  );
  const dollars = table(
    ["deployment", "mode", "size", "S3 requests", "staging held after archive", "Lambda requests", "Lambda GB-s", "API Gateway (REST)", "DynamoDB", "SQS", "CloudFront", "**total per million uploads**"],
    results.map((c) => {
      const d = dollarsOf(c);
      const m = (x: number) => usd(x * 1e6);
      return [...label(c).split(" | "), m(d.s3Requests), `${m(d.stagingHold)} (${(c.stagingHoldSeconds / 60).toFixed(0)} min)`, m(d.lambdaRequests), m(d.lambdaCompute), m(d.apiGateway), m(d.dynamo), m(d.sqs), m(d.cloudFront), `**${m(d.total)}**`];
    }),
  );
  const prices = table(
    ["item", "list price (us-east-1)", "where it was read (2026-12-02, stored copies)"],
    Object.values(PRICES).map((p) => [p.unit, p.usd >= 0.01 ? `$${p.usd}` : `$${p.usd.toPrecision(3)}`, p.source]),
  );
  const sizes = [...new Set(results.map((c) => c.size))];
  const comparison = table(
    ["a million uploads of", "stored", "S3 Standard, one month of the files", "Sluice serverless, cheapest mode (per-upload cost)", "Sluice Node, cheapest mode (requests only; the instance extra)", "UploadThing \"Usage based\" (one month)", "Supabase Pro (one month)"],
    sizes.map((size) => {
      const gb = (1e6 * size) / GIB;
      const cheapest = (dep: string) => {
        const flows = results.filter((c) => c.size === size && c.deployment === dep).map((c) => ({ c, d: dollarsOf(c) }));
        flows.sort((a, b) => a.d.total - b.d.total);
        const best = flows[0];
        return best ? `${usd(best.d.total * 1e6)} (${best.c.mode})` : "–";
      };
      return [sizeName(size), `${gb.toFixed(0)} GB`, usd(s3StorageMonth(gb)), cheapest("serverless"), cheapest("node"), usd(25 + Math.max(0, gb - 250) * 0.08), usd(25 + Math.max(0, gb - 100) * 0.021)];
    }),
  );
  return ["Counts per upload (from `npm run bench`'s `cost` section):", "", counts, "", "Dollars per million uploads:", "", dollars, "", "Prices:", "", prices, "", "Comparison:", "", comparison].join("\n");
}

function bytes(n: number): string {
  return n >= GIB ? `${(n / GIB).toFixed(2)} GiB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}
