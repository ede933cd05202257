import { conflict } from "../errors.js";
import type { UploadRecord } from "../metadata/metadata-store.js";
import type { Services } from "./services.js";
import { getUpload, guard } from "./uploads.js";

/** Puts a `failed` upload back into processing with a fresh set of attempts. Idempotent. */
export async function retryFailedUpload(s: Services, id: string): Promise<UploadRecord> {
  const record = await getUpload(s, id);
  if (record.state === "uploaded" || record.state === "processing") return record;
  if (record.state !== "failed") throw conflict("not_failed", `Upload ${id} is ${record.state}; only failed uploads can be retried.`);
  const now = s.now();
  await guard("metadata store", () =>
    s.metadata.updateUpload(id, { state: "uploaded", attempts: 0, nextAttemptAt: now, reason: null, updatedAt: now }, { states: ["failed"] }),
  );
  s.arrivals.enqueue(id);
  return getUpload(s, id);
}
