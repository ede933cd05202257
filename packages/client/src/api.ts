/** Sluice's HTTP API, one method per call, typed by the generated wire types. */
import { FINAL_STATES, type EventType, type Webhook, type WebhookAttemptList, type WebhookTestResult, type WebhookWithSecret, type BrowserToken, type Limits, type TokenRequest, type ApiKeyInfo, type ApiKeyScope, type CompleteRequest, type Download, type FileInfo, type FileList, type IssuedUpload, type NewApiKey, type PartUrl, type StoredPart, type UploadRequest, type UploadStatus } from "./types.js";
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

  getUpload(id: string): Promise<UploadStatus> {
    return this.#api("GET", `/v1/uploads/${encodeURIComponent(id)}`);
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

  /** Polls until the upload reaches a final state. */
  async waitForUpload(
    id: string,
    options: { signal?: AbortSignal; intervalMs?: number; onState?: (status: UploadStatus) => void } = {},
  ): Promise<UploadStatus> {
    let interval = options.intervalMs ?? 250;
    for (;;) {
      const status = await this.getUpload(id);
      options.onState?.(status);
      if (FINAL_STATES.includes(status.state)) return status;
      await delay(interval, options.signal);
      interval = Math.min(interval * 1.5, 2000);
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
