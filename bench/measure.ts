/** Measuring helpers shared by the bench's sections (bench/run.ts, bench/tus.ts). */
import { spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { ROOT } from "../test/helpers/server.js";

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function rssMiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  // A synchronous read of /proc: tiny, and it keeps the sampler simple.
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** A file of random bytes, written 64 MiB at a time. */
export async function writeRandomFile(file: string, size: number): Promise<void> {
  const handle = await fs.open(file, "w");
  const chunk = Buffer.alloc(64 * 1024 ** 2);
  for (let written = 0; written < size; written += chunk.length) await handle.write(randomFillSync(chunk), 0, Math.min(chunk.length, size - written));
  await handle.close();
}

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`): 100 on Linux for x86 and arm64. */
const CLOCK_TICKS = 100;

/**
 * CPU time (user + system, seconds) that a process has used so far, all its threads together
 * (libuv's pool and V8's GC threads included), from `/proc/<pid>/stat`. The fields after the
 * command name, which is parenthesized and may hold spaces, are split from its closing paren:
 * utime and stime are the stat's 14th and 15th fields.
 */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is the stat's 3rd field (state): utime is fields[11], stime fields[12].
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

export interface LoadResult {
  rps: number;
  p99: number;
  /** Responses received in the round (autocannon's `requests.total`). */
  requests: number;
  non2xx: number;
  /** The server's CPU time over the round divided by the responses: microseconds per request. */
  cpuMicros: number;
}

/**
 * One round of load from autocannon's CLI in a process of its own, so that the load generator
 * does not share the bench's event loop and its CPU is not the server's: `connections`
 * connections for `seconds`, the same request over and over. The server's CPU (`serverPid`,
 * read from /proc) is taken just before the load generator starts and just after it exits.
 */
export async function loadFromOwnProcess(options: { url: string; serverPid: number; connections: number; seconds: number; method?: string; headers?: Record<string, string>; body?: string }): Promise<LoadResult> {
  const headers = Object.entries(options.headers ?? {}).flatMap(([name, value]) => ["-H", `${name}=${value}`]);
  const args = [path.join(ROOT, "node_modules/.bin/autocannon"), "-c", String(options.connections), "-d", String(options.seconds), "-m", options.method ?? "POST", ...headers, ...(options.body === undefined ? [] : ["-b", options.body]), "-j", options.url];
  const cpuBefore = cpuSeconds(options.serverPid);
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  const cpu = cpuSeconds(options.serverPid) - cpuBefore;
  if (code !== 0) throw new Error(`autocannon exited ${code}`);
  const result = JSON.parse(out) as { requests: { average: number; total: number }; latency: { p99: number }; non2xx: number; errors: number };
  const requests = result.requests.total;
  return { rps: result.requests.average, p99: result.latency.p99, requests, non2xx: result.non2xx + result.errors, cpuMicros: requests > 0 ? (cpu / requests) * 1e6 : NaN };
}
