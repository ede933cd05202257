import { unprocessable } from "../errors.js";
import type { UploadState } from "../metadata/metadata-store.js";
import { sleep } from "../internal/async.js";
import type { Services } from "./services.js";
import { getUploadStatus, type UploadStatus } from "./upload-status.js";

/** The longest wait a client may ask for (`?wait=`), in seconds: well under common proxy timeouts (60 s). */
export const MAX_VERDICT_WAIT_SECONDS = 30;

/** States after which processing changes nothing by itself. */
const VERDICT_STATES: readonly UploadState[] = ["archived", "rejected", "failed"];
/** States that can still move on to a verdict. */
const PENDING_STATES: readonly UploadState[] = ["uploaded", "processing", "uploading"];

const FIRST_POLL_MS = 50;
const LONGEST_POLL_MS = 1000;

/** A requested wait in whole seconds, within 0 and MAX_VERDICT_WAIT_SECONDS. */
export const clampVerdictWait = (seconds: number): number => Math.min(Math.max(Math.floor(seconds), 0), MAX_VERDICT_WAIT_SECONDS);

/**
 * Waits, at most `timeoutMs`, for an upload to reach a verdict (archived, rejected or failed),
 * and returns its status as it then stands (a verdict, or the state it is still in).
 *
 * It reads the metadata store, with a backoff from 50 ms to 1 s between reads, rather than
 * listening to the in-process queue: processing may run in another instance (or on a queue
 * worker, on Lambda), and the record is the one thing every instance sees. Where processing is
 * in this process, the first reads come soon enough that a small file's verdict costs a few
 * reads. An upload that cannot move on by itself (issued, expired, cancelled) is answered at
 * once.
 */
export async function waitForVerdict(s: Services, id: string, options: { timeoutMs: number; known?: UploadStatus | undefined }): Promise<UploadStatus> {
  const deadline = s.now() + options.timeoutMs;
  let status = options.known ?? (await getUploadStatus(s, id));
  let pause = FIRST_POLL_MS;
  while (!VERDICT_STATES.includes(status.state) && PENDING_STATES.includes(status.state)) {
    const left = deadline - s.now();
    if (left <= 0) break;
    await sleep(Math.min(pause, left));
    pause = Math.min(pause * 2, LONGEST_POLL_MS);
    status = await getUploadStatus(s, id);
  }
  return status;
}

/**
 * What a client that waited is told: a rejected file is an error in its own protocol (422
 * `file_rejected`, with the reason), so that an uploader shows the file as failed; anything
 * else is the status, final or not.
 */
export function refuseRejected(status: UploadStatus): UploadStatus {
  if (status.state === "rejected") throw unprocessable("file_rejected", `Upload ${status.id} was rejected: ${status.reason ?? "no reason recorded"}.`);
  return status;
}
