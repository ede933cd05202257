/**
 * `npm run bench`: every figure next to its baseline, measured in the same run, alternating
 * rounds so that machine noise hits both alike; medians are reported. `--write` also puts
 * the results into docs/benchmarks.md.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createReadStream, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { SluiceNodeClient } from "@sluice/client/node";
import { createS3Client, presignerFor, type S3StoreOptions } from "../src/storage/s3.js";
import { DynamoTicketStore } from "../src/tickets/dynamodb.js";
import { memcachedUrl, startMemcached, startMotoDynamo, startPostgres, startRedis, type BackendServer } from "../test/helpers/backends.js";
import { startRgw, type Rgw } from "../test/helpers/rgw.js";
import { ROOT, spawnServer, startServer, type ServerProcess } from "../test/helpers/server.js";
import { median, rssMiB, writeRandomFile } from "./measure.js";
import { benchEvents } from "./events.js";
import { benchIssue } from "./issue.js";
import { benchTus } from "./tus.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** `issue`, `stores`, `gateway`, `s3`, `lambda`, `tus`, `events`, `cost`: run only some sections (for development; `--write` needs them all). */
const ALL_SECTIONS = ["issue", "stores", "gateway", "s3", "lambda", "tus", "events", "cost"];
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? ALL_SECTIONS.join(",")).split(","));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;
const GIB = 1024 ** 3;
const KEY = "sk_bench_0123456789abcdefghijklmnop";

/** The baseline server (bench/baseline-server.ts) logs its `listening` line as JSON, as Sluice does. */
const startBaseline = (sinkDir: string) => spawnServer(["--import", "tsx", "bench/baseline-server.ts"], { SINK_DIR: sinkDir }, { awaitLog: true, awaitBanner: false, echoErrors: true });
/**
 * Sluice started exactly as the tests start it (`startServer`: `npm start`'s arguments), at
 * warn level. Single-request uploads unless `env` says otherwise: the gateway and direct
 * figures send 1 GiB in one PUT. The data directory is the run's to remove.
 */
const startSluice = (dataDir: string, env: Record<string, string> = {}) =>
  startServer({ SLUICE_API_KEYS: KEY, SLUICE_RATE_LIMIT: "off", SLUICE_LOG_LEVEL: "warn", SLUICE_MULTIPART_THRESHOLD: String(5 * GIB), ...env }, { dataDir, keep: true, echoErrors: true });

const s3Env = (rgw: Rgw, mode: "direct" | "gateway"): Record<string, string> => ({
  SLUICE_STORAGE: "s3",
  SLUICE_UPLOAD_MODE: mode,
  SLUICE_STAGING_BUCKET: `staging-${mode}`,
  SLUICE_ARCHIVE_BUCKET: `archive-${mode}`,
  // Arrival by the complete call only, so that archive time is measured from a known moment.
  SLUICE_RECONCILE_INTERVAL: "86400",
  AWS_ENDPOINT_URL_S3: rgw.endpoint,
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: rgw.accessKeyId,
  AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
  SLUICE_S3_FORCE_PATH_STYLE: "true",
});

async function hammer(url: string, path = "/v1/uploads"): Promise<{ rps: number; p99: number; non2xx: number }> {
  const result = await autocannon({
    url: `${url}${path}`,
    method: "POST",
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ filename: "bench.bin", contentType: "application/octet-stream", size: 1024 }),
  });
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx + result.errors };
}

/** Streams `size` bytes of generated data as a PUT, never holding more than one chunk. */
async function streamPut(url: string, size: number, headers: Record<string, string>): Promise<{ status: number; seconds: number }> {
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761) >>> 0, i); // not all zeroes
  const started = performance.now();
  const req = http.request(url, { method: "PUT", headers: { ...headers, "content-length": String(size) } });
  const response = new Promise<number>((resolve, reject) => {
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
  });
  for (let sent = 0; sent < size; sent += chunk.length) {
    const piece = size - sent >= chunk.length ? chunk : chunk.subarray(0, size - sent);
    if (!req.write(piece)) await once(req, "drain");
  }
  req.end();
  const status = await response;
  return { status, seconds: (performance.now() - started) / 1000 };
}

async function issue(sluice: ServerProcess, size: number) {
  return fetch(`${sluice.url}/v1/uploads`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ filename: "big.bin", contentType: "application/octet-stream", size }),
  }).then((r) => r.json() as Promise<{ id: string; key: string; upload: { url: string; headers: Record<string, string> } }>);
}

/** Waits for the upload to be archived; returns its file id. */
async function waitArchived(sluice: ServerProcess, id: string): Promise<string> {
  let status = { state: "", fileId: "" };
  while (!["archived", "rejected", "failed"].includes(status.state)) {
    await new Promise((r) => setTimeout(r, 20));
    status = (await fetch(`${sluice.url}/v1/uploads/${id}`, { headers: { authorization: `Bearer ${KEY}` } }).then((r) => r.json())) as typeof status;
  }
  if (status.state !== "archived") throw new Error(`upload ${id} ended ${status.state}`);
  return status.fileId;
}

/** Bytes the process has read through system calls (files and sockets alike). */
function bytesRead(pid: number): number {
  return Number(/rchar:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? NaN);
}

/** Presigned URLs per second, signing the same PUT over and over for `ms`. */
async function presignRate(sign: () => Promise<unknown>, ms = 2000): Promise<number> {
  for (let i = 0; i < 200; i++) await sign(); // warm-up
  const started = performance.now();
  let n = 0;
  while (performance.now() - started < ms) {
    for (let i = 0; i < 100; i++) await sign();
    n += 100;
  }
  return n / ((performance.now() - started) / 1000);
}

async function gatewayUpload(sluice: ServerProcess, size: number) {
  const issued = await issue(sluice, size);
  const pid = sluice.process.pid!;
  const before = rssMiB(pid, "VmRSS");
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid, "VmRSS"))), 20);
  const put = await streamPut(issued.upload.url, size, issued.upload.headers);
  if (put.status !== 200) throw new Error(`gateway upload answered ${put.status}`);
  const arrived = performance.now();
  const fileId = await waitArchived(sluice, issued.id);
  const archiveSeconds = (performance.now() - arrived) / 1000;
  clearInterval(sampler);
  return { key: issued.key, fileId, mibPerSec: size / 1024 ** 2 / put.seconds, rssBefore: before, rssPeak: peak, archiveSeconds };
}

async function main() {
  const write = process.argv.includes("--write");
  if (write && SECTIONS.size < ALL_SECTIONS.length) throw new Error("--write records every figure: unset BENCH_SECTIONS");
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-bench-"));
  const rows: string[][] = [];
  const line = (...cells: string[]) => {
    rows.push(cells);
    console.log(cells.join("  |  "));
  };
  try {
    console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / GIB)} GiB, Node ${process.version}`);

    line("figure", "Sluice", "baseline", "ratio");
    // 1. POST /v1/uploads (bench/issue.ts): server CPU per request and req/s against the bare
    //    Hono routes, seed 003's Fastify + getSignedUrl server and @tus/server's creation, with
    //    the load generator in a process of its own.
    if (SECTIONS.has("issue")) await benchIssue({ tmp, connections: CONNECTIONS, key: KEY, line, startSluice, startBaseline });

    // 1b. The same, with each shared ticket store (real servers on this machine, sharing its
    //     two cores with Sluice and the load generator), next to the memory store and the bare
    //     echo route, in alternating rounds.
    if (SECTIONS.has("stores")) {
      const servers: BackendServer[] = [];
      const procs: ServerProcess[] = [];
      try {
        const [redis, postgres, mc1, mc2] = await Promise.all([startRedis(), startPostgres(), startMemcached(), startMemcached()]);
        servers.push(redis, postgres, mc1, mc2);
        const targets: [string, string][] = [
          ["memory", "memory"],
          ["redis", redis.url],
          ["memcached (2 nodes)", memcachedUrl([mc1, mc2])],
          ["postgres", postgres.url],
        ];
        const baseline = await startBaseline(tmp);
        procs.push(baseline);
        const sluices: ServerProcess[] = [];
        for (const [name, tickets] of targets) {
          const proc = await startSluice(path.join(tmp, `stores-${name.split(" ")[0]}`), { SLUICE_TICKETS: tickets });
          sluices.push(proc);
          procs.push(proc);
          await hammer(proc.url); // warm-up, not counted
        }
        await hammer(baseline.url, "/echo");
        const results = targets.map(() => [] as { rps: number; p99: number }[]);
        const echo: { rps: number; p99: number }[] = [];
        for (let round = 1; round <= ROUNDS; round++) {
          echo.push(await hammer(baseline.url, "/echo"));
          for (const [i, proc] of sluices.entries()) {
            const r = await hammer(proc.url);
            if (r.non2xx > 0) throw new Error(`Sluice on ${targets[i]![0]} answered ${r.non2xx} requests with errors`);
            results[i]!.push(r);
          }
          console.log(`round ${round}: echo ${echo.at(-1)!.rps.toFixed(0)} req/s; ${targets.map(([n], i) => `${n} ${results[i]!.at(-1)!.rps.toFixed(0)} req/s p99 ${results[i]!.at(-1)!.p99} ms`).join("; ")}`);
        }
        const echoRps = median(echo.map((x) => x.rps));
        for (const [i, [name]] of targets.entries()) {
          const rps = median(results[i]!.map((x) => x.rps));
          line(`POST /v1/uploads req/s (median), tickets in ${name}, vs bare echo route`, rps.toFixed(0), echoRps.toFixed(0), `${((100 * rps) / echoRps).toFixed(0)}%`);
          line(`POST /v1/uploads p99 ms (median), tickets in ${name}`, median(results[i]!.map((x) => x.p99)).toFixed(1), median(echo.map((x) => x.p99)).toFixed(1), "");
        }
      } finally {
        for (const proc of procs) await proc.stop();
        for (const server of servers) await server.stop();
      }
    }

    // 1c. Lambda cold start: the bundle's size, and how long Node takes to load the handler
    //     module (parse, compile, run its top level), next to a minimal Hono Lambda bundled
    //     the same way. Fresh processes, alternating, medians.
    if (SECTIONS.has("lambda")) {
      const baselineBundle = path.join(tmp, "baseline-lambda.mjs");
      const { build } = await import("esbuild");
      await build({ entryPoints: [path.join(ROOT, "bench/lambda-baseline.ts")], outfile: baselineBundle, bundle: true, format: "esm", platform: "node", target: ["node24"], minify: true, logLevel: "warning" });
      const sluiceBundle = path.join(ROOT, "dist/lambda/index.mjs");
      const bundleFiles = await fs.readdir(path.dirname(sluiceBundle), { recursive: true });
      let wholeBundle = 0;
      for (const f of bundleFiles) if (f.endsWith(".mjs")) wholeBundle += (await fs.stat(path.join(path.dirname(sluiceBundle), f))).size;
      // As the stack's default configures it: tickets and metadata in DynamoDB (moto's server, which
      // has the transactions the metadata store writes with); PostgreSQL for -c metadata=postgres.
      const dynamo = await startMotoDynamo();
      const postgres = await startPostgres();
      // Stopped however the rounds end: a failed cold start must not leave a server running.
      const starts: [Awaited<ReturnType<typeof coldStart>>[], Awaited<ReturnType<typeof coldStart>>[]] = [[], []];
      let multipartBytes = 0;
      let postgresBytes = 0;
      try {
        const tickets = new DynamoTicketStore({ table: "tickets", endpoint: dynamo.url, region: "us-east-1", credentials: { accessKeyId: "bench", secretAccessKey: "bench" } });
        await tickets.ensureTable();
        await tickets.close();
        const env = {
          SLUICE_STORAGE: "s3",
          SLUICE_UPLOAD_MODE: "direct",
          AWS_REGION: "us-east-1",
          AWS_ACCESS_KEY_ID: "bench",
          AWS_SECRET_ACCESS_KEY: "bench",
          AWS_ENDPOINT_URL: "http://127.0.0.1:9",
          SLUICE_TICKETS: "dynamodb://tickets",
          SLUICE_DATABASE: "dynamodb://sluice-metadata",
          AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
          SLUICE_SIGNING_SECRET: "bench-signing-secret-0123456789",
          SLUICE_API_KEYS: KEY,
          SLUICE_LOG_LEVEL: "silent",
          // The stack gives the issuer a role for scoped credentials: its STS client is loaded too.
          SLUICE_STS_ROLE_ARN: "arn:aws:iam::123456789012:role/sluice-uploader",
        };
        await coldStart(sluiceBundle, env); // the first start makes the metadata table; cold starts after it find it made
        for (let round = 0; round < 15; round++) {
          for (const [i, file] of [sluiceBundle, baselineBundle].entries()) starts[i]!.push(await coldStart(file, env));
        }
        // The S3 client is loaded on the first call to storage, such as a multipart upload's
        // CreateMultipartUpload. Storage is a closed port here: the code loads, the call fails (503).
        multipartBytes = (await coldStart(sluiceBundle, { ...env, AWS_MAX_ATTEMPTS: "1" }, { size: 200 * 1024 ** 2, expect: 503 })).loadedBytes;
        await coldStart(sluiceBundle, { ...env, SLUICE_DATABASE: postgres.url }); // migrates
        postgresBytes = (await coldStart(sluiceBundle, { ...env, SLUICE_DATABASE: postgres.url })).loadedBytes;
      } finally {
        await dynamo.stop();
        await postgres.stop();
      }
      const issuerBytes = starts[0][0]!.loadedBytes;
      const baselineBytes = starts[1][0]!.loadedBytes;
      line("Lambda issuer: bundle code it loads up to its first issued URL (DynamoDB tickets and metadata, STS), KiB", (issuerBytes / 1024).toFixed(0), `${(baselineBytes / 1024).toFixed(0)} (minimal Hono Lambda); 977 (target: 1 MB, 10^6 bytes)`, `${(issuerBytes / baselineBytes).toFixed(1)}×`);
      line("Lambda issuer, the same with PostgreSQL metadata (-c metadata=postgres), KiB", (postgresBytes / 1024).toFixed(0), "977 (target)", "");
      line("Lambda issuer: bundle code it loads once it first calls S3 (a multipart upload issued), KiB", (multipartBytes / 1024).toFixed(0), "", "");
      line("Lambda bundle, all handlers and every backend (split), KiB", (wholeBundle / 1024).toFixed(0), "", "");
      const ms = starts.map((runs) => median(runs.map((r) => r.ms)));
      line("Lambda cold start in Node (import, connect, first POST /v1/uploads answered 201; DynamoDB on moto), ms (median of 15)", ms[0]!.toFixed(1), `${ms[1]!.toFixed(1)} (minimal Hono Lambda)`, `${(ms[0]! / ms[1]!).toFixed(1)}×`);
    }

    // 2. Gateway upload: server memory must not grow with the file; throughput next to a bare pipe to disk.
    if (SECTIONS.has("gateway")) {
      // Alternating rounds, medians: one 1 GiB upload each is too noisy on a shared machine.
      const gw = await startSluice(path.join(tmp, "gateway"));
      const sink = await startBaseline(tmp);
      const small = await gatewayUpload(gw, 64 * 1024 ** 2);
      const bigs: Awaited<ReturnType<typeof gatewayUpload>>[] = [];
      const raws: number[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const big = await gatewayUpload(gw, GIB);
        // The bare pipe deletes its file at once; so does this, so that neither leaves dirty pages for the other's round to write back.
        await fetch(`${gw.url}/v1/files/${big.fileId}`, { method: "DELETE", headers: { authorization: `Bearer ${KEY}` } });
        const raw = await streamPut(`${sink.url}/sink`, GIB, { "content-type": "application/octet-stream" });
        bigs.push(big);
        raws.push(GIB / 1024 ** 2 / raw.seconds);
        console.log(`round ${round}: gateway ${big.mibPerSec.toFixed(0)} MiB/s (RSS peak ${big.rssPeak.toFixed(0)} MiB, archived in ${big.archiveSeconds.toFixed(2)} s); bare pipe ${raws.at(-1)!.toFixed(0)} MiB/s`);
      }
      const hwm = rssMiB(gw.process.pid!, "VmHWM");
      await gw.stop();
      await sink.stop();
      const mibPerSec = median(bigs.map((b) => b.mibPerSec));
      const rawMibPerSec = median(raws);
      const rssPeak = Math.max(...bigs.map((b) => b.rssPeak));
      line("gateway upload 1 GiB, MiB/s (median)", mibPerSec.toFixed(0), rawMibPerSec.toFixed(0), `${((100 * mibPerSec) / rawMibPerSec).toFixed(0)}%`);
      line("server RSS peak during 1 GiB uploads (highest round), MiB", rssPeak.toFixed(0), `${small.rssPeak.toFixed(0)} (64 MiB upload)`, `${(rssPeak / small.rssPeak).toFixed(2)}×`);
      line("server RSS high-water mark (whole run), MiB", hwm.toFixed(0), `${small.rssBefore.toFixed(0)} (idle, before upload)`, "");
      line("arrival → archived, 1 GiB (sniff 4 KiB + copy + delete), s (median)", median(bigs.map((b) => b.archiveSeconds)).toFixed(2), `${small.archiveSeconds.toFixed(2)} (64 MiB)`, "");
    }

    // 3. S3 on a real RGW: presigning, direct against gateway upload, archive by server-side copy.
    if (SECTIONS.has("s3")) {
      const rgw = await startRgw();
      try {
        const store: S3StoreOptions = { endpoint: rgw.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } };
        const client = createS3Client(store);
        const presigner = presignerFor(client, store);
        const ours: number[] = [];
        const sdk: number[] = [];
        const sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        for (let round = 1; round <= ROUNDS; round++) {
          ours.push(await presignRate(() => presigner.putUrl({ bucket: "staging", key: "upl_x/big.bin" }, { contentType: "image/png", contentLength: 1234, sha256, expiresIn: 300 })));
          sdk.push(
            await presignRate(() =>
              getSignedUrl(
                client,
                new PutObjectCommand({ Bucket: "staging", Key: "upl_x/big.bin", ContentType: "image/png", ContentLength: 1234, IfNoneMatch: "*", ChecksumSHA256: Buffer.from(sha256, "hex").toString("base64") }),
                { expiresIn: 300, signableHeaders: new Set(["content-type", "content-length", "if-none-match"]), unhoistableHeaders: new Set(["x-amz-checksum-sha256"]) },
              ),
            ),
          );
          console.log(`round ${round}: presign ${ours.at(-1)!.toFixed(0)}/s; getSignedUrl ${sdk.at(-1)!.toFixed(0)}/s`);
        }
        line("presigned PUT URLs per second (median) vs getSignedUrl", median(ours).toFixed(0), median(sdk).toFixed(0), `${(median(ours) / median(sdk)).toFixed(1)}×`);

        const direct = await startSluice(path.join(tmp, "direct"), s3Env(rgw, "direct"));
        const gateway = await startSluice(path.join(tmp, "gateway-s3"), s3Env(rgw, "gateway"));
        const directRates: number[] = [];
        const gatewayRates: number[] = [];
        const archiveSeconds: number[] = [];
        const copySeconds: number[] = [];
        const readDuringArchive: number[] = [];
        let gatewayPeak = 0;
        // Round 0 warms RGW up (its first large write to the in-memory OSD is much slower) and is not counted.
        for (let round = 0; round <= ROUNDS; round++) {
          const d = await issue(direct, GIB);
          const put = await streamPut(d.upload.url, GIB, d.upload.headers);
          if (put.status !== 200) throw new Error(`direct PUT to RGW answered ${put.status}`);
          const directRate = GIB / 1024 ** 2 / put.seconds;
          const readBefore = bytesRead(direct.process.pid!);
          const completed = performance.now();
          await fetch(`${direct.url}/v1/uploads/${d.id}/complete`, { method: "POST", headers: { authorization: `Bearer ${KEY}` } });
          await waitArchived(direct, d.id);
          const archived = (performance.now() - completed) / 1000;
          const read = bytesRead(direct.process.pid!) - readBefore;
          // The baseline: the same server-side copy, sent straight to RGW.
          const copyStarted = performance.now();
          await client.send(new CopyObjectCommand({ Bucket: "archive-direct", Key: "baseline-copy", CopySource: `archive-direct/${d.key}` }));
          const copied = (performance.now() - copyStarted) / 1000;
          for (const Key of [d.key, "baseline-copy"]) await client.send(new DeleteObjectCommand({ Bucket: "archive-direct", Key }));

          const g = await gatewayUpload(gateway, GIB);
          gatewayPeak = Math.max(gatewayPeak, g.rssPeak);
          await client.send(new DeleteObjectCommand({ Bucket: "archive-gateway", Key: g.key }));
          console.log(`round ${round}${round === 0 ? " (warm-up)" : ""}: direct ${directRate.toFixed(0)} MiB/s, gateway ${g.mibPerSec.toFixed(0)} MiB/s (RSS peak ${g.rssPeak.toFixed(0)} MiB), archive ${archived.toFixed(2)} s vs bare copy ${copied.toFixed(2)} s`);
          if (round === 0) continue;
          directRates.push(directRate);
          gatewayRates.push(g.mibPerSec);
          archiveSeconds.push(archived);
          copySeconds.push(copied);
          readDuringArchive.push(read);
        }
        await direct.stop();
        await gateway.stop();
        client.destroy();
        line("1 GiB to RGW through the gateway vs direct (presigned PUT), MiB/s", median(gatewayRates).toFixed(0), median(directRates).toFixed(0), `${((100 * median(gatewayRates)) / median(directRates)).toFixed(0)}%`);
        line("gateway-mode server RSS peak during a 1 GiB upload to RGW, MiB", gatewayPeak.toFixed(0), "150 (target)", "");
        line("archive 1 GiB on RGW: complete → archived, s (median) vs bare CopyObject", median(archiveSeconds).toFixed(2), median(copySeconds).toFixed(2), `${(median(archiveSeconds) / median(copySeconds)).toFixed(2)}×`);
        line("bytes Sluice read while archiving 1 GiB (all sockets and files), KiB", (median(readDuringArchive) / 1024).toFixed(0), "1048576 (the file)", "");

        // Multipart uploads to RGW: the SDK (as the CLI uses it) against lib-storage's Upload,
        // the same 1 GiB file, 16 MiB parts, alternating, at each concurrency.
        const mp = await startSluice(path.join(tmp, "multipart"), {
          ...s3Env(rgw, "direct"),
          SLUICE_STAGING_BUCKET: "staging-mp",
          SLUICE_ARCHIVE_BUCKET: "archive-mp",
          SLUICE_MULTIPART_THRESHOLD: String(64 * 1024 ** 2),
          SLUICE_PART_SIZE: String(16 * 1024 ** 2),
        });
        const mpClient = createS3Client(store);
        const file = path.join(tmp, "random-1g.bin");
        await writeRandomFile(file, GIB);
        const sluiceClient = new SluiceNodeClient({ baseUrl: mp.url, apiKey: KEY });
        for (const concurrency of [1, 4, 8]) {
          const oursRates: number[] = [];
          const libRates: number[] = [];
          for (let round = 1; round <= ROUNDS; round++) {
            let started = performance.now();
            const result = await sluiceClient.upload(file, { concurrency });
            oursRates.push(GIB / 1024 ** 2 / ((performance.now() - started) / 1000));
            await fetch(`${mp.url}/v1/files/${await waitArchived(mp, result.id)}`, { method: "DELETE", headers: { authorization: `Bearer ${KEY}` } });
            started = performance.now();
            await new Upload({ client: mpClient, params: { Bucket: "staging-mp", Key: "lib-storage.bin", Body: createReadStream(file) }, partSize: 16 * 1024 ** 2, queueSize: concurrency }).done();
            libRates.push(GIB / 1024 ** 2 / ((performance.now() - started) / 1000));
            await mpClient.send(new DeleteObjectCommand({ Bucket: "staging-mp", Key: "lib-storage.bin" }));
            console.log(`concurrency ${concurrency}, round ${round}: Sluice SDK ${oursRates.at(-1)!.toFixed(0)} MiB/s (parts, then complete); lib-storage Upload ${libRates.at(-1)!.toFixed(0)} MiB/s`);
          }
          line(`multipart 1 GiB to RGW at concurrency ${concurrency}, MiB/s (median) vs lib-storage Upload`, median(oursRates).toFixed(0), median(libRates).toFixed(0), `${((100 * median(oursRates)) / median(libRates)).toFixed(0)}%`);
        }
        await fs.rm(file);

        // The CLI's memory: a 2 GiB upload against a 256 MiB one (sparse files: the bytes do not matter here).
        const peaks: Record<string, number> = {};
        for (const [name, size] of [["256 MiB", 256 * 1024 ** 2], ["2 GiB", 2 * GIB]] as const) {
          const sparse = path.join(tmp, `sparse-${size}.bin`);
          const handle = await fs.open(sparse, "w");
          await handle.truncate(size);
          await handle.close();
          peaks[name] = await cliPeakRss(["upload", sparse, "--json", "--concurrency", "4"], { SLUICE_URL: mp.url, SLUICE_API_KEY: KEY });
          await fs.rm(sparse);
        }
        line("CLI peak RSS uploading 2 GiB (concurrency 4, 16 MiB parts), MiB", peaks["2 GiB"]!.toFixed(0), `${peaks["256 MiB"]!.toFixed(0)} (256 MiB upload); 200 (target)`, `${(peaks["2 GiB"]! / peaks["256 MiB"]!).toFixed(2)}×`);
        await mp.stop();
        mpClient.destroy();
      } finally {
        await rgw.stop();
      }
    }

    // 4. tus (bench/tus.ts): Sluice's tus endpoint against @tus/server's FileStore and S3Store.
    if (SECTIONS.has("tus")) await benchTus({ tmp, rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, key: KEY, line, startSluice });

    // 5. Events (bench/events.ts): the dispatcher against a bare loop of signed POSTs, and the
    //    hot path with a webhook against none. Its issuance rounds are shorter, to keep the
    //    section within about three minutes.
    if (SECTIONS.has("events")) await benchEvents({ tmp, rounds: ROUNDS, seconds: Math.min(SECONDS, 6), connections: CONNECTIONS, key: KEY, line, startSluice });

    // 6. What an upload costs (bench/cost.ts): every mode on each deployment, counted, then priced.
    //    Its tables go into docs/benchmarks.md's "Cost model" section by hand (they are printed whole).
    if (SECTIONS.has("cost")) {
      const [{ countUploads }, { costTables }] = await Promise.all([import("./cost.js"), import("./cost-prices.js")]);
      console.log(costTables(await countUploads({ tmp })));
    }

    if (write) await writeResults(rows);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** Runs the built CLI and samples its RSS every 20 ms; returns the peak, in MiB. */
async function cliPeakRss(args: string[], env: Record<string, string>): Promise<number> {
  const child = spawn(process.execPath, [path.join(ROOT, "dist/cli/main.js"), ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: tmpHome, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  let peak = 0;
  const sampler = setInterval(() => {
    try {
      const rss = rssMiB(child.pid!, "VmRSS");
      if (Number.isFinite(rss)) peak = Math.max(peak, rss); // a zombie has no VmRSS line
    } catch {
      // exited between samples
    }
  }, 20);
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  clearInterval(sampler);
  if (code !== 0) throw new Error(`sluice ${args.join(" ")} exited ${code}: ${out}`);
  return peak;
}
const tmpHome = os.tmpdir();

/**
 * A cold start in a fresh Node process: import the handler module, then answer one API Gateway
 * event, the first issue of an upload URL (Sluice is built then: its backends' chunks are
 * loaded, it connects, and it writes a ticket); any other status than `expect` (201) fails
 * the bench. Returns the milliseconds and the bytes of the bundle's files Node loaded
 * (recorded by a module-load hook).
 */
async function coldStart(file: string, env: Record<string, string>, upload = { size: 1024, expect: 201 }): Promise<{ ms: number; loadedBytes: number }> {
  const log = path.join(os.tmpdir(), `sluice-loads-${process.pid}-${Date.now()}.log`);
  const hooks = `import { appendFileSync } from "node:fs"; export async function load(url, context, next) { if (url.startsWith("file:")) appendFileSync(${JSON.stringify(log)}, url + "\\n"); return next(url, context); }`;
  const script = [
    `import { register } from "node:module";`,
    `register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hooks)}));`,
    `const t = performance.now();`,
    `const m = await import(process.argv[1]);`,
    `const body = JSON.stringify({ filename: "cold.bin", contentType: "application/octet-stream", size: ${upload.size} });`,
    `const headers = { authorization: "Bearer ${KEY}", "content-type": "application/json", "content-length": String(body.length) };`,
    `const event = { version: "2.0", routeKey: "$default", rawPath: "/v1/uploads", rawQueryString: "", headers, body, isBase64Encoded: false, requestContext: { http: { method: "POST", path: "/v1/uploads", sourceIp: "127.0.0.1" }, timeEpoch: Date.now() } };`,
    `const res = await m.http(event, {});`,
    `if (res.statusCode !== ${upload.expect}) { console.log("answered", res.statusCode, res.body); process.exit(1); }`,
    `console.log(performance.now() - t);`,
    `process.exit(0);`,
  ].join("\n");
  const child = spawn(process.execPath, ["--input-type=module", "-e", script, file], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "ignore"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  if (code !== 0) throw new Error(`loading ${file} exited ${code}: ${out}`);
  const dir = path.dirname(file);
  const loaded = new Set((await fs.readFile(log, "utf8")).split("\n").filter((u) => u.startsWith("file:")).map((u) => new URL(u).pathname));
  await fs.rm(log, { force: true });
  let loadedBytes = 0;
  for (const f of loaded) if (f.startsWith(dir + path.sep)) loadedBytes += (await fs.stat(f)).size;
  return { ms: Number(out.trim()), loadedBytes };
}

async function writeResults(rows: string[][]) {
  const file = path.join(ROOT, "docs/benchmarks.md");
  const doc = await fs.readFile(file, "utf8");
  const [head, ...body] = rows;
  const table = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, Node ${process.version}, ${ROUNDS} rounds of ${SECONDS} s, ${CONNECTIONS} connections.`,
    "",
    `| ${head!.join(" | ")} |`,
    `|${head!.map(() => "---").join("|")}|`,
    ...body.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
  const updated = doc.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, `<!-- bench:start -->\n${table}\n<!-- bench:end -->`);
  await fs.writeFile(file, updated);
  console.log(`wrote ${file}`);
}

await main();
