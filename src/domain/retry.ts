import { conflict, notFound } from "../errors.js";
import type { Services } from "./services.js";
import { guard } from "./backend-calls.js";
import { statusOfRecord, type UploadStatus } from "./upload-status.js";

/** Puts a `failed` upload back into processing with a fresh set of attempts. Idempotent. */
export async function retryFailedUpload(s: Services, id: string): Promise<UploadStatus> {
  const record = await guard("metadata store", () => s.metadata.getUpload(id));
  if (!record) throw notFound(`File for upload ${id}`);
  if (record.state === "uploaded" || record.state === "processing") return statusOfRecord(record);
  if (record.state !== "failed") throw conflict("not_failed", `Upload ${id} is ${record.state}; only failed uploads can be retried.`);
  const now = s.now();
  await guard("metadata store", () =>
    s.metadata.updateUpload(id, { state: "uploaded", attempts: 0, nextAttemptAt: now, reason: null, updatedAt: now }, { states: ["failed"] }),
  );
  s.arrivals.enqueue(id);
  const after = await guard("metadata store", () => s.metadata.getUpload(id));
  return statusOfRecord(after ?? record);
}
