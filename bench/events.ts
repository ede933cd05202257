/**
 * The events section of `npm run bench` (`BENCH_SECTIONS=events`, issue 18): each figure next
 * to its baseline, measured in the same run, alternating rounds, medians.
 *
 * 1. Delivery: events delivered per second by Sluice's dispatcher to a local receiver
 *    (bench/webhook-receiver.ts, node:http in its own process, 200 after reading the body),
 *    against a bare loop of POSTs of the same bodies to the same receiver, with the same HTTP
 *    client, the same Standard Webhooks signing and the same concurrency.
 * 2. The hot path with one webhook configured against none, two servers side by side:
 *    issuance (`POST /v1/uploads`, autocannon's CLI in a process of its own); small gateway
 *    uploads, PUT eight at a time until the last is archived (uploads/s), and one at a time
 *    (arrival → archived from the server's own `createdAt` and `archivedAt`, and arrival →
 *    the receiver has its event); the servers' peak RSS. With BENCH_EVENTS_BEFORE, a third
 *    server built from before issue 18 shows what the outbox itself costs.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { MAIN, ROOT, START_ARGS, spawnServer, type ServerProcess } from "../test/helpers/server.js";
import { median, rssMiB } from "./measure.js";
import { benchDelivery } from "./events-delivery.js";
import { loadAverage, receiverStats, startReceiver, type EventsBenchContext } from "./events-context.js";

/** Uploads per round of the arrival figure, sent PUT_CONCURRENCY at a time. */
const UPLOADS = Number(process.env.BENCH_EVENTS_UPLOADS ?? 150);
const PUT_CONCURRENCY = 8;
/** Uploads per round of the latency figure, one at a time. */
const LATENCY_UPLOADS = 20;
const UPLOAD_SIZE = 1024;

/** Runs `task` over `items`, `concurrency` at a time, in order of start. */
async function forEachConcurrently<T, R>(items: readonly T[], concurrency: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** A webhook to the receiver for every event type, through the API as an operator adds one. */
async function addWebhook(ctx: EventsBenchContext, sluice: ServerProcess, url: string): Promise<void> {
  const res = await fetch(`${sluice.url}/v1/webhooks`, {
    method: "POST",
    headers: { authorization: `Bearer ${ctx.key}`, "content-type": "application/json" },
    body: JSON.stringify({ url }),
  });
  if (res.status !== 201) throw new Error(`POST /v1/webhooks answered ${res.status}: ${await res.text()}`);
}

/**
 * `POST /v1/uploads` per second: autocannon's CLI in its own process (so that it does not
 * share the bench's event loop, as in the tus section), `ctx.connections` connections.
 */
async function hammerIssue(ctx: EventsBenchContext, url: string, seconds: number): Promise<{ rps: number; p99: number; non2xx: number }> {
  const body = JSON.stringify({ filename: "bench.bin", contentType: "application/octet-stream", size: 1024 });
  const args = [path.join(ROOT, "node_modules/.bin/autocannon"), "-c", String(ctx.connections), "-d", String(seconds), "-m", "POST", "-H", "content-type=application/json", "-H", `authorization=Bearer ${ctx.key}`, "-b", body, "-j", `${url}/v1/uploads`];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  if (code !== 0) throw new Error(`autocannon exited ${code}`);
  const result = JSON.parse(out) as { requests: { average: number }; latency: { p99: number }; non2xx: number; errors: number };
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx + result.errors };
}

interface ArrivalRound {
  /** Uploads per second, from the first PUT sent to the last `archivedAt`. */
  uploadsPerSec: number;
  /** Seconds until the last PUT was answered (the bytes recorded). */
  putSeconds: number;
}

const uploadBytes = Buffer.alloc(UPLOAD_SIZE);
for (let i = 0; i < uploadBytes.length; i++) uploadBytes[i] = (i * 2654435761) >>> 24;

async function issueSmall(ctx: EventsBenchContext, sluice: ServerProcess) {
  const res = await fetch(`${sluice.url}/v1/uploads`, {
    method: "POST",
    headers: { authorization: `Bearer ${ctx.key}`, "content-type": "application/json" },
    body: JSON.stringify({ filename: "small.bin", contentType: "application/octet-stream", size: UPLOAD_SIZE }),
  });
  if (res.status !== 201) throw new Error(`POST /v1/uploads answered ${res.status}`);
  return (await res.json()) as { id: string; upload: { url: string; headers: Record<string, string> } };
}

async function putSmall(issued: { upload: { url: string; headers: Record<string, string> } }) {
  const res = await fetch(issued.upload.url, { method: "PUT", headers: issued.upload.headers, body: uploadBytes });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`gateway PUT answered ${res.status}`);
}

/**
 * Throughput: UPLOADS small gateway uploads, issued first (not timed), then PUT
 * PUT_CONCURRENCY at a time; waits (bounded) until the server lists every one archived. The
 * end is the server's own last `archivedAt`, so the bench's polling does not blur it.
 */
async function arrivalRound(ctx: EventsBenchContext, sluice: ServerProcess): Promise<ArrivalRound> {
  const headers = { authorization: `Bearer ${ctx.key}` };
  const issued = await forEachConcurrently(Array.from({ length: UPLOADS }), PUT_CONCURRENCY, () => issueSmall(ctx, sluice));
  const started = Date.now();
  await forEachConcurrently(issued, PUT_CONCURRENCY, putSmall);
  const putSeconds = (Date.now() - started) / 1000;
  const ids = new Set(issued.map((u) => u.id));
  const deadline = Date.now() + 120_000;
  for (;;) {
    // Newest first: this round's uploads are the first page (earlier rounds' come after).
    const page = (await fetch(`${sluice.url}/v1/files?limit=1000`, { headers }).then((r) => r.json())) as { items: FileView[] };
    const ours = page.items.filter((f) => ids.has(f.uploadId));
    const bad = ours.find((f) => !["uploaded", "processing", "archived"].includes(f.state));
    if (bad) throw new Error(`upload ${bad.uploadId} ended ${bad.state}`);
    const archived = ours.filter((f) => f.archivedAt !== null);
    if (archived.length === ids.size) {
      const last = Math.max(...archived.map((f) => Date.parse(f.archivedAt!)));
      return { uploadsPerSec: UPLOADS / ((last - started) / 1000), putSeconds };
    }
    if (Date.now() > deadline) throw new Error(`${ids.size - archived.length} of ${ids.size} uploads not archived after 120 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface FileView {
  uploadId: string;
  state: string;
  createdAt: string;
  archivedAt: string | null;
}

/**
 * Latency, with no queue: LATENCY_UPLOADS small uploads one after another, each waited for
 * until archived (polled every 5 ms); arrival → archived from the server's own record of the
 * file (`createdAt` is when the bytes were recorded). Returns each upload's times.
 */
async function latencyRound(ctx: EventsBenchContext, sluice: ServerProcess): Promise<Map<string, { arrived: number; archived: number }>> {
  const headers = { authorization: `Bearer ${ctx.key}` };
  const times = new Map<string, { arrived: number; archived: number }>();
  for (let i = 0; i < LATENCY_UPLOADS; i++) {
    const issued = await issueSmall(ctx, sluice);
    await putSmall(issued);
    const deadline = Date.now() + 30_000;
    let status = { state: "", fileId: "" };
    while (status.state !== "archived") {
      if (["rejected", "failed"].includes(status.state)) throw new Error(`upload ${issued.id} ended ${status.state}`);
      if (Date.now() > deadline) throw new Error(`upload ${issued.id} still ${status.state} after 30 s`);
      await new Promise((r) => setTimeout(r, 5));
      status = (await fetch(`${sluice.url}/v1/uploads/${issued.id}`, { headers }).then((r) => r.json())) as typeof status;
    }
    const file = (await fetch(`${sluice.url}/v1/files/${status.fileId}`, { headers }).then((r) => r.json())) as FileView;
    times.set(issued.id, { arrived: Date.parse(file.createdAt), archived: Date.parse(file.archivedAt!) });
  }
  return times;
}

/** Waits (bounded) until the receiver has an event of each of these uploads; returns arrival → received, ms. */
async function deliveryLatencies(receiver: ServerProcess, uploads: Map<string, { arrived: number }>): Promise<number[]> {
  const arrivals = new Map([...uploads].map(([id, t]) => [id, t.arrived]));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { uploads } = await receiverStats(receiver);
    const got = [...arrivals].filter(([id]) => uploads[id] !== undefined);
    if (got.length === arrivals.size) return got.map(([id, arrived]) => uploads[id]! - arrived);
    if (Date.now() > deadline) throw new Error(`the receiver has ${got.length} of ${arrivals.size} uploads' events after 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A built checkout of Sluice from before issue 18 (no outbox, no dispatcher), for a third
 * side: the hot path's cost of the outbox itself, which a webhook-against-none comparison
 * cannot show (both write events). For example, from the worktree:
 * `git archive 73b687c | tar -x -C /tmp/before && ln -s $PWD/node_modules /tmp/before/ && (cd /tmp/before && npx tsc -p tsconfig.build.json && node scripts/build-web.mjs)`,
 * then BENCH_EVENTS_BEFORE=/tmp/before.
 */
const BEFORE = process.env.BENCH_EVENTS_BEFORE;

/** The checkout's built server, started as `startSluice` starts this one (same arguments and settings). */
async function startBefore(ctx: EventsBenchContext, dir: string, dataDir: string): Promise<ServerProcess> {
  const args = START_ARGS.map((a) => (a === MAIN ? path.join(dir, "dist/runtime/node/main.js") : a));
  const env = { SLUICE_DATA_DIR: dataDir, SLUICE_API_KEYS: ctx.key, SLUICE_RATE_LIMIT: "off", SLUICE_LOG_LEVEL: "warn", SLUICE_MULTIPART_THRESHOLD: String(5 * 1024 ** 3) };
  return spawnServer(args, env, { awaitLog: false, awaitBanner: true, echoErrors: true });
}

interface Side {
  name: "none" | "webhook" | "before";
  label: string;
  server: ServerProcess;
  issue: { rps: number; p99: number }[];
  throughput: ArrivalRound[];
  latency: number[];
}

/**
 * Issuance and arrival → archived on servers side by side: one with a webhook to the
 * receiver, one with none (and, with BENCH_EVENTS_BEFORE, one from before issue 18), in
 * alternating rounds (the order turned every round).
 */
async function benchHotPath(ctx: EventsBenchContext, receiver: ServerProcess): Promise<void> {
  const env = { SLUICE_WEBHOOK_ALLOW_PRIVATE: "true" };
  const sides: Side[] = [];
  const side = (name: Side["name"], label: string, server: ServerProcess) => sides.push({ name, label, server, issue: [], throughput: [], latency: [] });
  try {
    side("none", "no webhook", await ctx.startSluice(path.join(ctx.tmp, "events-none"), env));
    side("webhook", "one webhook", await ctx.startSluice(path.join(ctx.tmp, "events-webhook"), env));
    if (BEFORE) side("before", "before issue 18", await startBefore(ctx, BEFORE, path.join(ctx.tmp, "events-before")));
    const [none, hooked] = sides as [Side, Side];
    await addWebhook(ctx, hooked.server, `${receiver.url}/hook`);
    const order = (round: number) => sides.map((_, i) => sides[(i + round) % sides.length]!);

    // Uploads first: issuance leaves tens of thousands of open tickets (and their expiry watches) behind.
    const delivered: number[] = [];
    for (const s of sides) await arrivalRound(ctx, s.server); // warm-up, not counted
    for (let round = 1; round <= ctx.rounds; round++) {
      const shown: string[] = [];
      for (const s of order(round)) {
        const t = await arrivalRound(ctx, s.server);
        const uploads = await latencyRound(ctx, s.server);
        const ms = [...uploads.values()].map((u) => u.archived - u.arrived);
        s.throughput.push(t);
        s.latency.push(median(ms));
        let text = `${s.name} ${t.uploadsPerSec.toFixed(0)} uploads/s (PUTs done in ${t.putSeconds.toFixed(1)} s), arrival → archived median ${median(ms).toFixed(0)} ms (max ${Math.max(...ms)})`;
        if (s === hooked) {
          const toApp = await deliveryLatencies(receiver, uploads);
          delivered.push(median(toApp));
          text += `, arrival → webhook received median ${median(toApp).toFixed(0)} ms (max ${Math.max(...toApp).toFixed(0)})`;
        }
        shown.push(text);
      }
      console.log(`events uploads round ${round}: ${shown.join("; ")} (load ${loadAverage()})`);
    }

    for (const s of sides) await hammerIssue(ctx, s.server.url, Math.min(3, ctx.seconds)); // warm-up, not counted
    for (let round = 1; round <= ctx.rounds; round++) {
      for (const s of order(round)) {
        const r = await hammerIssue(ctx, s.server.url, ctx.seconds);
        if (r.non2xx > 0) throw new Error(`Sluice (${s.label}) answered ${r.non2xx} requests with errors`);
        s.issue.push(r);
      }
      console.log(`events issuance round ${round}: ${sides.map((s) => `${s.name} ${s.issue.at(-1)!.rps.toFixed(0)} req/s p99 ${s.issue.at(-1)!.p99} ms`).join("; ")} (load ${loadAverage()})`);
    }

    const rss = new Map(sides.map((s) => [s, rssMiB(s.server.process.pid!, "VmHWM")]));
    const rate = (s: Side) => median(s.issue.map((x) => x.rps));
    const p99 = (s: Side) => median(s.issue.map((x) => x.p99));
    const ups = (s: Side) => median(s.throughput.map((x) => x.uploadsPerSec));
    const lat = (s: Side) => median(s.latency);
    const percent = (a: number, b: number) => `${((100 * a) / b).toFixed(0)}%`;
    const times = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    for (const [ours, base] of [[hooked, none], ...sides.filter((s) => s.name === "before").map((b) => [none, b] as const)] as const) {
      const vs = `${ours.label} vs ${base.label}`;
      ctx.line(`POST /v1/uploads req/s (median), ${vs}`, rate(ours).toFixed(0), rate(base).toFixed(0), percent(rate(ours), rate(base)));
      ctx.line(`POST /v1/uploads p99 ms (median), ${vs}`, p99(ours).toFixed(1), p99(base).toFixed(1), times(p99(ours), p99(base)));
      ctx.line(`small gateway uploads (${UPLOAD_SIZE} B, ${PUT_CONCURRENCY} at a time), first PUT → last archived, uploads/s (median), ${vs}`, ups(ours).toFixed(0), ups(base).toFixed(0), percent(ups(ours), ups(base)));
      ctx.line(`arrival → archived, one upload at a time, ms (median of rounds' medians of ${LATENCY_UPLOADS}), ${vs}`, lat(ours).toFixed(0), lat(base).toFixed(0), times(lat(ours), lat(base)));
      ctx.line(`server RSS high-water mark (whole section), MiB, ${vs}`, rss.get(ours)!.toFixed(0), rss.get(base)!.toFixed(0), times(rss.get(ours)!, rss.get(base)!));
    }
    ctx.line("arrival → webhook received by the app, one upload at a time, ms (median of rounds' medians)", median(delivered).toFixed(0), "", "");
  } finally {
    for (const s of sides) await s.server.stop();
  }
}

export async function benchEvents(ctx: EventsBenchContext): Promise<void> {
  const started = performance.now();
  console.log(`events section: load average ${loadAverage()} at start`);
  const receiver = await startReceiver();
  try {
    await benchDelivery(ctx, receiver);
    await benchHotPath(ctx, receiver);
  } finally {
    await receiver.stop();
  }
  console.log(`events section: ${((performance.now() - started) / 1000).toFixed(0)} s, load average ${loadAverage()} at end`);
}
