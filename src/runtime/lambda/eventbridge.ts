/**
 * Publishing the event feed to an EventBridge bus (`SLUICE_EVENTBRIDGE_BUS`), from the
 * dispatcher function. The publisher reads the store's feed (`readEvents`) after its own
 * cursor, kept in the metadata store's settings, and moves the cursor on only after
 * EventBridge accepted a whole page, with a compare-and-set from the value it read. So it is
 * at least once: a crash between PutEvents and the cursor's update, a partly failed PutEvents,
 * or two publishers running at once send a page again, never skip one. EventBridge has no
 * idempotency key: the event's id is in `detail.id` (as in the webhook), for the rules'
 * targets to dedupe by, as a webhook receiver dedupes by `webhook-id`.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import type { AwsServiceConfig } from "../../config.js";
import { webhookPayload, type EventPage } from "../../events/types.js";
import type { Logger } from "../../internal/logger.js";
import type { MetadataStore } from "../../metadata/metadata-store.js";

/** PutEvents takes at most 10 entries a call: one page of the feed is one call. */
const ENTRIES_PER_CALL = 10;

/** What the publisher needs of the metadata store: the feed, and a setting to keep its cursor in. */
export type PublisherStore = Pick<MetadataStore, "getOrInitSetting" | "replaceSetting"> & {
  readEvents(query: { after?: string; limit: number }): Promise<EventPage>;
};

export interface PublishReport {
  /** Entries EventBridge accepted in this run. */
  published: number;
  /** Why the run stopped before the feed's end, if it did. */
  stopped?: "entries_failed" | "cursor_moved" | "budget";
}

export function createEventBridgeClient(config: AwsServiceConfig): EventBridgeClient {
  return new EventBridgeClient({
    region: config.region,
    ...(config.endpoint && { endpoint: config.endpoint }),
    ...(config.credentials && { credentials: config.credentials }),
    // One retry of a transient error; a page that still fails is sent again by the next run (the cursor did not move).
    maxAttempts: 2,
  });
}

export class EventBridgePublisher {
  readonly #client: EventBridgeClient;
  readonly #bus: string;
  readonly #store: PublisherStore;
  readonly #logger: Logger;
  /** The setting holding the feed cursor; one per bus, so that a second bus starts from the beginning. */
  readonly #setting: string;

  constructor(options: { client: EventBridgeClient; bus: string; store: PublisherStore; logger: Logger }) {
    this.#client = options.client;
    this.#bus = options.bus;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#setting = `eventbridge_cursor:${options.bus}`;
  }

  /** Publishes what the feed holds after the cursor, page by page, until the feed's end or the signal. */
  async publishPending(options: { signal?: AbortSignal } = {}): Promise<PublishReport> {
    // "": no cursor yet, from the feed's beginning (what the store still keeps).
    let cursor = await this.#store.getOrInitSetting(this.#setting, "");
    let published = 0;
    for (;;) {
      if (options.signal?.aborted) return { published, stopped: "budget" };
      const page = await this.#store.readEvents({ ...(cursor !== "" && { after: cursor }), limit: ENTRIES_PER_CALL });
      if (page.events.length === 0) return { published };
      const entries: PutEventsRequestEntry[] = page.events.map((e) => ({
        EventBusName: this.#bus,
        Source: "sluice",
        DetailType: e.type,
        Detail: JSON.stringify(webhookPayload(e)),
        Time: new Date(e.createdAt),
      }));
      const out = await this.#client.send(new PutEventsCommand({ Entries: entries }), { ...(options.signal && { abortSignal: options.signal }) });
      const failed = out.Entries?.filter((entry) => entry.ErrorCode) ?? [];
      if ((out.FailedEntryCount ?? 0) > 0 || failed.length > 0) {
        // Throttling or an internal error: the whole page goes again next run (its accepted entries twice).
        this.#logger.warn({ bus: this.#bus, failed: out.FailedEntryCount, codes: [...new Set(failed.map((f) => f.ErrorCode))] }, "EventBridge refused entries; the page is sent again next run");
        return { published, stopped: "entries_failed" };
      }
      published += entries.length;
      if (!(await this.#store.replaceSetting(this.#setting, cursor, page.cursor))) {
        // Another publisher moved the cursor meanwhile: it carries on from there.
        return { published, stopped: "cursor_moved" };
      }
      cursor = page.cursor;
    }
  }

  close(): void {
    this.#client.destroy();
  }
}
