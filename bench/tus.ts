/**
 * The tus section of `npm run bench` (`BENCH_SECTIONS=tus`): Sluice's tus endpoint against
 * `@tus/server`, each figure next to its baseline in the same run, alternating rounds, medians.
 *
 * - Upload throughput: one tus-js-client upload of BENCH_TUS_SIZE (default 1 GiB) bytes, in
 *   CHUNK-byte PATCHes, through Sluice on the filesystem against `@tus/server` with its
 *   FileStore, and through Sluice on RGW against its S3Store on the same RGW, with parts of
 *   the same size as Sluice's. The client is a process of its own (bench/tus-client.ts).
 * - Creation: `POST /v1/tus/` with `Upload-Length` and no body, from autocannon's CLI in a
 *   process of its own, against `@tus/server` with its FileStore.
 * - Server memory: Sluice's RSS, sampled every 20 ms, during the big upload and a 64 MiB one.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { AbortMultipartUploadCommand, CreateBucketCommand, DeleteObjectsCommand, ListMultipartUploadsCommand, type S3Client } from "@aws-sdk/client-s3";
import { removeBuckets, s3ClientFor, sluiceS3Env, useRgw } from "../test/helpers/rgw.js";
import { ROOT, spawnServer, type ServerProcess } from "../test/helpers/server.js";
import { isUploadId } from "../src/domain/upload-keys.js";
import { median, rssMiB, writeRandomFile } from "./measure.js";

const MIB = 1024 ** 2;
/** The size of the measured upload; smaller while developing on a busy machine (e.g. 67108864). */
const SIZE = Number(process.env.BENCH_TUS_SIZE ?? 1024 ** 3);
/** The smaller upload that the big one's server memory is compared with. */
const SMALL = 64 * MIB;
/** tus-js-client's `chunkSize`, Sluice's SLUICE_PART_SIZE and S3Store's `partSize`: one PATCH, one part. */
const CHUNK = 16 * MIB;
/**
 * A directory: both servers are CPU-profiled (bench/cpu-profile.mjs) and write their profiles
 * there when stopped (to see where a slower side's time goes; such a run's figures are not
 * comparable with others).
 */
const PROFILE_DIR = process.env.BENCH_TUS_PROFILE;
const profiling: Record<string, string> = PROFILE_DIR ? { NODE_OPTIONS: `--import=${path.join(ROOT, "bench/cpu-profile.mjs")}`, BENCH_CPU_PROFILE_DIR: PROFILE_DIR } : {};
const sizeLabel = (bytes: number) => (bytes >= 1024 ** 3 ? `${bytes / 1024 ** 3} GiB` : `${bytes / MIB} MiB`);

export interface TusBenchContext {
  tmp: string;
  rounds: number;
  seconds: number;
  connections: number;
  /** Sluice's API key, sent as the bearer of tus creation. */
  key: string;
  line(...cells: string[]): void;
  /** Sluice as the other sections start it (`npm start`'s arguments, warn level). */
  startSluice(dataDir: string, env?: Record<string, string>): Promise<ServerProcess>;
}

/** A tus server under test: where its endpoint is, and how to remove what an upload left. */
interface TusTarget {
  server: ServerProcess;
  endpoint: string;
  bearer?: string;
  /** Called after each upload, so that no round writes back another's dirty pages, nor fills RGW. */
  remove(uploadUrl: string): Promise<void>;
}

/** `@tus/server` in a process of its own (bench/tus-baseline-server.ts), on a free loopback port. */
async function startTusServer(env: Record<string, string>, s3?: S3Client): Promise<TusTarget> {
  const server = await spawnServer(["--import", "tsx", "bench/tus-baseline-server.ts"], { ...env, ...profiling }, { awaitLog: true, awaitBanner: false, echoErrors: true });
  return {
    server,
    endpoint: `${server.url}/v1/tus/`,
    async remove(uploadUrl) {
      if (s3) {
        // S3Store refuses termination of a finished upload (it aborts the multipart upload
        // first, which is gone): delete its object and its `.info` object as it would.
        const id = decodeURIComponent(new URL(uploadUrl).pathname.split("/").at(-1)!);
        await s3.send(new DeleteObjectsCommand({ Bucket: env.TUS_S3_BUCKET, Delete: { Objects: [{ Key: id }, { Key: `${id}.info` }] } }));
        return;
      }
      // tus termination: FileStore deletes the file and its record.
      const res = await fetch(uploadUrl, { method: "DELETE", headers: { "tus-resumable": "1.0.0" } });
      if (res.status !== 204) throw new Error(`@tus/server answered DELETE with ${res.status}`);
    },
  };
}

/** Sluice's tus endpoint; its uploads are archived, and the archived file is deleted through the API. */
async function startSluiceTarget(ctx: TusBenchContext, dataDir: string, env: Record<string, string>): Promise<TusTarget> {
  const server = await ctx.startSluice(dataDir, { SLUICE_PART_SIZE: String(CHUNK), ...env, ...profiling });
  return {
    server,
    endpoint: `${server.url}/v1/tus/`,
    bearer: ctx.key,
    remove: (uploadUrl) => removeSluiceUpload(ctx, server, uploadUrl),
  };
}

/**
 * Waits (bounded) for the tus upload to be archived, as the API reports it, then deletes the
 * archived file. The upload's id is the path segment of its tus URL that is an upload id.
 */
async function removeSluiceUpload(ctx: TusBenchContext, server: ServerProcess, uploadUrl: string): Promise<void> {
  const id = new URL(uploadUrl).pathname.split("/").find(isUploadId);
  if (!id) throw new Error(`no upload id in Sluice's tus URL ${uploadUrl}`);
  const headers = { authorization: `Bearer ${ctx.key}` };
  const deadline = Date.now() + 120_000;
  let status = { state: "", fileId: "" };
  while (!["archived", "rejected", "failed", "expired", "cancelled"].includes(status.state)) {
    if (Date.now() > deadline) throw new Error(`upload ${id} still ${status.state} after 120 s`);
    await new Promise((r) => setTimeout(r, 20));
    status = (await fetch(`${server.url}/v1/uploads/${id}`, { headers }).then((r) => r.json())) as typeof status;
  }
  if (status.state !== "archived") throw new Error(`tus upload ${id} ended ${status.state}`);
  const res = await fetch(`${server.url}/v1/files/${status.fileId}`, { method: "DELETE", headers });
  if (!res.ok) throw new Error(`deleting file ${status.fileId} answered ${res.status}`);
}

/** One upload by tus-js-client in its own process; Sluice's or the baseline's RSS sampled meanwhile. */
interface TusUploadResult {
  mibPerSec: number;
  rssPeak: number;
  url: string;
  /** Where the client's time went (bench/tus-client.ts). */
  creationMs: number;
  lastPatchMs: number;
  patchMs: number;
}

async function tusUpload(target: TusTarget, file: string, size: number): Promise<TusUploadResult> {
  const pid = target.server.process.pid!;
  let rssPeak = rssMiB(pid, "VmRSS");
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(pid, "VmRSS"))), 20);
  try {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/tus-client.ts"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", TUS_ENDPOINT: target.endpoint, TUS_FILE: file, TUS_CHUNK_SIZE: String(CHUNK), ...(target.bearer && { TUS_BEARER: target.bearer }) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, "close")) as [number | null];
    if (code !== 0) throw new Error(`tus-js-client to ${target.endpoint} exited ${code}: ${err}`);
    const { seconds, ...timings } = JSON.parse(out) as { seconds: number; url: string; creationMs: number; lastPatchMs: number; patchMs: number };
    return { mibPerSec: size / MIB / seconds, rssPeak, ...timings };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * tus creation requests per second: autocannon's CLI in its own process (so that it does not
 * share the bench's event loop), `ctx.connections` connections for `ctx.seconds`.
 */
async function hammerCreation(ctx: TusBenchContext, target: TusTarget): Promise<{ rps: number; p99: number; non2xx: number }> {
  const metadata = `filename ${Buffer.from("bench.bin").toString("base64")},filetype ${Buffer.from("application/octet-stream").toString("base64")}`;
  const headers = ["Tus-Resumable=1.0.0", "Upload-Length=1024", `Upload-Metadata=${metadata}`, ...(target.bearer ? [`Authorization=Bearer ${target.bearer}`] : [])];
  const args = [path.join(ROOT, "node_modules/.bin/autocannon"), "-c", String(ctx.connections), "-d", String(ctx.seconds), "-m", "POST", ...headers.flatMap((h) => ["-H", h]), "-j", target.endpoint];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  if (code !== 0) throw new Error(`autocannon exited ${code}`);
  const result = JSON.parse(out) as { requests: { average: number }; latency: { p99: number }; non2xx: number; errors: number };
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx + result.errors };
}

/**
 * Alternating rounds of the big upload (Sluice, then the baseline), after a warm-up upload of
 * SMALL bytes each, which is not counted; each round also uploads SMALL bytes to Sluice, for
 * its memory. Prints the throughput and memory rows.
 */
async function compareUploads(ctx: TusBenchContext, where: string, baselineName: string, sluice: TusTarget, baseline: TusTarget, files: { big: string; small: string }) {
  for (const target of [sluice, baseline]) await target.remove((await tusUpload(target, files.small, SMALL)).url);
  const ours: TusUploadResult[] = [];
  const theirs: TusUploadResult[] = [];
  const oursSmall: TusUploadResult[] = [];
  for (let round = 1; round <= ctx.rounds; round++) {
    for (const [target, results, file] of [
      [sluice, ours, files.big],
      [baseline, theirs, files.big],
      [sluice, oursSmall, files.small],
    ] as const) {
      const result = await tusUpload(target, file, file === files.big ? SIZE : SMALL);
      await target.remove(result.url);
      results.push(result);
    }
    const [o, t] = [ours.at(-1)!, theirs.at(-1)!];
    const times = (r: TusUploadResult) => `creation ${r.creationMs.toFixed(0)} ms, PATCH ${r.patchMs.toFixed(0)} ms (median), last PATCH ${r.lastPatchMs.toFixed(0)} ms`;
    console.log(
      `tus ${where} round ${round}: Sluice ${o.mibPerSec.toFixed(0)} MiB/s (RSS peak ${o.rssPeak.toFixed(0)} MiB; ${oursSmall.at(-1)!.rssPeak.toFixed(0)} MiB for ${sizeLabel(SMALL)}; ${times(o)}); ${baselineName} ${t.mibPerSec.toFixed(0)} MiB/s (RSS peak ${t.rssPeak.toFixed(0)} MiB; ${times(t)})`,
    );
  }
  const oursRate = median(ours.map((r) => r.mibPerSec));
  const theirRate = median(theirs.map((r) => r.mibPerSec));
  ctx.line(`tus upload ${sizeLabel(SIZE)} (${CHUNK / MIB} MiB chunks), ${where}, MiB/s (median) vs ${baselineName}`, oursRate.toFixed(0), theirRate.toFixed(0), `${((100 * oursRate) / theirRate).toFixed(0)}%`);
  const oursPeak = Math.max(...ours.map((r) => r.rssPeak));
  const smallPeak = Math.max(...oursSmall.map((r) => r.rssPeak));
  const theirPeak = Math.max(...theirs.map((r) => r.rssPeak));
  ctx.line(`Sluice RSS peak during tus uploads of ${sizeLabel(SIZE)}, ${where} (highest round), MiB vs ${sizeLabel(SMALL)} uploads`, oursPeak.toFixed(0), `${smallPeak.toFixed(0)} (${sizeLabel(SMALL)})`, `${(oursPeak / smallPeak).toFixed(2)}×`);
  ctx.line(`server RSS peak during tus uploads of ${sizeLabel(SIZE)}, ${where} (highest round), MiB vs ${baselineName}`, oursPeak.toFixed(0), theirPeak.toFixed(0), `${(oursPeak / theirPeak).toFixed(2)}×`);
}

async function compareCreation(ctx: TusBenchContext, sluice: TusTarget, baseline: TusTarget) {
  await hammerCreation(ctx, sluice); // warm-up, not counted
  await hammerCreation(ctx, baseline);
  const ours: Awaited<ReturnType<typeof hammerCreation>>[] = [];
  const theirs: Awaited<ReturnType<typeof hammerCreation>>[] = [];
  for (let round = 1; round <= ctx.rounds; round++) {
    const rs = await hammerCreation(ctx, sluice);
    const rb = await hammerCreation(ctx, baseline);
    if (rs.non2xx > 0) throw new Error(`Sluice answered ${rs.non2xx} tus creations with errors`);
    if (rb.non2xx > 0) throw new Error(`@tus/server answered ${rb.non2xx} tus creations with errors`);
    ours.push(rs);
    theirs.push(rb);
    console.log(`tus creation round ${round}: Sluice ${rs.rps.toFixed(0)} req/s p99 ${rs.p99} ms; @tus/server FileStore ${rb.rps.toFixed(0)} req/s p99 ${rb.p99} ms`);
  }
  const [oRps, tRps] = [median(ours.map((r) => r.rps)), median(theirs.map((r) => r.rps))];
  const [oP99, tP99] = [median(ours.map((r) => r.p99)), median(theirs.map((r) => r.p99))];
  ctx.line(`tus creation (POST /v1/tus/, Upload-Length, no body) req/s (median), fs, vs @tus/server FileStore`, oRps.toFixed(0), tRps.toFixed(0), `${((100 * oRps) / tRps).toFixed(0)}%`);
  ctx.line(`tus creation p99 ms (median), fs, vs @tus/server FileStore`, oP99.toFixed(1), tP99.toFixed(1), `${(oP99 / tP99).toFixed(2)}×`);
}

/** Aborts the multipart uploads a bucket still holds, then empties and deletes it. */
async function removeBucketsWithUploads(s3: S3Client, buckets: string[]): Promise<void> {
  for (const Bucket of buckets) {
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket })).catch(() => undefined);
    for (const u of listed?.Uploads ?? []) await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId }));
  }
  await removeBuckets(s3, buckets);
}

export async function benchTus(ctx: TusBenchContext): Promise<void> {
  const files = { big: path.join(ctx.tmp, "tus-big.bin"), small: path.join(ctx.tmp, "tus-small.bin") };
  await writeRandomFile(files.big, SIZE);
  await writeRandomFile(files.small, SMALL);
  const started: TusTarget[] = [];
  try {
    // The filesystem: Sluice's staging against @tus/server's FileStore, both in the run's directory.
    const baselineDir = path.join(ctx.tmp, "tus-file-store");
    await fs.mkdir(baselineDir);
    const fsSluice = await startSluiceTarget(ctx, path.join(ctx.tmp, "tus-fs"), {});
    started.push(fsSluice);
    const fileStore = await startTusServer({ TUS_STORE: "file", TUS_DIR: baselineDir });
    started.push(fileStore);
    await compareUploads(ctx, "fs", "@tus/server FileStore", fsSluice, fileStore, files);
    await compareCreation(ctx, fsSluice, fileStore);
    for (const target of started.splice(0)) await target.server.stop();

    // RGW: the shared cluster when SLUICE_TEST_RGW_ENDPOINT names one, else one of the run's own.
    const rgw = await useRgw();
    const s3 = s3ClientFor(rgw);
    const suffix = randomBytes(4).toString("hex");
    const buckets = { staging: `tus-staging-${suffix}`, archive: `tus-archive-${suffix}`, baseline: `tus-s3store-${suffix}` };
    try {
      await s3.send(new CreateBucketCommand({ Bucket: buckets.baseline }));
      const s3Sluice = await startSluiceTarget(ctx, path.join(ctx.tmp, "tus-s3"), sluiceS3Env(rgw, { SLUICE_UPLOAD_MODE: "gateway", SLUICE_STAGING_BUCKET: buckets.staging, SLUICE_ARCHIVE_BUCKET: buckets.archive }));
      started.push(s3Sluice);
      const s3Store = await startTusServer({
        TUS_STORE: "s3",
        TUS_PART_SIZE: String(CHUNK),
        TUS_S3_ENDPOINT: rgw.endpoint,
        TUS_S3_BUCKET: buckets.baseline,
        TUS_S3_ACCESS_KEY: rgw.accessKeyId,
        TUS_S3_SECRET_KEY: rgw.secretAccessKey,
      }, s3);
      started.push(s3Store);
      await compareUploads(ctx, "RGW", `@tus/server S3Store (${CHUNK / MIB} MiB parts)`, s3Sluice, s3Store, files);
    } finally {
      for (const target of started.splice(0)) await target.server.stop();
      await removeBucketsWithUploads(s3, Object.values(buckets));
      s3.destroy();
      await rgw.stop();
    }
  } finally {
    for (const target of started) await target.server.stop();
    await fs.rm(files.big, { force: true });
    await fs.rm(files.small, { force: true });
  }
}
