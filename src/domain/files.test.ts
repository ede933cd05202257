import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { bodyOf, makeServices } from "../../test/helpers/services.js";
import type { UploadRecord } from "../metadata/metadata-store.js";
import { MemoryTicketStore } from "../tickets/memory.js";
import type { ConsumeResult } from "../tickets/ticket-store.js";
import { createDownload, openDownload } from "./files.js";

/** A memory ticket store whose `consume` answers what the test says (a store that lost the claim, or failed). */
class SpendingFails extends MemoryTicketStore {
  answer: () => Promise<ConsumeResult> = () => Promise.resolve({ ok: false, reason: "lease_lost" });
  override consume(): Promise<ConsumeResult> {
    return this.answer();
  }
}

async function archivedFile(h: Awaited<ReturnType<typeof makeServices>>, data: Uint8Array): Promise<string> {
  const s = h.services;
  const id = `upl_${randomBytes(16).toString("base64url")}`;
  const now = s.now();
  const record: UploadRecord = {
    id, state: "archived", key: `${id}/f.bin`, filename: "f.bin", declaredType: "application/octet-stream", contentType: "application/octet-stream",
    size: data.byteLength, sha256: null, receivedSha256: null, metadata: {}, reason: null, apiKeyId: null, attempts: 1, nextAttemptAt: null,
    leaseOwner: null, leaseUntil: null, expiresAt: now + 60_000, createdAt: now, updatedAt: now, uploadedAt: now, archivedAt: now, deletedAt: null,
  };
  await s.objects.put({ bucket: s.config.buckets.archive, key: record.key, body: bodyOf(data), contentLength: data.byteLength, contentType: "application/octet-stream" });
  await s.metadata.insertUpload(record);
  return `fil_${id.slice(4)}`;
}

async function readAll(body: ReadableStream<Uint8Array>): Promise<{ bytes: number; error: unknown }> {
  const reader = body.getReader();
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { bytes, error: undefined };
      bytes += value.byteLength;
    }
  } catch (error) {
    return { bytes, error };
  }
}

describe("a one-time download whose ticket cannot be spent", () => {
  for (const [name, answer] of [
    ["the store says the claim was lost", () => Promise.resolve({ ok: false, reason: "lease_lost" } as const)],
    ["the store is down", () => Promise.reject(new Error("connection refused"))],
  ] as const) {
    it(`fails the stream instead of sending the last bytes when ${name}`, async () => {
      const tickets = new SpendingFails();
      tickets.answer = answer;
      const h = await makeServices({ tickets });
      try {
        const data = randomBytes(3 * 1024 * 1024);
        const fileId = await archivedFile(h, data);
        const { url } = await createDownload(h.services, fileId, { once: true, requestedBy: null });
        const q = new URL(url).searchParams;
        const { body } = await openDownload(h.services, { fileId, expires: q.get("expires") ?? undefined, ticket: q.get("ticket") ?? undefined, by: q.get("by") ?? undefined, signature: q.get("signature") ?? undefined });
        const { bytes, error } = await readAll(body);
        assert.ok(error, "the stream ended normally");
        assert.ok(bytes < data.byteLength, `all ${bytes} bytes were delivered`);
      } finally {
        await h.close();
      }
    });
  }
});
