import assert from "node:assert/strict";
import fsSync from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { makeServices, type Harness } from "../../test/helpers/services.js";
import { cancelUpload } from "../domain/cancel.js";
import { issueUpload } from "../domain/issue.js";
import type { Principal } from "../domain/principal.js";
import { reconcileStaging } from "../domain/reconcile.js";
import { JournaledMemoryTicketStore, WATCH_FILE_MS } from "./memory-watches.js";
import { describeTicketStore, watchedTicket } from "./ticket-store.conformance.js";

const dirs: string[] = [];
const newDir = async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-watches-"));
  dirs.push(dir);
  return dir;
};
after(async () => {
  for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true });
});

describeTicketStore("memory, with journaled expiry watches", async () => {
  const store = new JournaledMemoryTicketStore({ dir: await newDir() });
  return { store, close: () => store.close() };
});

const ticket = watchedTicket;
/** The start of the next journal file's span, at least a second away: tickets expiring there share one file. */
const nextSpan = () => (Math.floor(Date.now() / WATCH_FILE_MS) + 1) * WATCH_FILE_MS + WATCH_FILE_MS;
const claim = { claimMs: 60_000 };

describe("memory tickets journal their expiry watches (issue 19)", () => {
  it("lists a watched ticket once its journal file is due, with its state, and removes the file once all are settled", async () => {
    const dir = await newDir();
    const store = new JournaledMemoryTicketStore({ dir });
    try {
      const span = nextSpan();
      const [unused, used, cancelled, inFlight, future] = [
        ticket("upl_unused", span + 100),
        ticket("upl_used", span + 200),
        ticket("upl_cancelled", span + 300),
        ticket("upl_inflight", span + 400),
        ticket("upl_future", span + 60_000),
      ];
      await Promise.all([unused, used, cancelled, inFlight, future].map((t) => store.issueWatched(t)));
      await assert.rejects(store.issueWatched(ticket("upl_unused", span + 500)), /already exists/);
      assert.equal((await store.consume(used.id, null)).ok, true);
      assert.equal(await store.revoke(cancelled.id), true);
      assert.ok((await store.claim(inFlight.id, { leaseMs: 3_600_000 })).ok);
      assert.deepEqual((await fs.readdir(dir)).sort(), [`watches-${span}.jsonl`, `watches-${span + 60_000}.jsonl`]);

      assert.deepEqual(await store.dueWatches(span + 1000, 10, claim), [], "its file's span is not all due yet");
      const end = span + WATCH_FILE_MS;
      assert.deepEqual((await store.dueWatches(end, 1, claim)).map((d) => d.id), [unused.id], "at most `limit`, in the order issued");
      // The cancelled one is not listed: its file says so.
      assert.deepEqual(await store.dueWatches(end, 10, claim), [
        { id: used.id, ticket: { ticket: used, state: "consumed" } },
        { id: inFlight.id, ticket: { ticket: inFlight, state: "claimed" } },
      ]);
      assert.deepEqual(await store.dueWatches(end, 10, claim), [], "claimed: not given out again");
      await store.settleWatches([unused.id, used.id, cancelled.id]);
      assert.ok((await fs.readdir(dir)).includes(`watches-${span}.jsonl`), "one of its watches is not settled yet");
      await store.settleWatches([inFlight.id, unused.id]); // twice: harmless
      assert.deepEqual(await fs.readdir(dir), [`watches-${span + 60_000}.jsonl`]);
      assert.deepEqual(await store.get(used.id), { ticket: used, state: "consumed" }, "settling leaves the tickets as they were");
      assert.deepEqual(await store.dueWatches(span + 120_000, 10, claim), [{ id: future.id, ticket: { ticket: future, state: "issued" } }]);
      await store.settleWatches([future.id]);
      assert.deepEqual(await fs.readdir(dir), []);
    } finally {
      await store.close();
    }
  });

  it("gives a claimed watch out again once its claim lapses unsettled", async () => {
    const store = new JournaledMemoryTicketStore({ dir: await newDir() });
    try {
      const span = nextSpan();
      const [a, b] = [ticket("upl_claim_a", span + 100), ticket("upl_claim_b", span + 200)];
      await Promise.all([a, b].map((t) => store.issueWatched(t)));
      const end = span + WATCH_FILE_MS;
      assert.deepEqual((await store.dueWatches(end, 10, { claimMs: 300 })).map((d) => d.id), [a.id, b.id]);
      await store.settleWatches([a.id]); // b is left unsettled, as by a sweep that failed to write it
      assert.deepEqual(await store.dueWatches(end, 10, claim), []);
      await new Promise((r) => setTimeout(r, 400));
      assert.deepEqual((await store.dueWatches(end, 10, claim)).map((d) => d.id), [b.id], "its claim lapsed: taken again");
      await store.settleWatches([b.id]);
    } finally {
      await store.close();
    }
  });

  it("after a restart, hands the journal's watches on as issued, leaves out the cancelled, and skips a torn line", async () => {
    const dir = await newDir();
    const span = nextSpan();
    const [unused, used, cancelled] = [ticket("upl_r_unused", span + 100), ticket("upl_r_used", span + 200), ticket("upl_r_cancelled", span + 300)];
    const before = new JournaledMemoryTicketStore({ dir });
    await Promise.all([unused, used, cancelled].map((t) => before.issueWatched(t)));
    assert.equal((await before.consume(used.id, null)).ok, true);
    assert.equal(await before.revoke(cancelled.id), true);
    await before.close(); // the process ends: its tickets are gone
    // A crash in the middle of a write leaves a torn line.
    await fs.appendFile(path.join(dir, `watches-${span}.jsonl`), '{"id":"upl_torn","kind":"upl');

    const restarted = new JournaledMemoryTicketStore({ dir });
    try {
      // A line written after the torn one is read: each write starts on a line of its own.
      const later = ticket("upl_r_later", span + 400);
      await restarted.issueWatched(later);
      assert.equal(await restarted.get(unused.id), undefined, "memory tickets do not survive a restart");
      // The used one too: the journal does not know it was used, and its record in the
      // metadata store keeps it from being reported.
      assert.deepEqual(await restarted.dueWatches(span + WATCH_FILE_MS, 10, claim), [
        { id: unused.id, ticket: { ticket: unused, state: "issued" } },
        { id: used.id, ticket: { ticket: used, state: "issued" } },
        { id: later.id, ticket: { ticket: later, state: "issued" } },
      ]);
      await restarted.settleWatches([unused.id, used.id, later.id]);
      assert.deepEqual(await fs.readdir(dir), []);
    } finally {
      await restarted.close();
    }
  });

  it("a write that fails half-way (a full disk) refuses its whole batch and leaves none of it in the journal", async () => {
    const dir = await newDir();
    const store = new JournaledMemoryTicketStore({ dir });
    const writeSync = fsSync.writeSync;
    try {
      const span = nextSpan();
      await store.issueWatched(ticket("upl_before", span + 100)); // opens the file
      let calls = 0;
      // The first call writes a little over one line of the batch; the next finds the disk full.
      fsSync.writeSync = ((fd: number, buffer: Buffer, offset: number) => {
        if (++calls === 1) return writeSync(fd, buffer, offset, 400);
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      }) as typeof fsSync.writeSync;
      const batch = [ticket("upl_full_a", span + 200), ticket("upl_full_b", span + 300), ticket("upl_full_c", span + 400)];
      const results = await Promise.allSettled(batch.map((t) => store.issueWatched(t)));
      assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected", "rejected"]);
      assert.equal(calls, 2, "written in part, then failed");
      fsSync.writeSync = writeSync;
      for (const t of batch) assert.equal(await store.get(t.id), undefined);
      const after = ticket("upl_after", span + 500);
      await store.issueWatched(after);
      const due = await store.dueWatches(span + WATCH_FILE_MS, 10, claim);
      assert.deepEqual(due.map((d) => d.id), ["upl_before", after.id]);
      // Cut off on disk, not only skipped in memory: a restart reads the same.
      const restarted = new JournaledMemoryTicketStore({ dir });
      assert.deepEqual((await restarted.dueWatches(span + WATCH_FILE_MS, 10, claim)).map((d) => d.id), ["upl_before", after.id]);
      await restarted.close();
    } finally {
      fsSync.writeSync = writeSync;
      await store.close();
    }
  });

  it("a cancel whose line cannot be written fails and cancels nothing", async () => {
    const store = new JournaledMemoryTicketStore({ dir: await newDir() });
    const writeSync = fsSync.writeSync;
    try {
      const t = ticket("upl_cancel_unwritten", nextSpan() + 100);
      await store.issueWatched(t);
      fsSync.writeSync = (() => {
        throw Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" });
      });
      await assert.rejects(store.revoke(t.id), /EIO/);
      fsSync.writeSync = writeSync;
      assert.equal((await store.get(t.id))?.state, "issued");
      assert.equal(await store.revoke(t.id), true, "cancelled once it can be written");
      assert.equal(await store.revoke(t.id), false);
    } finally {
      fsSync.writeSync = writeSync;
      await store.close();
    }
  });

  it("fails the issuance, and forgets its ticket, when its watch cannot be written", async () => {
    const dir = await newDir();
    const store = new JournaledMemoryTicketStore({ dir });
    try {
      // The directory is gone and a file stands in its place: no journal file can be opened.
      await fs.rm(dir, { recursive: true });
      await fs.writeFile(dir, "");
      const t = ticket("upl_unwritten", nextSpan() + 100);
      await assert.rejects(store.issueWatched(t), /ENOTDIR/);
      assert.equal(await store.get(t.id), undefined);
    } finally {
      await store.close();
      await fs.rm(dir, { force: true });
    }
  });
});

describe("upload.expired with memory tickets: the sweep hands the journal's watches on to the metadata store", () => {
  const principal: Principal = { kind: "key", keyId: "test" };
  const request = { filename: "a.png", contentType: "image/png", size: 10, expiresIn: 1 };
  const harnesses: Harness[] = [];
  after(async () => {
    for (const h of harnesses) await h.close();
  });

  it("reports the unused upload once, and neither the used, the cancelled nor the one in flight; issuance writes no metadata", async () => {
    const tickets = new JournaledMemoryTicketStore({ dir: await newDir() });
    const h = await makeServices({ tickets, env: { SLUICE_EXPIRY_GRACE: "0", SLUICE_TICKET_LEASE: "1", SLUICE_RECONCILE_INTERVAL: "1" } });
    harnesses.push(h);
    const s = h.services;
    let metadataWatches = 0;
    const watchExpiry = s.metadata.watchExpiry.bind(s.metadata);
    s.metadata.watchExpiry = (w) => (metadataWatches++, watchExpiry(w));

    // Not within a second of a journal file's end, so that the four share one file.
    while ((Date.now() + 1000) % WATCH_FILE_MS > WATCH_FILE_MS - 1000) await new Promise((r) => setTimeout(r, 100));
    const [unused, used, cancelled, inFlight] = [await issueUpload(s, principal, request), await issueUpload(s, principal, request), await issueUpload(s, principal, request), await issueUpload(s, principal, request)];
    assert.equal(metadataWatches, 0, "the watches are in the journal, beside the tickets");
    assert.equal((await s.tickets.consume(used.ticket.id, null)).ok, true);
    assert.equal((await cancelUpload(s, cancelled.ticket.id)).state, "cancelled");
    assert.ok((await s.tickets.claim(inFlight.ticket.id, { leaseMs: 3_600_000 })).ok, "a gateway upload still streaming");

    // Their journal file's span ends within WATCH_FILE_MS of their expiry. Half a grace (max of
    // lease, two sweeps: 2 s) after that end, they are moved (the unused one and the one in
    // flight, not the used or the cancelled one); by then a grace has passed since they expired
    // (it would not have, by far, at the default grace of 5 minutes), so the unused one is
    // reported in the same sweep, and the one in flight waits for its bytes or its lease.
    const end = (Math.floor(unused.ticket.expiresAt / WATCH_FILE_MS) + 1) * WATCH_FILE_MS;
    assert.ok([used, cancelled, inFlight].every((u) => u.ticket.expiresAt < end), "issued within the same file's span");
    assert.ok(end - unused.ticket.expiresAt > 500);
    assert.equal((await reconcileStaging(s, { now: end + 500 })).expired, 0);
    assert.equal(metadataWatches, 0, "not yet due");
    assert.equal((await reconcileStaging(s, { now: end + 1500 })).expired, 1);
    assert.equal(metadataWatches, 2);
    assert.equal((await reconcileStaging(s, { now: end + 2500 })).expired, 0, "once");
    assert.equal(metadataWatches, 2, "settled: not moved again");
    const { events } = await s.metadata.readEvents({ limit: 10 });
    assert.deepEqual(
      events.map((e) => [e.uploadId, e.type, e.data.filename, e.data.metadata]),
      [[unused.ticket.id, "upload.expired", "a.png", {}]],
    );
  });
});
