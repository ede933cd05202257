/**
 * The Cloudflare Workers entry point: the same app and domain code as `npm start`, on
 * backends a Worker can reach:
 * - objects: S3-compatible storage (AWS S3, R2's S3 API, Ceph) through the AWS SDK, which
 *   on Workers sends with `fetch`; the gateway streams a request's body to the bucket
 *   without reading it;
 * - tickets and metadata: a D1 database (binding `DB`). Tickets are the SQL ticket store:
 *   D1 applies writes one at a time, so each conditional UPDATE is the one-time claim;
 * - processing runs after the response, on behalf of the request that announced the arrival
 *   and kept alive by its `waitUntil`; the reconcile sweep and the ticket purge run on a Cron
 *   Trigger (`scheduled`);
 * - events are sent (webhooks, with `fetch`) under the same `waitUntil`, after a request that
 *   may have written one, and by the Cron Trigger every minute (retries that fell due, a
 *   delivery an invocation left unfinished).
 * Sluice is built once per isolate, on its first request (bindings arrive with it).
 */
import { Kysely } from "kysely";
import { D1Dialect, type D1DialectConfig } from "kysely-d1";
import { ConfigError, loadConfig } from "../../config.js";
import { reconcileStaging } from "../../domain/reconcile.js";
import { once } from "../../internal/async.js";
import { createLogger } from "../../internal/logger.js";
import { KyselyMetadataStore, type AtomicBatch } from "../../metadata/kysely-store.js";
import { KyselyWebhookStore, type WebhookTables } from "../../webhooks/kysely-store.js";
import type { Database } from "../../metadata/schema.js";
import { S3ObjectStore, createS3Client, presignerFor } from "../../storage/s3.js";
import { SqlTicketStore, type TicketDatabase } from "../../tickets/sql.js";
import { assembleSluice, type Sluice } from "../assemble.js";
import { dispatchWhileDue } from "../dispatch-runs.js";
import { refuseWhatWorkersCannotDo, workersRuntime } from "./adapter.js";
import type { InvocationArrivalQueue } from "./arrivals.js";

export interface WorkerEnv {
  /** The D1 database holding tickets and metadata. */
  DB: D1DialectConfig["database"];
  /** Every `SLUICE_*` and `AWS_*` setting arrives as a plain-text var or a secret. */
  [name: string]: unknown;
}

/** What the runtime passes to each invocation (the parts Sluice uses). */
export interface WorkerContext {
  waitUntil(promise: Promise<unknown>): void;
}

interface Built {
  sluice: Sluice;
  tickets: SqlTicketStore;
  arrivals: InvocationArrivalQueue;
}

let built: (() => Promise<Built>) | undefined;

/**
 * How long a dispatch run may take. Workers keep a response's `waitUntil` alive about 30 s
 * after it; a run cut short leaves its leased deliveries to the next one, after the lease.
 */
const DISPATCH_BUDGET_MS = 20_000;
/**
 * wrangler.json's Cron Trigger that only dispatches (every minute: retries fall due by the
 * minute); the other one (every five minutes) also sweeps, which lists staging and costs more.
 */
const DISPATCH_ONLY_CRON = "* * * * *";

function sluiceFor(env: WorkerEnv): Promise<Built> {
  // A failed build (a bad setting, D1 unreachable) is not kept: the next request tries again.
  built ??= once(() => build(env));
  return built();
}

async function build(env: WorkerEnv): Promise<Built> {
  const vars = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
  // Storage is S3-compatible here, whatever the default elsewhere: a Worker has no disk.
  const config = loadConfig({ SLUICE_STORAGE: "s3", ...vars });
  refuseWhatWorkersCannotDo(config, vars);
  const logger = createLogger({ level: config.logLevel });
  const client = createS3Client(config.storage);
  const tickets = new SqlTicketStore({ db: new Kysely<TicketDatabase>({ dialect: new D1Dialect({ database: env.DB }) }), dialect: "sqlite", name: "d1 ticket store" });
  const metadata = new KyselyMetadataStore({
    db: new Kysely<Database>({ dialect: new D1Dialect({ database: env.DB }) }),
    name: "d1 metadata store",
    atomicBatch: d1Batch(env.DB),
  });
  const webhooks = new KyselyWebhookStore({ db: new Kysely<WebhookTables>({ dialect: new D1Dialect({ database: env.DB }) }), migrate: () => metadata.migrate(), atomicBatch: d1Batch(env.DB) });
  const runtime = workersRuntime({ logger });
  const sluice = await assembleSluice(
    config,
    { objects: new S3ObjectStore({ client, singleCopyMax: config.storage.singleCopyMax, copyPartSize: config.storage.copyPartSize, copyConcurrency: config.storage.copyConcurrency }), presigner: presignerFor(client, config.storage), metadata, tickets, webhooks, processors: [] },
    { logger, runtime, webRoot: undefined },
  );
  // Its capabilities leave out health pings (a failing backend fails its request, closed)
  // and the reconcile loop (the Cron Trigger runs the sweep).
  sluice.start();
  return { sluice, tickets, arrivals: runtime.arrivals };
}

/**
 * D1 has no interactive transactions (kysely-d1 refuses them); `batch()` runs its statements
 * as one transaction, all or none. The outbox's writes (a change and its event) and the
 * webhooks store's multi-statement writes go through it.
 */
function d1Batch(db: WorkerEnv["DB"]): AtomicBatch {
  return async (queries) => {
    const results = await db.batch(queries.map((q) => db.prepare(q.sql).bind(...q.parameters)));
    return results.map((r) => ({ rows: r.results, numAffectedRows: BigInt(r.meta.changes) }));
  };
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: WorkerContext): Promise<Response> {
    let built: Built;
    try {
      built = await sluiceFor(env);
    } catch (err) {
      const message = err instanceof ConfigError ? err.message : "Sluice could not start; see the Worker's logs.";
      if (!(err instanceof ConfigError)) console.error("sluice: start failed", err);
      return Response.json({ error: { code: "unavailable", message } }, { status: 503 });
    }
    const { result, work } = await built.arrivals.track(async () => built.sluice.app.fetch(request));
    // Checks and the move to the archive run after the response is sent; then the events they
    // (or the request itself: a delete, a redelivery) wrote go out.
    ctx.waitUntil(work.then((processed) => (processed > 0 || mayWriteEvents(request) ? dispatch(built) : undefined)));
    return result;
  },

  /**
   * The Cron Triggers (an invocation lasts until this resolves): every one dispatches the
   * events due (new ones, retries); all but the every-minute one first run the reconcile
   * sweep (late or lost arrivals, stuck jobs, expired uploads) and the purge of expired tickets.
   */
  async scheduled(controller: { cron?: string } | undefined, env: WorkerEnv): Promise<void> {
    const b = await sluiceFor(env);
    if (controller?.cron !== DISPATCH_ONLY_CRON) {
      const { result, work } = await b.arrivals.track(async () => {
        const report = await reconcileStaging(b.sluice.services);
        return { ...report, purged: await b.tickets.sweep() };
      });
      await work;
      b.sluice.services.logger.info(result, "scheduled sweep done");
    }
    await dispatch(b);
  },
};

/**
 * Requests that write events without processing an arrival: a file's deletion, and the
 * webhook routes (a redelivery, a resumed endpoint). Not issuance, the busiest: it writes none,
 * and a dispatch pass after each would cost D1 reads for nothing.
 */
function mayWriteEvents(request: Request): boolean {
  if (request.method === "DELETE") return true;
  return request.method === "POST" && new URL(request.url).pathname.startsWith("/v1/webhooks/");
}

/** One dispatch run; a failure is logged (the next request or Cron run tries again), never thrown into `waitUntil`. */
async function dispatch({ sluice }: Built): Promise<void> {
  try {
    const report = await dispatchWhileDue(sluice.services, { signal: AbortSignal.timeout(DISPATCH_BUDGET_MS) });
    sluice.services.logger.debug({ report }, "dispatch run done");
  } catch (err) {
    sluice.services.logger.warn({ err }, "dispatch run failed; the next one retries");
  }
}
