/**
 * How many calls one small upload makes to the metadata store and the ticket store, on the
 * embedded backends (SQLite, memory), through each port and, for SQL, in statements. The
 * figures are asserted exactly so that they cannot grow unnoticed; docs/benchmarks.md gives
 * them before and after issue 16. Change them only with a reason, and the doc with them.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { Kysely, SqliteDialect } from "kysely";
import { cancelUpload } from "../src/domain/cancel.js";
import { completeUpload } from "../src/domain/complete.js";
import { receiveGatewayUpload } from "../src/domain/gateway.js";
import { issueUpload } from "../src/domain/issue.js";
import { processUpload } from "../src/domain/pipeline.js";
import { ApiKeyAuthenticator } from "../src/domain/api-keys.js";
import type { Principal } from "../src/domain/principal.js";
import { openSqlite } from "../src/internal/sqlite.js";
import { KyselyMetadataStore } from "../src/metadata/kysely-store.js";
import type { Database as Schema } from "../src/metadata/schema.js";
import { MemoryTicketStore } from "../src/tickets/memory.js";
import { PNG } from "./helpers/fixtures.js";
import { bodyOf, makeServices, type Harness } from "./helpers/services.js";


/** Counts calls by method name, passing each on to the real store. */
function counting<T extends object>(store: T, calls: Map<string, number>): T {
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

interface Counted {
  h: Harness;
  /** A configured key's: whether it still stands is known without a store call. */
  principal: Principal;
  metadata: Map<string, number>;
  tickets: Map<string, number>;
  sql: { statements: number };
  reset(): void;
  total(calls: Map<string, number>): number;
}

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

async function counted(): Promise<Counted> {
  const metadata = new Map<string, number>();
  const tickets = new Map<string, number>();
  const sql = { statements: 0 };
  const h = await makeServices({ tickets: counting(new MemoryTicketStore(), tickets) });
  const db = new Kysely<Schema>({
    dialect: new SqliteDialect({ database: (await openSqlite(":memory:")).database }),
    log: (event) => {
      if (event.level === "query") sql.statements++;
    },
  });
  const store = new KyselyMetadataStore({ db, name: "counted sqlite" });
  await store.migrate();
  h.services.metadata = counting(store, metadata);
  open.push(async () => {
    await store.close();
    await h.close();
  });
  const principal = await new ApiKeyAuthenticator({ metadata: store, configuredKeys: h.services.config.apiKeys }).authenticate(h.services.config.apiKeys[0]!);
  assert.ok(principal);
  return {
    h,
    principal,
    metadata,
    tickets,
    sql,
    reset() {
      metadata.clear();
      tickets.clear();
      sql.statements = 0;
    },
    total: (calls) => [...calls.values()].reduce((a, b) => a + b, 0),
  };
}

const asObject = (calls: Map<string, number>) => Object.fromEntries([...calls].sort(([a], [b]) => a.localeCompare(b)));

describe("store calls of one small upload", () => {
  it("gateway: issue, PUT, processed to archived", async () => {
    const c = await counted();
    const s = c.h.services;
    c.reset();
    const issued = await issueUpload(s, c.principal, { filename: "cat.png", contentType: "image/png", size: PNG.byteLength });
    // The expiry watch (issue 18: `upload.expired` needs a record of what was issued), written
    // at the same time as the ticket and group-committed with the other issuances of the moment.
    assert.deepEqual([asObject(c.metadata), asObject(c.tickets)], [{ watchExpiry: 1 }, { issue: 1 }], "issue");

    c.reset();
    assert.ok(issued.upload);
    const url = new URL(issued.upload.url);
    await receiveGatewayUpload(s, {
      id: issued.ticket.id,
      expires: url.searchParams.get("expires") ?? undefined,
      signature: url.searchParams.get("signature") ?? undefined,
      contentType: "image/png",
      contentLength: PNG.byteLength,
      body: bodyOf(PNG),
    });
    assert.deepEqual([asObject(c.metadata), asObject(c.tickets), c.sql.statements], [{ insertUpload: 1 }, { claim: 1, consume: 1 }, 1], "PUT");

    c.reset();
    await processUpload(s, issued.ticket.id);
    const processing = [asObject(c.metadata), asObject(c.tickets), c.sql.statements];
    assert.equal((await s.metadata.getUpload(issued.ticket.id))?.state, "archived");
    // The lease is taken and the upload marked processing in one UPDATE … RETURNING; the outcome
    // is one more UPDATE, with its event (issue 18) in the same transaction: BEGIN, UPDATE,
    // INSERT of the event, COMMIT.
    assert.deepEqual(processing, [{ acquireProcessingLease: 1, updateUpload: 1 }, {}, 5], "processing");
  });

  it("complete: a single upload whose bytes are in staging", async () => {
    const c = await counted();
    const s = c.h.services;
    const issued = await issueUpload(s, c.principal, { filename: "cat.png", contentType: "image/png", size: PNG.byteLength });
    await s.objects.put({ bucket: s.config.buckets.staging, key: issued.ticket.key, body: bodyOf(PNG), contentType: "image/png", contentLength: PNG.byteLength });
    c.reset();
    const status = await completeUpload(s, issued.ticket.id);
    assert.equal(status.state, "uploaded");
    assert.deepEqual([asObject(c.metadata), asObject(c.tickets), c.sql.statements], [{ getUpload: 1, insertUpload: 1 }, { consume: 1, get: 1 }, 2]);
  });

  it("cancel: an issued upload", async () => {
    const c = await counted();
    const s = c.h.services;
    const issued = await issueUpload(s, c.principal, { filename: "cat.png", contentType: "image/png", size: PNG.byteLength });
    c.reset();
    assert.equal((await cancelUpload(s, issued.ticket.id)).state, "cancelled");
    // A cancelled upload is not reported expired: its watch goes.
    assert.deepEqual([asObject(c.metadata), asObject(c.tickets), c.sql.statements], [{ getUpload: 1, unwatchExpiry: 1 }, { get: 1, revoke: 1 }, 2]);
  });
});
