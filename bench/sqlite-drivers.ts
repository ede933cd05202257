/**
 * The embedded metadata store on each SQLite binding this Node loads (src/internal/sqlite.ts),
 * in alternating rounds: the writes and reads of one upload's life, one upload after another,
 * on a WAL file as `npm start` opens it. Reports each binding's median CPU time (user and
 * system, this process) per upload, which the machine's other load does not inflate as it does
 * wall time; wall time beside it.
 * `node --import tsx bench/sqlite-drivers.ts` (BENCH_ROUNDS, BENCH_UPLOADS). Only Node 22 and
 * 24 have node:sqlite; better-sqlite3 loads only on the Node it was built for.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { sqliteDriversHere, type SqliteDriver } from "../src/internal/sqlite.js";
import { createSqliteMetadataStore } from "../src/metadata/factory.js";
import { eventFor, upload } from "../src/metadata/metadata-store.conformance.js";
import type { MetadataStore } from "../src/metadata/metadata-store.js";
import { median } from "./measure.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const UPLOADS = Number(process.env.BENCH_UPLOADS ?? 2000);

/** Issued (expiry watch), arrived (record), leased, archived (update and its event), read. */
async function oneUploadsLife(store: MetadataStore): Promise<void> {
  const r = upload({ state: "uploaded" });
  await store.watchExpiry({ uploadId: r.id, expiresAt: r.expiresAt, data: eventFor(r, "upload.expired").data });
  await store.insertUpload(r);
  const leased = await store.acquireProcessingLease({ id: r.id, owner: "bench", now: r.createdAt, leaseMs: 60_000 });
  if (!leased) throw new Error("the lease was not granted");
  const patch = { state: "archived" as const, archivedAt: r.createdAt + 1, leaseOwner: null, leaseUntil: null };
  if (!(await store.updateUpload(r.id, patch, { states: ["processing", "uploaded"], leaseOwner: "bench" }, eventFor({ ...leased, ...patch }, "upload.archived")))) {
    throw new Error("the archive update did not apply");
  }
  if ((await store.getUpload(r.id))?.state !== "archived") throw new Error("the record is not archived");
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-bench-sqlite-"));
try {
  const drivers = await sqliteDriversHere();
  const stores = new Map<SqliteDriver, MetadataStore>();
  for (const driver of drivers) {
    const store = await createSqliteMetadataStore(path.join(dir, `${driver.replace(/\W/g, "-")}.db`), { driver });
    await store.migrate();
    for (let i = 0; i < 200; i++) await oneUploadsLife(store); // warm-up, not counted
    stores.set(driver, store);
  }
  const cpu = new Map<SqliteDriver, number[]>(drivers.map((d) => [d, []]));
  const wall = new Map<SqliteDriver, number[]>(drivers.map((d) => [d, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [driver, store] of stores) {
      const start = performance.now();
      const startCpu = process.cpuUsage();
      for (let i = 0; i < UPLOADS; i++) await oneUploadsLife(store);
      const used = process.cpuUsage(startCpu);
      cpu.get(driver)!.push((used.user + used.system) / UPLOADS);
      wall.get(driver)!.push(((performance.now() - start) * 1000) / UPLOADS);
    }
    console.log(`round ${round}: ${drivers.map((d) => `${d} ${cpu.get(d)!.at(-1)!.toFixed(0)} µs CPU, ${wall.get(d)!.at(-1)!.toFixed(0)} µs wall`).join("; ")}`);
  }
  console.log(`Node ${process.versions.node}, ${UPLOADS} uploads × ${ROUNDS} rounds, median per upload's life:`);
  for (const driver of drivers) console.log(`  ${driver}: ${median(cpu.get(driver)!).toFixed(0)} µs CPU, ${median(wall.get(driver)!).toFixed(0)} µs wall`);
  for (const store of stores.values()) await store.close();
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
