import { createHash } from "node:crypto";
import { backoffMs } from "../internal/async.js";
import type { CopyProgress, CopyVerdict, UploadRecord } from "../metadata/metadata-store.js";
import { CopyPausedError, ObjectChangedError, type ObjectInfo, type ObjectRef, type ResumableCopy } from "../storage/object-store.js";
import { SNIFF_BYTES, UNDETECTABLE_TYPES, isContentAllowed, sniffContentType, type SniffVerdict } from "./content-type.js";
import { isRejection } from "./processors.js";
import { PROCESSOR_TIMEOUT_MS, type Services } from "./services.js";
import { keepLeaseAlive } from "./claims.js";
import { uploadEvent } from "./upload-events.js";

type Verdict = CopyVerdict;

/**
 * Checks an arrived upload and moves it to its final place. Safe to call any number of times,
 * from any number of workers: the processing lease lets one run at a time, and every step
 * can be repeated after a crash at any point without losing or duplicating the file:
 *   copy to archive → record "archived" → delete from staging (once its URL is dead: see stagingHeldUntil).
 */
export async function processUpload(s: Services, id: string): Promise<void> {
  const owner = s.instanceId;
  const started = s.now();
  const leaseMs = s.config.processingLeaseMs;
  // Taking the lease marks the upload processing, in the same statement.
  const record = await s.metadata.acquireProcessingLease({ id, owner, now: started, leaseMs });
  if (!record) return; // already final, not yet arrived, or another worker has it
  const log = s.logger.child({ uploadId: id });
  // A large archive copy may need more time than this run has (a Lambda invocation, a
  // Worker's): it stops starting parts when the budget is spent, and another run goes on.
  const budgetMs = s.processingTime.budget();
  const deadline = budgetMs === undefined ? undefined : Date.now() + budgetMs;
  // The lease is renewed while this worker lives, so that a long check keeps it; a worker that
  // dies stops renewing, and another takes the job once the lease lapses.
  const renewal = keepLeaseAlive({
    leaseMs,
    renew: () => s.metadata.updateUpload(id, { leaseUntil: s.now() + leaseMs }, { leaseOwner: owner }),
    onError: (err) => log.warn({ err }, "could not renew the processing lease"),
  });
  try {
    // The object may be replaced while it is checked (a POST form or scoped credentials can
    // write the key again): each pass pins every read and the copy to the ETag it began with,
    // and a replaced object is checked again from the start, so that what is archived is
    // exactly what was checked. A few passes at most; then it is retried later as a failure.
    for (let pass = 1; ; pass++) {
      try {
        await checkAndMove(s, record, { started, deadline });
        return;
      } catch (err) {
        if (!(err instanceof ObjectChangedError) || pass >= RECHECK_PASSES) throw err;
        log.warn({ pass }, "the object was replaced while it was checked; checking it again");
      }
    }
  } catch (err) {
    if (err instanceof CopyPausedError) await handOn(s, record, err.progress);
    else await scheduleRetry(s, record, err);
  } finally {
    renewal.stop();
  }
}

/**
 * A copy that ran out of this run's time: its progress is recorded (under the lease), so the
 * job is released, due at once, for any instance to take, and handed to the runtime's next run.
 * Not an attempt that failed: the count of attempts stays.
 */
async function handOn(s: Services, record: UploadRecord, progress: CopyProgress): Promise<void> {
  const now = s.now();
  const released = await s.metadata.updateUpload(record.id, { leaseOwner: null, leaseUntil: null, nextAttemptAt: now, updatedAt: now }, { leaseOwner: s.instanceId });
  if (!released) return; // the lease lapsed meanwhile: the job is another run's already
  s.logger.info({ uploadId: record.id, partsDone: progress.parts.length, partSize: progress.partSize, size: progress.size, invocations: progress.invocations }, "archive copy paused at the run's budget; handed on");
  await s.processingTime.handOn(record.id).catch((err: unknown) => s.logger.warn({ uploadId: record.id, err }, "could not hand the copy on; the reconcile sweep will carry it on"));
}

/** How many times one processing run checks an object that keeps being replaced. */
const RECHECK_PASSES = 3;

/**
 * How long staging keeps an upload's object after it was archived or rejected: while its URL
 * could still be used at storage (plus a margin for requests under way at expiry and for
 * clocks), a presigned PUT's `If-None-Match: *` finds it there and storage refuses the reuse.
 * Gateway URLs never reach storage (the ticket refuses them first), so gateway mode keeps nothing.
 */
export function stagingHeldUntil(s: Services, record: UploadRecord): number {
  if (s.config.uploadMode === "gateway") return 0;
  // A single URL lives at most urlTtlMax; a multipart upload's part URLs die with its completion.
  return Math.min(record.expiresAt, record.createdAt + s.config.urlTtlMaxSeconds * 1000) + URL_HOLD_MARGIN_MS;
}

/** Storage accepts a request begun before its URL expired; S3 allows 15 minutes of clock skew. */
const URL_HOLD_MARGIN_MS = 15 * 60_000;

async function checkAndMove(s: Services, record: UploadRecord, run: { started: number; deadline: number | undefined }): Promise<void> {
  const { started } = run;
  const log = s.logger.child({ uploadId: record.id });
  const staging: ObjectRef = { bucket: s.config.buckets.staging, key: record.key };
  const head = await s.objects.head(staging);
  const progress = record.copyProgress;
  if (progress && progress.sourceETag !== head?.etag) {
    // The object an earlier run was copying is gone or was replaced: its parts are of no use,
    // and the one there now is checked from the start.
    await s.objects.multipart.abort({ bucket: progress.targetBucket, key: record.key }, progress.multipartUploadId);
    await saveCopyProgress(s, record, null);
    if (head) log.warn("the object was replaced during its archive copy; checking it again");
  }
  if (!head) {
    if (await alreadyArchived(s, record)) {
      await finish(s, record, { state: "archived", contentType: record.contentType ?? record.declaredType, reason: null });
      return;
    }
    throw new Error("The object is not in staging.");
  }
  const pinned = { source: staging, ifMatch: head.etag };
  // A copy under way was of these very bytes (same ETag), checked by the run that began it.
  const verdict = record.copyProgress?.verdict ?? (await inspect(s, record, staging, head));
  const resumable = (target: string): ResumableCopy => ({
    progress: record.copyProgress?.targetBucket === target ? record.copyProgress : null,
    deadline: run.deadline,
    save: (p) => saveCopyProgress(s, record, p && { ...p, verdict }),
  });
  const held = stagingHeldUntil(s, record) > s.now();
  if (verdict.accept) {
    await s.objects.copy({ ...pinned, target: { bucket: s.config.buckets.archive, key: record.key }, resumable: resumable(s.config.buckets.archive) });
    await finish(s, record, { state: "archived", contentType: verdict.contentType, reason: null });
    if (!held) await s.objects.delete(staging);
    s.metrics.archived.inc();
    s.metrics.processingDuration.observe({ outcome: "archived" }, (s.now() - (record.uploadedAt ?? started)) / 1000);
    log.info({ contentType: verdict.contentType, size: head.size }, "file archived");
  } else {
    if (s.config.buckets.quarantine) {
      const quarantine = s.config.buckets.quarantine;
      await s.objects.copy({ ...pinned, target: { bucket: quarantine, key: record.key }, resumable: resumable(quarantine) });
    }
    await finish(s, record, { state: "rejected", contentType: verdict.contentType, reason: verdict.reason });
    if (!held) await s.objects.delete(staging);
    s.metrics.rejected.inc({ reason: verdict.code });
    s.metrics.processingDuration.observe({ outcome: "rejected" }, (s.now() - (record.uploadedAt ?? started)) / 1000);
    log.info({ reason: verdict.reason }, "file rejected");
  }
}

/** Records a copy's progress under this run's lease (and on the record in hand); throws if the lease was lost. */
async function saveCopyProgress(s: Services, record: UploadRecord, progress: CopyProgress | null): Promise<void> {
  const saved = await s.metadata.updateUpload(record.id, { copyProgress: progress, updatedAt: s.now() }, { leaseOwner: s.instanceId, states: ["processing"] });
  if (!saved) throw new Error("Lost the processing lease during the archive copy.");
  record.copyProgress = progress;
}

/** The checks, reading only what each needs: a HEAD, the first bytes, and the whole body only for a promised checksum. */
async function inspect(s: Services, record: UploadRecord, staging: ObjectRef, head: ObjectInfo): Promise<Verdict> {
  const { size } = head;
  if (size !== record.size) {
    return { accept: false, code: "size_mismatch", reason: `size_mismatch: declared ${record.size} bytes, received ${size}`, contentType: null };
  }
  // Every read names the object the HEAD saw: a replaced one fails it (ObjectChangedError).
  const pinned = { ...staging, ifMatch: head.etag };
  const first = size === 0 ? new Uint8Array() : await readAll(await s.objects.read({ ...pinned, range: { start: 0, end: Math.min(size, SNIFF_BYTES) - 1 } }));
  const sniffed = await sniffContentType(first, record.declaredType, { complete: size <= SNIFF_BYTES });
  if (!sniffed.ok) return { accept: false, code: "type_mismatch", reason: `type_mismatch: ${sniffed.reason}`, contentType: sniffed.detected ?? null };
  const contentType = sniffed.contentType;
  // Issuing checked the declared type; these check what the content turned out to be, against
  // the service's list and the list of the key that issued the upload.
  if (!isContentAllowed(sniffed, s.config.allowedTypes)) return notAllowed(sniffed, "");
  const keyTypes = await allowedTypesOfKey(s, record.apiKeyId);
  if (keyTypes && !isContentAllowed(sniffed, keyTypes)) return notAllowed(sniffed, " for the key that issued this upload");
  if (record.sha256) {
    // Hashed already by the gateway, or checked by storage (x-amz-checksum-sha256); otherwise read it all.
    const actual = record.receivedSha256 ?? head.checksumSha256 ?? (await sha256Of(await s.objects.read(pinned)));
    if (actual !== record.sha256) {
      return { accept: false, code: "checksum_mismatch", reason: `checksum_mismatch: expected sha256 ${record.sha256}, received ${actual}`, contentType };
    }
  }
  for (const processor of s.processors) {
    const result = await processor.run({
      file: {
        id: record.id,
        filename: record.filename,
        declaredType: record.declaredType,
        contentType,
        size,
        sha256: record.sha256 ?? record.receivedSha256,
        metadata: record.metadata,
      },
      read: () => s.objects.read(pinned),
      signal: AbortSignal.timeout(PROCESSOR_TIMEOUT_MS),
    });
    if (isRejection(result)) {
      return { accept: false, code: "processor", reason: `processor ${processor.name}: ${result.reject}`, contentType };
    }
  }
  return { accept: true, contentType };
}

function notAllowed(sniffed: SniffVerdict & { ok: true }, forWhom: string): Verdict {
  const { contentType } = sniffed;
  const why =
    sniffed.identifiedBy === "declared"
      ? `${contentType} could not be identified from the content, and only identified types (or ${Object.keys(UNDETECTABLE_TYPES).join(", ")} that pass their checks) are allowed${forWhom}`
      : `${contentType} is not allowed${forWhom}`;
  return { accept: false, code: "type_not_allowed", reason: `type_not_allowed: ${why}`, contentType };
}

/**
 * The type allow-list of the stored key that issued an upload, or undefined when it has none
 * (a configured key, or a key without one). Read when processing, so that the key's scope
 * holds for what arrives, not only for what was declared. A stored key that cannot be found
 * allows nothing (fail closed); a store that does not answer fails the attempt, to be retried.
 */
async function allowedTypesOfKey(s: Services, apiKeyId: string | null): Promise<readonly string[] | undefined> {
  if (apiKeyId === null || !apiKeyId.startsWith("key_")) return undefined;
  const key = await s.metadata.getApiKey(apiKeyId);
  return key ? key.scope?.allowedTypes : [];
}

async function finish(
  s: Services,
  record: UploadRecord,
  outcome: { state: "archived" | "rejected"; contentType: string | null; reason: string | null },
): Promise<void> {
  const now = s.now();
  const patch = {
    state: outcome.state,
    contentType: outcome.contentType,
    reason: outcome.reason,
    archivedAt: outcome.state === "archived" ? now : null,
    updatedAt: now,
    leaseOwner: null,
    leaseUntil: null,
    nextAttemptAt: null,
    copyProgress: null,
  };
  // The event goes in with the outcome, or not at all: a crash between them cannot happen.
  const event = uploadEvent({ ...record, ...patch }, outcome.state === "archived" ? "upload.archived" : "upload.rejected", now);
  const applied = await s.metadata.updateUpload(record.id, patch, { leaseOwner: s.instanceId, states: ["processing"] }, event);
  if (!applied) throw new Error("Lost the processing lease before recording the outcome.");
  s.events.ring();
}

/** A failure (not a rejection): try again later with backoff, or give up as `failed`. */
async function scheduleRetry(s: Services, record: UploadRecord, err: unknown): Promise<void> {
  const attempts = record.attempts + 1;
  const reason = err instanceof Error ? err.message : String(err);
  const now = s.now();
  if (attempts >= s.config.maxAttempts) {
    // A copy under way will not be carried on: its parts would cost storage until the lifecycle rule.
    const progress = record.copyProgress;
    if (progress) await s.objects.multipart.abort({ bucket: progress.targetBucket, key: record.key }, progress.multipartUploadId).catch(() => undefined);
    const patch = {
      state: "failed" as const,
      reason: `failed after ${attempts} attempts: ${reason}`,
      attempts,
      updatedAt: now,
      leaseOwner: null,
      leaseUntil: null,
      nextAttemptAt: null,
      copyProgress: null,
    };
    const failed = await s.metadata.updateUpload(record.id, patch, { leaseOwner: s.instanceId }, uploadEvent({ ...record, ...patch }, "upload.failed", now));
    if (failed) s.events.ring();
    s.metrics.failed.inc();
    s.logger.error({ uploadId: record.id, err }, "processing failed for good");
    return;
  }
  const at = now + backoffMs(attempts);
  await s.metadata.updateUpload(
    record.id,
    { attempts, reason: `attempt ${attempts} failed: ${reason}`, nextAttemptAt: at, updatedAt: now, leaseOwner: null, leaseUntil: null },
    { leaseOwner: s.instanceId },
  );
  s.metrics.processingRetries.inc();
  s.logger.warn({ uploadId: record.id, attempts, err }, "processing attempt failed; will retry");
  s.arrivals.enqueue(record.id, at);
}

async function alreadyArchived(s: Services, record: UploadRecord): Promise<boolean> {
  const archived = await s.objects.head({ bucket: s.config.buckets.archive, key: record.key });
  return archived?.size === record.size;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function sha256Of(stream: ReadableStream<Uint8Array>): Promise<string> {
  const hash = createHash("sha256");
  const reader = stream.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) hash.update(r.value);
  return hash.digest("hex");
}
