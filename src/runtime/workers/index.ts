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
 *   Trigger (`scheduled`).
 * Sluice is built once per isolate, on its first request (bindings arrive with it).
 */
import { Kysely } from "kysely";
import { D1Dialect, type D1DialectConfig } from "kysely-d1";
import { ConfigError, loadConfig } from "../../config.js";
import { reconcileStaging } from "../../domain/reconcile.js";
import { once } from "../../internal/async.js";
import { createLogger } from "../../internal/logger.js";
import { KyselyMetadataStore, type AtomicBatch } from "../../metadata/kysely-store.js";
import type { Database } from "../../metadata/schema.js";
import { S3ObjectStore, createS3Client, presignerFor } from "../../storage/s3.js";
import { SqlTicketStore, type TicketDatabase } from "../../tickets/sql.js";
import { assembleSluice, type Sluice } from "../assemble.js";
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
  const runtime = workersRuntime({ logger });
  const sluice = await assembleSluice(
    config,
    { objects: new S3ObjectStore({ client }), presigner: presignerFor(client, config.storage), metadata, tickets, processors: [] },
    { logger, runtime, webRoot: undefined },
  );
  // Its capabilities leave out health pings (a failing backend fails its request, closed)
  // and the reconcile loop (the Cron Trigger runs the sweep).
  sluice.start();
  return { sluice, tickets, arrivals: runtime.arrivals };
}

/**
 * D1 has no interactive transactions (kysely-d1 refuses them); `batch()` runs its statements
 * as one transaction, all or none. The outbox's writes (a change and its event) go through it.
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
    // Checks and the move to the archive run after the response is sent.
    ctx.waitUntil(work);
    return result;
  },

  /** The Cron Trigger (its invocation lasts until this resolves): the reconcile sweep (late or lost arrivals, stuck jobs) and the purge of expired tickets. */
  async scheduled(_controller: unknown, env: WorkerEnv): Promise<void> {
    const { sluice, tickets, arrivals } = await sluiceFor(env);
    const { result, work } = await arrivals.track(async () => {
      const report = await reconcileStaging(sluice.services);
      return { ...report, purged: await tickets.sweep() };
    });
    await work;
    sluice.services.logger.info(result, "scheduled sweep done");
  },
};
