import type { SluiceEvent } from "../events/types.js";
import type { UploadState } from "../metadata/metadata-store.js";
import { SluiceError } from "../errors.js";
import { guard } from "./backend-calls.js";
import { FEED_REREAD_MS } from "./event-feed.js";
import type { Services } from "./services.js";
import { getUploadStatus, type UploadStatus } from "./upload-status.js";

/** States an upload does not leave by itself: a stream that has said one has nothing more to say. */
export const SETTLED_STATES: readonly UploadState[] = ["archived", "rejected", "failed", "expired", "cancelled"];

/**
 * How long one stream follows an upload before it ends, in ms: a client that still wants to
 * know reconnects (with `Last-Event-ID`, so that nothing is missed). Bounds what one connection
 * holds, and lets a proxy's or load balancer's own limit never be the one that cuts it.
 */
export const UPLOAD_STREAM_MAX_MS = 5 * 60_000;

/** How often the upload's state is read again when no event came (a cancel or an expiry by time writes none). */
const STATE_RECHECK_MS = 5000;

/** The most events one upload has: one per change an app hears of, so a handful. */
const UPLOAD_EVENTS_LIMIT = 100;

/** What a stream for one upload says, in order. */
export type UploadStreamMessage = { kind: "state"; status: UploadStatus } | { kind: "event"; event: SluiceEvent };

export interface FollowUploadOptions {
  /** The id of the last event the client saw (`Last-Event-ID`): events after it are sent again. */
  lastEventId?: string | undefined;
  /** Stop after this long (default UPLOAD_STREAM_MAX_MS); `0` says the state once and stops (a runtime that buffers). */
  maxMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Follows one upload: first its state as it stands, then, with `lastEventId`, the events the
 * client missed, then each new event of the upload, each followed by the state it left (so a
 * stream's last message is a state). Ends once it said a settled state (or the upload is gone:
 * an `upload.expired` whose ticket the store already dropped), at `maxMs`, or when the signal
 * aborts. The caller has already checked that the caller may see the upload.
 *
 * It waits on the bell and reads the store again every second, like the feed's long poll: the
 * event may be written by another instance. The events are read before the first state, so
 * that one committed in between is sent (twice at worst, never missed).
 */
export async function* followUpload(s: Services, uploadId: string, options: FollowUploadOptions = {}): AsyncGenerator<UploadStreamMessage> {
  const { signal } = options;
  const readEvents = (after: string | undefined) =>
    guard("metadata store", () => s.metadata.readEvents({ uploadId, limit: UPLOAD_EVENTS_LIMIT, ...(after !== undefined && { after }) }));
  const deadline = s.now() + (options.maxMs ?? UPLOAD_STREAM_MAX_MS);

  const before = await readEvents(undefined);
  let cursor = before.cursor;
  let status = await getUploadStatus(s, uploadId);
  yield { kind: "state", status };
  if (options.lastEventId !== undefined) {
    const seen = before.events.find((e) => e.id === options.lastEventId);
    // An id this upload never had (or one already swept away by retention): everything it has.
    for (const event of before.events) if (!seen || event.seq > seen.seq) yield { kind: "event", event };
  }
  let checked = s.now();
  while (!SETTLED_STATES.includes(status.state) && !signal?.aborted) {
    const left = deadline - s.now();
    if (left <= 0) return;
    await s.events.wait(Math.min(FEED_REREAD_MS, left), signal);
    if (signal?.aborted) return;
    const page = await readEvents(cursor);
    cursor = page.cursor;
    for (const event of page.events) yield { kind: "event", event };
    if (page.events.length === 0 && s.now() - checked < STATE_RECHECK_MS) continue;
    checked = s.now();
    const next = await currentStatus(s, uploadId);
    if (!next) return; // gone: the event that said so was the last word
    if (next.state !== status.state || next.reason !== status.reason || page.events.length > 0) yield { kind: "state", status: next };
    status = next;
  }
}

/** The upload's status, or undefined once no store knows it (an expired ticket past its TTL). */
async function currentStatus(s: Services, uploadId: string): Promise<UploadStatus | undefined> {
  try {
    return await getUploadStatus(s, uploadId);
  } catch (err) {
    if (err instanceof SluiceError && err.code === "not_found") return undefined;
    throw err;
  }
}
