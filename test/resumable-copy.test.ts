/**
 * Issue 19, point 3: an archive copy that outlives one invocation. On the shared RGW, with
 * copies in parts of 5 MiB (`SLUICE_S3_SINGLE_COPY_MAX`, `SLUICE_S3_COPY_PART_SIZE`) and a
 * short `SLUICE_PROCESSING_BUDGET`, a 12-part copy goes on across several Lambda invocations
 * (the handlers run in this process, as in lambda.test.ts: the S3 event, then the reconcile
 * sweep and `index.continue`), each part copied once; a child process that is SIGKILLed
 * mid-copy leaves its recorded parts to the next invocation, which re-copies only the parts
 * that were in flight; and Node, with no budget, copies all parts in one run. Each time the
 * archived bytes are the staged bytes (SHA-256). Every UploadPartCopy is counted at the SDK
 * (a middleware logs each part number as it starts and as storage answers).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { CopyProgress, UploadRecord } from "../src/metadata/metadata-store.js";
import { createSluice, type Sluice } from "../src/runtime/compose.js";
import { createLogger } from "../src/internal/logger.js";
import { buildLambdaProcessor, continueEvent } from "./helpers/copy-run.js";
import { PNG, awsS3Event } from "./helpers/fixtures.js";
import { removeBuckets, s3ClientFor, sluiceS3Env, useRgw, type Rgw } from "./helpers/rgw.js";

const KEY = "sk_resumable_copy_0123456789abcdef";
const MiB = 1024 ** 2;
const PARTS = 12;
const SIZE = PARTS * 5 * MiB;
/** Each part copy is held this long at the client, so that a run is cut with parts in flight. */
const PART_DELAY_MS = 150;

let rgw: Rgw;
let s3: S3Client;
let dir: string;
let env: Record<string, string>;
let lambda: Awaited<ReturnType<typeof buildLambdaProcessor>>;
let node: Sluice;
const suffix = randomBytes(4).toString("hex");
const staging = `rcopy-staging-${suffix}`;
const archive = `rcopy-archive-${suffix}`;
/** Every UploadPartCopy this process sent, in order: `start n` / `done n`. */
const copies: string[] = [];

before(async () => {
  rgw = await useRgw();
  s3 = s3ClientFor(rgw);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-rcopy-"));
  env = sluiceS3Env(rgw, {
    SLUICE_UPLOAD_MODE: "direct",
    SLUICE_STAGING_BUCKET: staging,
    SLUICE_ARCHIVE_BUCKET: archive,
    SLUICE_DATA_DIR: dir,
    SLUICE_API_KEYS: KEY,
    SLUICE_RATE_LIMIT: "off",
    SLUICE_S3_SINGLE_COPY_MAX: String(5 * MiB),
    SLUICE_S3_COPY_PART_SIZE: String(5 * MiB),
    // Shorter than one round of part copies: a run starts its parts, then its budget is spent.
    SLUICE_PROCESSING_BUDGET: "0.1",
    // A killed run's lease lapses within a second (it renews every third of this while alive).
    SLUICE_PROCESSING_LEASE: "1",
  });
  lambda = await buildLambdaProcessor(env, { log: (line) => copies.push(line), delayMs: PART_DELAY_MS });
  await lambda.sluice.services.objects.prepare([staging, archive]);
  // Node with no budget (its default), on the same buckets and database: another instance.
  const { SLUICE_PROCESSING_BUDGET: _budget, ...nodeEnv } = env;
  const { loadConfig } = await import("../src/config.js");
  node = await createSluice(loadConfig(nodeEnv), { logger: createLogger({ level: "silent" }) });
});

after(async () => {
  await lambda?.sluice.close();
  await node?.close();
  lambda?.client.destroy();
  await removeBuckets(s3, [staging, archive]);
  s3?.destroy();
  await rgw?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

/** Issues a PNG of `SIZE` bytes through `sluice`'s API and PUTs it to staging; returns its id, key and SHA-256. */
async function stage(sluice: Sluice, filename: string) {
  const bytes = Buffer.concat([PNG, randomBytes(SIZE - PNG.byteLength)]);
  const res = await sluice.app.request("/v1/uploads", {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ filename, contentType: "image/png", size: SIZE }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const issued = (await res.json()) as { id: string; key: string; upload: { method: string; url: string; headers: Record<string, string> } };
  assert.equal(issued.upload.method, "PUT", "one presigned PUT (below the multipart threshold)");
  const put = await fetch(issued.upload.url, { method: "PUT", headers: issued.upload.headers, body: bytes });
  assert.equal(put.status, 200);
  return { id: issued.id, key: issued.key, sha256: createHash("sha256").update(bytes).digest("hex") };
}

async function record(id: string): Promise<UploadRecord> {
  const r = await lambda.sluice.services.metadata.getUpload(id);
  assert.ok(r);
  return r;
}

async function archivedSha256(key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: archive, Key: key }));
  const hash = createHash("sha256");
  for await (const chunk of got.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
  return hash.digest("hex");
}

/** How many times each part number was sent (`start`) in these log lines. */
function startsPerPart(lines: readonly string[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const line of lines) {
    const [what, n] = line.split(" ");
    if (what === "start") counts.set(Number(n), (counts.get(Number(n)) ?? 0) + 1);
  }
  return counts;
}

const allParts = () => Array.from({ length: PARTS }, (_, i) => i + 1);

describe("resumable archive copy", () => {
  it("goes on across several short Lambda invocations, each part copied once, and archives the staged bytes", async () => {
    copies.length = 0;
    const { id, key, sha256 } = await stage(lambda.sluice, "several.png");
    // Invocation 1: the S3 event. Its run checks the file, begins the copy and stops at its budget.
    await lambda.handlers.s3(awsS3Event(staging, key, SIZE));
    const first = await record(id);
    assert.equal(first.state, "processing");
    assert.ok(first.copyProgress, "the progress is recorded in the job");
    assert.equal(first.leaseOwner, null, "the job is released");
    assert.ok(first.nextAttemptAt !== null && first.nextAttemptAt <= Date.now(), "and due at once");
    assert.equal(first.attempts, 0, "a pause is not a failed attempt");
    assert.equal(first.copyProgress.partSize, 5 * MiB);
    assert.ok(first.copyProgress.parts.length < PARTS, `invocation 1 copied ${first.copyProgress.parts.length} parts, not all`);
    const seen: CopyProgress[] = [first.copyProgress];
    // Without SLUICE_CONTINUE_QUEUE the sweep carries it on; then `index.continue`, as the queue would.
    let invocations = 1;
    for (let i = 0; i < 20 && (await record(id)).state !== "archived"; i++) {
      invocations++;
      if (i === 0) await lambda.handlers.reconcile(undefined, undefined);
      else {
        const { batchItemFailures } = await lambda.handlers.continue(continueEvent(id));
        assert.deepEqual(batchItemFailures, []);
      }
      const r = await record(id);
      if (r.copyProgress) seen.push(r.copyProgress);
    }
    const done = await record(id);
    assert.equal(done.state, "archived", done.reason ?? "");
    assert.equal(done.copyProgress ?? null, null, "the progress is cleared with the outcome");
    assert.ok(invocations >= 3, `finished in ${invocations} invocations`);
    // Each run went on from the last one's parts, and was counted.
    for (let i = 1; i < seen.length; i++) {
      assert.equal(seen[i]!.multipartUploadId, seen[0]!.multipartUploadId, "one multipart upload throughout");
      assert.ok(seen[i]!.parts.length >= seen[i - 1]!.parts.length);
      assert.ok(seen[i]!.invocations >= seen[i - 1]!.invocations);
    }
    assert.ok(seen[seen.length - 1]!.invocations >= 2);
    const counts = startsPerPart(copies);
    assert.deepEqual([...counts.keys()].sort((a, b) => a - b), allParts(), "every part copied");
    assert.deepEqual([...counts.values()], allParts().map(() => 1), "no part copied twice: a run stops starting parts, and the ones in flight finish and are recorded");
    assert.equal(await archivedSha256(key), sha256, "what was staged is what is archived");
  });

  it("survives a SIGKILL mid-copy: the next invocation, in another process, re-copies only the parts that were in flight", async () => {
    copies.length = 0;
    const { id, key, sha256 } = await stage(lambda.sluice, "killed.png");
    // Invocation 1 here: checks, begins the copy, pauses.
    await lambda.handlers.s3(awsS3Event(staging, key, SIZE));
    const before = (await record(id)).copyProgress;
    assert.ok(before && before.parts.length < PARTS);
    // Invocation 2 in a child process, with no budget of its own: it would copy every part, but is killed.
    const log = path.join(dir, `child-${id}.log`);
    await fs.writeFile(log, "");
    const { SLUICE_PROCESSING_BUDGET: _budget, ...childEnv } = env;
    const child = spawn(process.execPath, ["--import", "tsx", "test/helpers/copy-run.ts"], {
      env: { ...process.env, ...childEnv, TEST_PART_LOG: log, TEST_UPLOAD_ID: id, TEST_PART_DELAY_MS: String(PART_DELAY_MS) },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    const childLines = async () => (await fs.readFile(log, "utf8")).split("\n").filter(Boolean);
    // Cut it once it has recorded some parts and has others in flight.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const lines = await childLines();
      const started = lines.filter((l) => l.startsWith("start")).length;
      const finished = lines.filter((l) => l.startsWith("done")).length;
      if (finished >= 2 && started > finished) break;
      assert.ok(!lines.includes("finished"), "the child finished before it could be cut");
      assert.ok(Date.now() < deadline, "the child did not get going");
      await sleep(5);
    }
    child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL");
    const lines = await childLines();
    const atKill = await record(id);
    assert.ok(atKill.copyProgress);
    assert.notEqual(atKill.leaseOwner, null, "the dead run still holds the lease, until it lapses");
    const recorded = new Set(atKill.copyProgress.parts.map((p) => p.n));
    assert.ok(recorded.size > before.parts.length, "the child recorded parts before it died");
    const childStarted = [...startsPerPart(lines).keys()];
    const inFlight = childStarted.filter((n) => !recorded.has(n));
    assert.ok(inFlight.length >= 1 && inFlight.length <= 4, `in flight at the kill: ${inFlight.join(", ")}`);

    // The lease lapses (1 s); the sweep here finds the job due and goes on, then `continue` until done.
    await sleep(1200);
    const parentBefore = copies.length;
    await lambda.handlers.reconcile(undefined, undefined);
    for (let i = 0; i < 20 && (await record(id)).state !== "archived"; i++) await lambda.handlers.continue(continueEvent(id));
    const done = await record(id);
    assert.equal(done.state, "archived", done.reason ?? "");
    const after = startsPerPart(copies.slice(parentBefore));
    for (const n of recorded) assert.equal(after.get(n), undefined, `part ${n}, recorded before the kill, was not copied again`);
    const again = [...after.keys()].filter((n) => childStarted.includes(n)).sort((a, b) => a - b);
    assert.deepEqual(again, [...inFlight].sort((a, b) => a - b), "only the parts in flight at the kill were copied again");
    const total = startsPerPart([...copies.slice(0, parentBefore), ...lines, ...copies.slice(parentBefore)]);
    assert.deepEqual([...total.keys()].sort((a, b) => a - b), allParts());
    assert.equal(await archivedSha256(key), sha256);
  });

  it("on Node, with no budget, copies every part in one run", async () => {
    const { id, key, sha256 } = await stage(node, "one-go.png");
    const saved: CopyProgress[] = [];
    const metadata = node.services.metadata;
    const update = metadata.updateUpload.bind(metadata);
    metadata.updateUpload = async (uploadId, patch, condition, event) => {
      if (uploadId === id && patch.copyProgress) saved.push(patch.copyProgress);
      return update(uploadId, patch, condition, event);
    };
    node.start({ healthChecks: false, reconcileLoop: false, webhookLoop: false });
    const res = await node.app.request(`/v1/uploads/${id}/complete`, { method: "POST", headers: { authorization: `Bearer ${KEY}` } });
    assert.ok(res.status < 300, await res.text());
    await node.idle();
    const done = await record(id);
    assert.equal(done.state, "archived", done.reason ?? "");
    const last = saved[saved.length - 1]!;
    assert.equal(last.parts.length, PARTS, "all parts recorded");
    assert.ok(saved.every((p) => p.invocations === 1), "in one run");
    assert.equal(await archivedSha256(key), sha256);
  });
});
