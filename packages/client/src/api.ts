/** Sluice's HTTP API, one method per call, typed by the generated wire types. */
import { readEventStream } from "./events.js";
import { SluiceApiError } from "./errors.js";
import { FINAL_STATES, type EventFeed, type EventType, type SluiceEvent, type Webhook, type WebhookAttemptList, type WebhookTestResult, type WebhookWithSecret, type BrowserToken, type Limits, type TokenRequest, type ApiKeyInfo, type ApiKeyScope, type CompleteRequest, type Download, type FileInfo, type FileList, type IssuedUpload, type NewApiKey, type PartUrl, type StoredPart, type UploadRequest, type UploadStatus } from "./types.js";
import { delay, networkErrors, readJson } from "./transport.js";
import type { components } from "./wire.js";

/**
 * Where the server is, and the credential: an API key (`apiKey`, on a server) or a browser
 * upload token (`token`, minted by the app's server with `createToken`, in a browser). Both are
 * sent the same way; a token may only upload and follow its own uploads.
 */
export type SluiceApiOptions = {
  /** The server, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  fetch?: typeof fetch;
} & ({ apiKey: string; token?: undefined } | { token: string; apiKey?: undefined });

/** Streams that broke off in a row before `waitForUpload` polls instead. */
const STREAM_FAILURES_BEFORE_POLLING = 3;

export interface WaitForUploadOptions {
  signal?: AbortSignal;
  /** Give up after this long (a `SluiceApiError` with code `timeout`); default: wait as long as it takes. */
  timeoutMs?: number;
  /** Hears each state on the way (from the stream, or from each poll). */
  onState?: (status: UploadStatus) => void;
  /** `"poll"` skips the server-sent events and polls from the start; default `"auto"`. */
  transport?: "auto" | "poll";
  /** The first pause between polls, when polling (it grows to 2 s). Default 250 ms. */
  intervalMs?: number;
}

export interface ListEventsOptions {
  /** A page's `cursor`: the events after it. Absent: from the oldest event kept. */
  after?: string | undefined;
  /** At most this many events (1 to 1000; the server's default is 100). */
  limit?: number;
  /** Only these types. */
  types?: readonly EventType[];
  /** Seconds to hold an empty page for new events (at most 30). */
  wait?: number;
  signal?: AbortSignal;
}

export interface TailEventsOptions extends ListEventsOptions {
  /** The cursor after each page: keep it, and pass it as `after` to resume where this left off. */
  onCursor?: (cursor: string) => void;
}

export class SluiceApi {
  readonly #base: string;
  readonly #key: string;
  #limits: Promise<Limits> | undefined;
  /** The fetch every request goes through (the one given, or the platform's). */
  protected readonly fetchFn: typeof fetch;

  constructor(options: SluiceApiOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#key = options.apiKey ?? options.token;
    this.fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /**
   * The server's limits and endpoints (`GET /v1/limits`, public), read once per client and
   * kept: they change only when the server restarts with another configuration.
   */
  limits(signal?: AbortSignal): Promise<Limits> {
    this.#limits ??= this.#api<Limits>("GET", "/v1/limits", undefined, signal).catch((err: unknown) => {
      this.#limits = undefined; // a failure is not kept: the next call asks again
      throw err;
    });
    return this.#limits;
  }

  /** Mints a browser upload token for one end user (with an API key; on the app's server, never in a browser). */
  createToken(request: TokenRequest = {}): Promise<BrowserToken> {
    return this.#api("POST", "/v1/tokens", request);
  }

  requestUpload(request: UploadRequest, signal?: AbortSignal): Promise<IssuedUpload> {
    return this.#api("POST", "/v1/uploads", request, signal);
  }

  getUpload(id: string, signal?: AbortSignal): Promise<UploadStatus> {
    return this.#api("GET", `/v1/uploads/${encodeURIComponent(id)}`, undefined, signal);
  }

  /** Says the bytes are there. A multipart upload names its parts (or omits them: then every stored part is used). */
  completeUpload(id: string, body?: CompleteRequest, signal?: AbortSignal): Promise<UploadStatus> {
    return this.#api("POST", `/v1/uploads/${encodeURIComponent(id)}/complete`, body, signal);
  }

  async partUrls(id: string, partNumbers: number[], signal?: AbortSignal): Promise<PartUrl[]> {
    const request: components["schemas"]["PartUrlsRequest"] = { partNumbers };
    return (await this.#api<components["schemas"]["PartUrls"]>("POST", `/v1/uploads/${encodeURIComponent(id)}/parts`, request, signal)).parts;
  }

  async listParts(id: string, signal?: AbortSignal): Promise<StoredPart[]> {
    return (await this.#api<components["schemas"]["StoredParts"]>("GET", `/v1/uploads/${encodeURIComponent(id)}/parts`, undefined, signal)).parts;
  }

  cancelUpload(id: string): Promise<UploadStatus> {
    return this.#api("DELETE", `/v1/uploads/${encodeURIComponent(id)}`);
  }

  listFiles(options: { limit?: number; cursor?: string; state?: string } = {}): Promise<FileList> {
    const q = new URLSearchParams();
    if (options.limit) q.set("limit", String(options.limit));
    if (options.cursor) q.set("cursor", options.cursor);
    if (options.state) q.set("state", options.state);
    return this.#api("GET", `/v1/files${q.size > 0 ? `?${q.toString()}` : ""}`);
  }

  async deleteFile(id: string): Promise<void> {
    await this.#api("DELETE", `/v1/files/${encodeURIComponent(id)}`);
  }

  createKey(name: string, scope?: ApiKeyScope): Promise<NewApiKey> {
    const request: components["schemas"]["ApiKeyRequest"] = { name, ...(scope && { scope }) };
    return this.#api("POST", "/v1/keys", request);
  }

  async listKeys(): Promise<ApiKeyInfo[]> {
    return (await this.#api<components["schemas"]["ApiKeyList"]>("GET", "/v1/keys")).items;
  }

  async revokeKey(id: string): Promise<void> {
    await this.#api("DELETE", `/v1/keys/${encodeURIComponent(id)}`);
  }

  /** Adds a webhook; the answer carries its signing secret, shown this once. */
  createWebhook(url: string, options: { eventTypes?: EventType[] } = {}): Promise<WebhookWithSecret> {
    const request: components["schemas"]["WebhookRequest"] = { url, ...(options.eventTypes && { eventTypes: options.eventTypes }) };
    return this.#api("POST", "/v1/webhooks", request);
  }

  async listWebhooks(): Promise<Webhook[]> {
    return (await this.#api<components["schemas"]["WebhookList"]>("GET", "/v1/webhooks")).items;
  }

  getWebhook(id: string): Promise<Webhook> {
    return this.#api("GET", `/v1/webhooks/${encodeURIComponent(id)}`);
  }

  async deleteWebhook(id: string): Promise<void> {
    await this.#api("DELETE", `/v1/webhooks/${encodeURIComponent(id)}`);
  }

  /** A new signing secret; the old one signs too for `overlapSeconds` (default: a day). */
  rotateWebhookSecret(id: string, options: { overlapSeconds?: number } = {}): Promise<WebhookWithSecret> {
    return this.#api("POST", `/v1/webhooks/${encodeURIComponent(id)}/rotate`, options);
  }

  /** Sends a signed `webhook.test` event now; says how the endpoint answered. */
  testWebhook(id: string): Promise<WebhookTestResult> {
    return this.#api("POST", `/v1/webhooks/${encodeURIComponent(id)}/test`);
  }

  resumeWebhook(id: string): Promise<Webhook> {
    return this.#api("POST", `/v1/webhooks/${encodeURIComponent(id)}/resume`);
  }

  /** The delivery log, newest attempt first. */
  listDeliveries(id: string, options: { limit?: number; cursor?: string } = {}): Promise<WebhookAttemptList> {
    const q = new URLSearchParams();
    if (options.limit) q.set("limit", String(options.limit));
    if (options.cursor) q.set("cursor", options.cursor);
    return this.#api("GET", `/v1/webhooks/${encodeURIComponent(id)}/deliveries${q.size > 0 ? `?${q.toString()}` : ""}`);
  }

  /** Sends again one event, or every event made in [since, until). */
  async redeliver(id: string, selection: { eventId: string } | { since: Date | string; until: Date | string }): Promise<number> {
    const body =
      "eventId" in selection
        ? { eventId: selection.eventId }
        : { since: new Date(selection.since).toISOString(), until: new Date(selection.until).toISOString() };
    return (await this.#api<components["schemas"]["WebhookRedeliverResult"]>("POST", `/v1/webhooks/${encodeURIComponent(id)}/redeliver`, body)).redelivering;
  }

  getFile(id: string): Promise<FileInfo> {
    return this.#api("GET", `/v1/files/${encodeURIComponent(id)}`);
  }

  downloadUrl(fileId: string, options: { once?: boolean; expiresIn?: number } = {}): Promise<Download> {
    const q = new URLSearchParams();
    if (options.once) q.set("once", "true");
    if (options.expiresIn) q.set("expiresIn", String(options.expiresIn));
    const query = q.size > 0 ? `?${q.toString()}` : "";
    return this.#api("GET", `/v1/files/${encodeURIComponent(fileId)}/download${query}`);
  }

  /**
   * Follows an upload until it reaches a final state (archived, rejected, expired, failed,
   * cancelled) and returns that status. It listens to the upload's server-sent events
   * (`GET /v1/uploads/{id}/events`, read with fetch so that the credential goes in a header),
   * reconnecting with `Last-Event-ID` when a stream ends early; where the stream cannot be had
   * (no response stream on the platform, a proxy that refuses it, a server without the route,
   * three failed connections in a row) it polls `GET /v1/uploads/{id}` instead.
   * `onState` hears every state on the way. Past `timeoutMs` it throws a `SluiceApiError`
   * with code `timeout`; an aborted `signal`, one with code `aborted`.
   */
  async waitForUpload(id: string, options: WaitForUploadOptions = {}): Promise<UploadStatus> {
    const stop = new AbortController();
    const abort = () => stop.abort();
    options.signal?.addEventListener("abort", abort, { once: true });
    if (options.signal?.aborted) stop.abort();
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stop.abort();
          }, options.timeoutMs);
    try {
      const followed = options.transport === "poll" ? undefined : await this.#followUpload(id, stop.signal, options.onState);
      return followed ?? (await this.#pollUpload(id, stop.signal, options));
    } catch (err) {
      if (timedOut) throw new SluiceApiError(0, "timeout", `Upload ${id} did not reach a final state within ${options.timeoutMs} ms.`);
      throw err;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", abort);
    }
  }

  /** The upload's server-sent events until a final state; undefined when streaming is not to be had here. */
  async #followUpload(id: string, signal: AbortSignal, onState: ((status: UploadStatus) => void) | undefined): Promise<UploadStatus | undefined> {
    const url = `${this.#base}/v1/uploads/${encodeURIComponent(id)}/events`;
    let lastEventId: string | undefined;
    let reconnectMs = 1000;
    let failures = 0;
    while (failures < STREAM_FAILURES_BEFORE_POLLING) {
      let response: Response;
      try {
        response = await this.fetchFn(url, {
          headers: { authorization: `Bearer ${this.#key}`, accept: "text/event-stream", ...(lastEventId !== undefined && { "last-event-id": lastEventId }) },
          signal,
        });
      } catch {
        if (signal.aborted) throw new SluiceApiError(0, "aborted", "Aborted.");
        failures++;
        await delay(reconnectMs, signal);
        continue;
      }
      // Not a stream (a proxy's error page, a server without the route, a refusal): polling
      // asks the plain way, and reports the real error if there is one.
      if (!response.ok || !response.body || !(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
        await response.body?.cancel().catch(() => undefined);
        return undefined;
      }
      let final: UploadStatus | undefined;
      let broke = false;
      try {
        const read = await readEventStream(response, {
          onEvent: (e) => {
            if (e.event === "error") broke = true;
            if (e.event !== "state") return undefined;
            const status = JSON.parse(e.data) as UploadStatus;
            onState?.(status);
            if (!FINAL_STATES.includes(status.state)) return undefined;
            final = status;
            return "stop";
          },
          onRetry: (ms) => {
            reconnectMs = Math.min(Math.max(ms, 250), 30_000);
          },
        });
        lastEventId = read.lastEventId ?? lastEventId;
      } catch {
        if (signal.aborted) throw new SluiceApiError(0, "aborted", "Aborted.");
        broke = true;
      }
      if (final) return final;
      failures = broke ? failures + 1 : 0;
      // The server ended the stream (its longest duration, or a runtime that buffers answers):
      // ask again after the pause it named.
      await delay(reconnectMs, signal);
    }
    return undefined;
  }

  async #pollUpload(id: string, signal: AbortSignal, options: WaitForUploadOptions): Promise<UploadStatus> {
    let interval = options.intervalMs ?? 250;
    for (;;) {
      const status = await this.getUpload(id, signal);
      options.onState?.(status);
      if (FINAL_STATES.includes(status.state)) return status;
      await delay(interval, signal);
      interval = Math.min(interval * 1.5, 2000);
    }
  }

  /**
   * One page of the pull feed (`GET /v1/events`, API keys only), in commit order. Start without
   * `after`; pass each page's `cursor` as the next `after`. With `wait` (seconds, at most 30),
   * an empty page is held until an event comes.
   */
  listEvents(options: ListEventsOptions = {}): Promise<EventFeed> {
    const q = new URLSearchParams();
    if (options.after) q.set("after", options.after);
    if (options.limit) q.set("limit", String(options.limit));
    if (options.wait) q.set("wait", String(options.wait));
    if (options.types?.length) q.set("types", options.types.join(","));
    return this.#api("GET", `/v1/events${q.size > 0 ? `?${q.toString()}` : ""}`, undefined, options.signal);
  }

  /**
   * Follows the pull feed for ever (until `signal` aborts): each event once per page, in
   * commit order, long polling `wait` seconds (default 20) when there is nothing new. A
   * network failure or a 5xx is retried with backoff; any other error ends the iteration.
   * `onCursor` hears the cursor after each page's events were all taken: keep it to resume.
   */
  async *tailEvents(options: TailEventsOptions = {}): AsyncGenerator<SluiceEvent, void, undefined> {
    let after = options.after;
    let failures = 0;
    for (;;) {
      let page: EventFeed;
      try {
        page = await this.listEvents({ ...options, ...(after !== undefined && { after }), wait: options.wait ?? 20 });
        failures = 0;
      } catch (err) {
        const status = err instanceof SluiceApiError ? err.status : -1;
        const transient = err instanceof SluiceApiError && (err.code === "network_error" || status >= 500 || status === 429);
        if (!transient || options.signal?.aborted) throw err;
        await delay(Math.min(250 * 2 ** failures++, 10_000), options.signal);
        continue;
      }
      for (const event of page.events) yield event;
      after = page.cursor;
      options.onCursor?.(after);
    }
  }

  async #api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const url = `${this.#base}${path}`;
    const response = await networkErrors(
      this.fetchFn(url, {
        method,
        headers: { authorization: `Bearer ${this.#key}`, ...(body !== undefined && { "content-type": "application/json" }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        ...(signal && { signal }),
      }),
      signal,
      url,
    );
    return readJson<T>(response);
  }
}
