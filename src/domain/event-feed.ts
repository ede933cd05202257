import type { EventPage, EventType } from "../events/types.js";
import { guard } from "./backend-calls.js";
import type { Principal } from "./principal.js";
import type { Services } from "./services.js";

/**
 * The longest long poll a client may ask for (`?wait=`), in seconds: well under common proxy
 * timeouts (60 s), the same bound as a completion's wait. More is read as this, not refused.
 */
export const MAX_FEED_WAIT_SECONDS = 30;

/**
 * How often a long poll reads the store again while it waits: the bell only hears writes made
 * in this process, and another instance's events reach the store without ringing it.
 */
export const FEED_REREAD_MS = 1000;

/**
 * A requested wait in milliseconds: whole seconds within 0 and MAX_FEED_WAIT_SECONDS, and
 * shorter than the server's idle timeout (`SLUICE_BODY_IDLE_TIMEOUT`), which closes a
 * connection that moves no byte for that long; a long poll sends none until it answers.
 */
export function clampFeedWaitMs(seconds: number, idleTimeoutMs: number): number {
  const asked = Math.min(Math.max(Math.floor(seconds), 0), MAX_FEED_WAIT_SECONDS) * 1000;
  return Math.max(0, Math.min(asked, idleTimeoutMs - 1000));
}

export interface FeedRequest {
  /** The cursor of the page before (absent: from the beginning of what is retained). */
  after?: string | undefined;
  limit: number;
  types?: readonly EventType[] | undefined;
  /** When the page is empty, wait up to this long for an event (see `clampFeedWaitMs`). */
  waitMs: number;
  /** The client went away: stop waiting. */
  signal?: AbortSignal | undefined;
}

/**
 * A page of the feed, in commit order, seen by `principal`: a key scoped to a prefix sees only
 * the events of its own files (the store applies the prefix, as `listFiles` does). When the
 * page is empty and the caller may wait, waits for the bell (an event written here) or the next
 * re-read (one written by another instance), and answers as soon as one is there, or empty at
 * the deadline.
 */
export async function readEventFeed(s: Services, principal: Pick<Principal, "scope">, request: FeedRequest): Promise<EventPage> {
  const keyPrefix = principal.scope?.keyPrefix || undefined;
  const read = (after: string | undefined) =>
    guard("metadata store", () => s.metadata.readEvents({ limit: request.limit, ...(after !== undefined && { after }), ...(keyPrefix !== undefined && { keyPrefix }), ...(request.types && { types: request.types }) }));
  let page = await read(request.after);
  const deadline = s.now() + request.waitMs;
  while (page.events.length === 0 && !request.signal?.aborted) {
    const left = deadline - s.now();
    if (left <= 0) break;
    await s.events.wait(Math.min(FEED_REREAD_MS, left), request.signal);
    if (request.signal?.aborted) break;
    // From the page's own cursor: an empty page's cursor is where the feed stood, so nothing
    // written since is skipped, and a page over events filtered out moves on past them.
    page = await read(page.cursor);
  }
  return page;
}
