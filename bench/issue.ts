/**
 * The issue section of `npm run bench` (`BENCH_SECTIONS=issue`): `POST /v1/uploads` against the
 * bare route and the field's peers, in the same alternating rounds, medians.
 *
 * Every server under test is a process of its own, and so is the load generator (autocannon's
 * CLI, CONNECTIONS connections, ISSUE_SECONDS-second rounds): on a shared two-core machine the
 * first figure is each server's **CPU time per request**, its utime + stime from /proc over the
 * round (all its threads) divided by the responses; requests per second is the second.
 *
 * - Sluice as `npm start` runs it, with an API key, tickets in memory and in Redis
 *   (`redis-server` started by the bench on this machine), its metadata in SQLite (the default).
 * - The bare routes (bench/baseline-server.ts): Hono on Node parsing the body and answering
 *   201, with JSON of Sluice's shape and size ("same shape") and a small object ("echo").
 * - Seed 003's naive Fastify + `getSignedUrl` server (bench/fastify-baseline-server.ts).
 * - `@tus/server`'s upload creation with its FileStore (bench/tus-baseline-server.ts):
 *   `POST /v1/tus/` with Upload-Length and Upload-Metadata, no body.
 *
 * Ratios are said so that above 1 favours Sluice: the baseline's CPU per request over Sluice's,
 * and Sluice's requests per second over the baseline's.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startRedis, type BackendServer } from "../test/helpers/backends.js";
import { spawnServer, type ServerProcess } from "../test/helpers/server.js";
import { cpuSeconds, loadFromOwnProcess, median, type LoadResult } from "./measure.js";

/** The issue's own round length: 8 s, as issue 19 measured it; BENCH_ISSUE_SECONDS overrides. */
const ISSUE_SECONDS = Number(process.env.BENCH_ISSUE_SECONDS ?? 8);
/**
 * Seven rounds unless BENCH_ISSUE_ROUNDS says otherwise: on this shared two-core machine one
 * target's rounds spread by ±20%, the median of three moved the ratios by 0.1 from run to run,
 * and the machine is sometimes slowed for minutes at a time (every target, the bare routes
 * too, at 1.5x its CPU per request for two to five rounds running): a median of seven holds against
 * three such rounds, five against two.
 */
const ISSUE_ROUNDS = Number(process.env.BENCH_ISSUE_ROUNDS ?? 7);
/** An uncounted round per target before the first counted one: JIT, pools and caches warm. */
const WARM_UP_SECONDS = 3;

export interface IssueBenchContext {
  tmp: string;
  connections: number;
  key: string;
  line(...cells: string[]): void;
  /** Sluice as the other sections start it (`npm start`'s arguments, warn level). */
  startSluice(dataDir: string, env?: Record<string, string>): Promise<ServerProcess>;
  /** bench/baseline-server.ts, the bare Hono routes. */
  startBaseline(sinkDir: string): Promise<ServerProcess>;
}

interface Target {
  name: string;
  server: ServerProcess;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** One per counted round; every answer in them was a 2xx (an error would flatter its server). */
  results: LoadResult[];
}

const UPLOAD_BODY = JSON.stringify({ filename: "bench.bin", contentType: "application/octet-stream", size: 1024 });

export async function benchIssue(ctx: IssueBenchContext): Promise<void> {
  const servers: ServerProcess[] = [];
  let redis: BackendServer | undefined;
  const started = Date.now();
  const loadBefore = os.loadavg();
  try {
    redis = await startRedis();
    const json = { "content-type": "application/json" };
    const keyed = { ...json, authorization: `Bearer ${ctx.key}` };
    const tusDir = await fs.mkdtemp(path.join(ctx.tmp, "tus-issue-"));
    const memory = await ctx.startSluice(path.join(ctx.tmp, "issue-memory"));
    const onRedis = await ctx.startSluice(path.join(ctx.tmp, "issue-redis"), { SLUICE_TICKETS: redis.url });
    const bare = await ctx.startBaseline(ctx.tmp);
    const fastify = await spawnServer(["--import", "tsx", "bench/fastify-baseline-server.ts"], {}, { awaitLog: true, awaitBanner: false, echoErrors: true });
    const tus = await spawnServer(["--import", "tsx", "bench/tus-baseline-server.ts"], { TUS_STORE: "file", TUS_DIR: tusDir }, { awaitLog: true, awaitBanner: false, echoErrors: true });
    servers.push(memory, onRedis, bare, fastify, tus);
    const metadata = `filename ${Buffer.from("bench.bin").toString("base64")},filetype ${Buffer.from("application/octet-stream").toString("base64")}`;
    const targets: Target[] = [
      { name: "Sluice, tickets in memory", server: memory, path: "/v1/uploads", headers: keyed, body: UPLOAD_BODY, results: [] },
      { name: "Sluice, tickets in Redis", server: onRedis, path: "/v1/uploads", headers: keyed, body: UPLOAD_BODY, results: [] },
      { name: "bare Hono route, same response shape", server: bare, path: "/v1/uploads", headers: json, body: UPLOAD_BODY, results: [] },
      { name: "bare Hono echo route", server: bare, path: "/echo", headers: json, body: UPLOAD_BODY, results: [] },
      { name: "Fastify + getSignedUrl (seed 003)", server: fastify, path: "/v1/uploads", headers: json, body: UPLOAD_BODY, results: [] },
      { name: "@tus/server creation, FileStore", server: tus, path: "/v1/tus/", headers: { "tus-resumable": "1.0.0", "upload-length": "1024", "upload-metadata": metadata }, results: [] },
    ];
    const hit = (t: Target, seconds: number) =>
      loadFromOwnProcess({ url: `${t.server.url}${t.path}`, serverPid: t.server.process.pid!, connections: ctx.connections, seconds, headers: t.headers, ...(t.body !== undefined && { body: t.body }) });
    for (const t of targets) {
      const warm = await hit(t, WARM_UP_SECONDS);
      if (warm.non2xx > 0) throw new Error(`${t.name} answered ${warm.non2xx} of ${warm.requests} warm-up requests with errors`);
    }
    const redisCpu: number[] = [];
    for (let round = 1; round <= ISSUE_ROUNDS; round++) {
      // Each round starts with a different server, so that none always follows the same one.
      const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
      for (const t of order) {
        const redisBefore = t.server === onRedis ? cpuSeconds(redis.pid()!) : 0;
        const r = await hit(t, ISSUE_SECONDS);
        if (t.server === onRedis) redisCpu.push(((cpuSeconds(redis.pid()!) - redisBefore) / r.requests) * 1e6);
        if (r.non2xx > 0) throw new Error(`${t.name} answered ${r.non2xx} of ${r.requests} requests with errors`);
        t.results.push(r);
      }
      console.log(`round ${round}: ${targets.map((t) => `${t.name} ${t.results.at(-1)!.cpuMicros.toFixed(0)} µs/req, ${t.results.at(-1)!.rps.toFixed(0)} req/s`).join("; ")}`);
    }
    const cpu = (t: Target) => median(t.results.map((r) => r.cpuMicros));
    const rps = (t: Target) => median(t.results.map((r) => r.rps));
    const p99 = (t: Target) => median(t.results.map((r) => r.p99));
    const [sluiceMemory, sluiceRedis, ...baselines] = targets as [Target, Target, ...Target[]];
    for (const s of [sluiceMemory, sluiceRedis]) {
      const where = s === sluiceMemory ? "tickets in memory" : "tickets in Redis";
      for (const b of baselines) {
        ctx.line(`POST /v1/uploads server CPU µs/request (median), ${where}, vs ${b.name} (ratio: its CPU ÷ Sluice's)`, cpu(s).toFixed(0), cpu(b).toFixed(0), `${(cpu(b) / cpu(s)).toFixed(2)}×`);
      }
      // The same ratio taken within each round, then the median: one round's targets run within
      // a minute of each other, so a round's ratio is less moved by the machine's load than a
      // ratio of medians taken over the whole run. Printed beside it, not instead.
      for (const b of baselines.slice(0, 2)) {
        const paired = median(s.results.map((r, i) => b.results[i]!.cpuMicros / r.cpuMicros));
        ctx.line(`POST /v1/uploads server CPU, ${where}, vs ${b.name}: median of the rounds' own ratios (its CPU ÷ Sluice's, round by round)`, "", "", `${paired.toFixed(2)}×`);
      }
      for (const b of baselines) {
        ctx.line(`POST /v1/uploads req/s (median), ${where}, vs ${b.name}`, rps(s).toFixed(0), rps(b).toFixed(0), `${(rps(s) / rps(b)).toFixed(2)}×`);
      }
      ctx.line(`POST /v1/uploads p99 ms (median), ${where}, vs ${baselines[0]!.name}`, p99(s).toFixed(1), p99(baselines[0]!).toFixed(1), `${(p99(s) / p99(baselines[0]!)).toFixed(2)}×`);
    }
    ctx.line("redis-server CPU µs/request (median) while Sluice issued on it (not in Sluice's figure)", median(redisCpu).toFixed(0), "", "");
  } finally {
    for (const server of servers) await server.stop();
    await redis?.stop();
    console.log(`issue section: ${((Date.now() - started) / 1000).toFixed(0)} s; load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  }
}
