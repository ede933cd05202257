import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeServices } from "../../test/helpers/services.js";
import { SluiceError } from "../errors.js";
import { MemoryTicketStore } from "../tickets/memory.js";
import { issueUpload } from "./issue.js";
import type { Principal } from "./principal.js";

const principal: Principal = { kind: "key", keyId: "test" };
const request = { filename: "a.png", contentType: "image/png", size: 10 };
/** Far enough past any expiry and grace that every watch is due. */
const later = () => Date.now() + 365 * 24 * 3600_000;

class TicketsDown extends MemoryTicketStore {
  override issue(): Promise<void> {
    return Promise.reject(new Error("ticket store unreachable"));
  }
}

describe("issuance and the expiry watch", () => {
  it("watches every issued upload, single and multipart, so that an unused one is reported expired", async () => {
    const h = await makeServices({ env: { SLUICE_MULTIPART_THRESHOLD: String(5 * 1024 ** 2) } });
    try {
      const single = await issueUpload(h.services, principal, request);
      const multipart = await issueUpload(h.services, principal, { ...request, size: 6 * 1024 ** 2 });
      assert.ok(multipart.multipart, "a multipart upload");
      assert.equal(await h.services.metadata.expireDue({ now: later(), graceMs: 0, limit: 100 }), 2);
      const page = await h.services.metadata.readEvents({ limit: 10 });
      assert.deepEqual(page.events.map((e) => [e.uploadId, e.type]).sort(), [[single.ticket.id, "upload.expired"], [multipart.ticket.id, "upload.expired"]].sort());
    } finally {
      await h.close();
    }
  });

  it("fails the issuance (503) if the watch cannot be written", async () => {
    const h = await makeServices();
    try {
      h.services.metadata.watchExpiry = () => Promise.reject(new Error("database unreachable"));
      await assert.rejects(issueUpload(h.services, principal, request), (err: unknown) => err instanceof SluiceError && err.status === 503);
    } finally {
      await h.close();
    }
  });

  it("does not watch an upload whose ticket could not be stored: an upload never handed out is never reported", async () => {
    const h = await makeServices({ tickets: new TicketsDown() });
    try {
      await assert.rejects(issueUpload(h.services, principal, request), (err: unknown) => err instanceof SluiceError && err.status === 503);
      assert.equal(await h.services.metadata.expireDue({ now: later(), graceMs: 0, limit: 100 }), 0);
    } finally {
      await h.close();
    }
  });
});
