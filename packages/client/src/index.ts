/**
 * The Sluice client, for browsers and Node alike. It imports no server code and no
 * Node-only module: only `fetch`, and `XMLHttpRequest` where a browser has it (for progress),
 * and `@noble/hashes` for a SHA-256 computed as the bytes stream (Web Crypto has none).
 *
 * Modules: `api` (one method per HTTP call), `upload` (an upload start to finish),
 * `sources` (what can be uploaded), `transport` (requests, retries), `types` (the API's
 * shapes, from the generated `wire`).
 */
import { SluiceApi, type SluiceApiOptions } from "./api.js";
import { describeSource, type UploadSource } from "./sources.js";
import { sendPart, type OutgoingPart, type PartSender } from "./transport.js";
import { uploadFile, type UploadOptions, type UploadResult } from "./upload.js";

export { SluiceApi, type SluiceApiOptions } from "./api.js";
export { SluiceApiError } from "./errors.js";
export type { UploadSource } from "./sources.js";
export type { OutgoingPart, PartSender, Progress } from "./transport.js";
export * from "./types.js";
export { partLength, type UploadOptions, type UploadResult } from "./upload.js";
export { verifyWebhook, WebhookVerificationError, type WebhookEvent } from "./webhooks.js";
export type { components as WireSchemas, paths as WirePaths } from "./wire.js";

export type SluiceClientOptions = SluiceApiOptions & {
  /**
   * Sends one part and returns its ETag. The default uses XMLHttpRequest in browsers and fetch
   * elsewhere; a platform may send a part more cheaply (Node streams a file range from disk).
   */
  sendPart?: PartSender;
};

export class SluiceClient extends SluiceApi {
  readonly #sendPart: (part: OutgoingPart) => Promise<string>;

  constructor(options: SluiceClientOptions) {
    super(options);
    const fallback = (part: OutgoingPart) => sendPart(part.url, part.body, this.fetchFn, part.signal, part.onSent);
    const custom = options.sendPart;
    this.#sendPart = custom ? (part) => custom(part, fallback) : fallback;
  }

  /**
   * Uploads a file, start to finish: asks for an upload, sends the bytes (in one request, or in
   * parts when the server says the file is large), and tells Sluice they are there. Failed
   * requests are retried with backoff; expired part URLs are signed again. With `resume`, an
   * interrupted multipart upload carries on, sending only the parts storage lacks.
   * Processing goes on server-side: `waitForUpload` follows it.
   */
  async upload(source: UploadSource, options: UploadOptions = {}): Promise<UploadResult> {
    const file = describeSource(source, options);
    return await uploadFile({ api: this, fetch: this.fetchFn, sendPart: this.#sendPart }, file, options);
  }
}
