import { sleep } from "../internal/async.js";
import type { UploadState } from "../metadata/metadata-store.js";
import type { Services } from "./services.js";
import { getUploadStatus, type UploadStatus } from "./upload-status.js";

/** States processing ends in: what a client waiting for the verdict is told. */
const VERDICTS: readonly UploadState[] = ["archived", "rejected", "failed"];

/**
 * Waits, at most `timeoutMs`, for an upload's processing to give its verdict (archived,
 * rejected or failed), and returns the upload's state: the verdict, or whatever it was when
 * the wait ran out. Polls the records (processing may run on another instance).
 */
export async function waitForVerdict(s: Services, id: string, options: { timeoutMs: number; intervalMs?: number }): Promise<UploadStatus> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const status = await getUploadStatus(s, id);
    if (VERDICTS.includes(status.state) || Date.now() >= deadline) return status;
    await sleep(Math.min(options.intervalMs ?? 100, Math.max(0, deadline - Date.now())));
  }
}
