/**
 * Events delivered per second (bench/events.ts, part 1): Sluice's dispatcher against a bare
 * loop of POSTs of the same bodies to the same receiver, with the same HTTP client
 * (`sendWebhook`), the same Standard Webhooks signing (`webhookHeaders`) and the same
 * concurrency. Alternating rounds, medians.
 *
 * The dispatcher runs in this process on a Sluice assembled as the server assembles it (SQLite
 * metadata in the run's directory), driven pass after pass as the Node server's loop drives
 * it, with nothing else running. Its events are written as processing writes them: an
 * archived upload's record and its `upload.archived` event in one transaction (not timed).
 */
import path from "node:path";
import { loadConfig } from "../src/config/index.js";
import { newId } from "../src/internal/crypto.js";
import { createLogger } from "../src/internal/logger.js";
import type { UploadRecord } from "../src/metadata/metadata-store.js";
import { createSluice, type Sluice } from "../src/runtime/compose.js";
import { webhookPayload, type NewEvent, type SluiceEvent } from "../src/events/types.js";
import { dispatchOnce } from "../src/webhooks/dispatch.js";
import { sendWebhook } from "../src/webhooks/send.js";
import { webhookHeaders } from "../src/webhooks/signing.js";
import type { ServerProcess } from "../test/helpers/server.js";
import { median } from "./measure.js";
import { loadAverage, receiverStats, type EventsBenchContext } from "./events-context.js";

/** Events per round. */
const EVENTS = Number(process.env.BENCH_EVENTS_N ?? 1000);
/** Deliveries in flight at once on both sides: what one dispatcher pass sends in parallel (its default `limit`). */
const CONCURRENCY = 32;

/** An archived upload's record and its event, as processing writes them. */
function archivedUpload(now: number): { record: UploadRecord; event: NewEvent } {
  const id = newId("upl");
  const record: UploadRecord = {
    id,
    state: "archived",
    key: `${id}/bench.bin`,
    filename: "bench.bin",
    declaredType: "application/octet-stream",
    contentType: "application/octet-stream",
    size: 1024,
    sha256: null,
    receivedSha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    metadata: { project: "bench" },
    reason: null,
    apiKeyId: null,
    attempts: 1,
    nextAttemptAt: null,
    leaseOwner: null,
    leaseUntil: null,
    expiresAt: now + 300_000,
    createdAt: now,
    updatedAt: now,
    uploadedAt: now,
    archivedAt: now,
    deletedAt: null,
  };
  const event: NewEvent = {
    type: "upload.archived",
    uploadId: id,
    createdAt: now,
    data: {
      uploadId: id,
      fileId: `fil_${id.slice("upl_".length)}`,
      key: record.key,
      filename: record.filename,
      size: record.size,
      declaredContentType: record.declaredType,
      contentType: record.contentType,
      sha256: record.receivedSha256,
      metadata: record.metadata,
      apiKeyId: null,
      state: "archived",
    },
  };
  return { record, event };
}

/** Writes `n` archived uploads with their events (50 at a time: the store group-commits them); returns the events as the feed has them. */
async function writeEvents(sluice: Sluice, n: number, after: string | undefined): Promise<{ events: SluiceEvent[]; cursor: string | undefined }> {
  const s = sluice.services;
  for (let written = 0; written < n; written += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - written) }, () => {
        const { record, event } = archivedUpload(s.now());
        return s.metadata.insertUpload(record, event);
      }),
    );
  }
  const events: SluiceEvent[] = [];
  let cursor = after;
  for (;;) {
    const page = await s.metadata.readEvents({ ...(cursor !== undefined && { after: cursor }), limit: 500 });
    events.push(...page.events);
    if (page.cursor === cursor || page.events.length === 0) break;
    cursor = page.cursor;
  }
  if (events.length !== n) throw new Error(`the feed has ${events.length} of the ${n} events written`);
  return { events, cursor };
}

/** Dispatcher passes until `n` deliveries were made, as the Node server's loop runs them; the seconds taken. */
async function dispatchAll(sluice: Sluice, n: number): Promise<number> {
  const started = performance.now();
  let delivered = 0;
  while (delivered < n) {
    const report = await dispatchOnce(sluice.services);
    if (report.attempted > report.delivered) throw new Error(`the dispatcher failed ${report.attempted - report.delivered} attempts`);
    if (report.attempted === 0 && report.enqueued === 0) throw new Error(`the dispatcher found nothing to do after ${delivered} of ${n} deliveries`);
    delivered += report.delivered;
  }
  return (performance.now() - started) / 1000;
}

/**
 * The baseline: each event serialized, signed and POSTed with the dispatcher's own client,
 * CONCURRENCY at a time and without the batches' barrier, as a dispatcher with no store
 * would. The seconds taken.
 */
async function bareLoop(options: { url: string; events: readonly SluiceEvent[]; secret: string; timeoutMs: number }): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < options.events.length) {
      const event = options.events[next++]!;
      const body = JSON.stringify(webhookPayload(event));
      const headers = webhookHeaders([options.secret], { id: event.id, timestamp: Math.floor(Date.now() / 1000), body });
      const result = await sendWebhook({ url: options.url, headers, body, timeoutMs: options.timeoutMs, allowPrivate: true });
      if (!result.ok) throw new Error(`the receiver answered ${result.status ?? result.error}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return (performance.now() - started) / 1000;
}

/** The receiver's count of distinct `webhook-id`s, to check each side delivered every event. */
async function countDelivered(receiver: ServerProcess, before: number, expected: number, who: string): Promise<number> {
  const unique = (await receiverStats(receiver)).unique;
  if (unique - before !== expected) throw new Error(`the receiver saw ${unique - before} of ${expected} events from the ${who}`);
  return unique;
}

export async function benchDelivery(ctx: EventsBenchContext, receiver: ServerProcess): Promise<void> {
  const config = loadConfig({
    PATH: process.env.PATH,
    SLUICE_DATA_DIR: path.join(ctx.tmp, "events-dispatch"),
    SLUICE_API_KEYS: ctx.key,
    SLUICE_RATE_LIMIT: "off",
    SLUICE_LOG_LEVEL: "warn",
    SLUICE_WEBHOOK_ALLOW_PRIVATE: "true",
  });
  // Not started: no processing, no sweep, no dispatch loop; the bench drives the dispatcher.
  const sluice = await createSluice(config, { logger: createLogger({ level: "warn" }) });
  try {
    const res = await sluice.app.request("/v1/webhooks", {
      method: "POST",
      headers: { authorization: `Bearer ${ctx.key}`, "content-type": "application/json" },
      body: JSON.stringify({ url: `${receiver.url}/dispatcher` }),
    });
    if (res.status !== 201) throw new Error(`POST /v1/webhooks answered ${res.status}: ${await res.text()}`);
    const { secret } = (await res.json()) as { secret: string };
    const bareUrl = `${receiver.url}/bare`;
    const { timeoutMs } = sluice.services.config.webhooks;

    let cursor: string | undefined;
    let seen = (await receiverStats(receiver)).unique;
    // Warm-up, not counted: a few hundred each way.
    const warm = await writeEvents(sluice, 200, cursor);
    cursor = warm.cursor;
    await dispatchAll(sluice, 200);
    await bareLoop({ url: bareUrl, events: warm.events, secret, timeoutMs });
    seen = (await receiverStats(receiver)).unique;

    const dispatcher: number[] = [];
    const bare: number[] = [];
    // This process's CPU per event on each side (the receiver's is its own): where a rate is low
    // on a busy machine, this says whether it is the work or the wait.
    const cpu: Record<string, number[]> = { dispatcher: [], "bare loop": [] };
    for (let round = 1; round <= ctx.rounds; round++) {
      const written = await writeEvents(sluice, EVENTS, cursor);
      cursor = written.cursor;
      // The bare loop sends the same events under other ids, so the receiver counts both.
      const again = written.events.map((e) => ({ ...e, id: `${e.id}-bare` }));
      const runs: [string, () => Promise<number>, number[]][] = [
        ["dispatcher", () => dispatchAll(sluice, EVENTS), dispatcher],
        ["bare loop", () => bareLoop({ url: bareUrl, events: again, secret, timeoutMs }), bare],
      ];
      if (round % 2 === 0) runs.reverse();
      for (const [who, run, rates] of runs) {
        const used = process.cpuUsage();
        const seconds = await run();
        const { user, system } = process.cpuUsage(used);
        cpu[who]!.push((user + system) / EVENTS);
        seen = await countDelivered(receiver, seen, EVENTS, who);
        rates.push(EVENTS / seconds);
      }
      console.log(`events delivery round ${round}: dispatcher ${dispatcher.at(-1)!.toFixed(0)} events/s (${cpu.dispatcher!.at(-1)!.toFixed(0)} µs CPU each); bare loop ${bare.at(-1)!.toFixed(0)} events/s (${cpu["bare loop"]!.at(-1)!.toFixed(0)} µs CPU each) (load ${loadAverage()})`);
    }
    const [d, b] = [median(dispatcher), median(bare)];
    ctx.line(`events delivered per second (median), ${CONCURRENCY} at a time, dispatcher vs bare loop of signed POSTs (same client)`, d.toFixed(0), b.toFixed(0), `${((100 * d) / b).toFixed(0)}%`);
    const [cd, cb] = [median(cpu.dispatcher!), median(cpu["bare loop"]!)];
    ctx.line("CPU per event delivered, µs (median), dispatcher vs bare loop", cd.toFixed(0), cb.toFixed(0), `${(cd / cb).toFixed(2)}×`);
  } finally {
    await sluice.close();
  }
}
