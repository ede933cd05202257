/**
 * Hearing from Sluice: an upload's server-sent events (`GET /v1/uploads/{id}/events`), read
 * with fetch because EventSource cannot send the `Authorization` header, and the parser for
 * them.
 *
 * The parser is written here rather than taken from `eventsource-parser`: its current release
 * (4.x) requires Node 22.12, and this client runs on Node 20 and in browsers. It is the part of
 * the WHATWG "event stream interpretation" a client of Sluice needs: fields `event`, `data`,
 * `id`, `retry`, comments, and any of the three line endings.
 */
import { SluiceApiError } from "./errors.js";

/** One dispatched server-sent event. */
export interface ServerSentEvent {
  /** `message` when the server named none. */
  event: string;
  data: string;
  /** The last event id seen so far on this stream (what `Last-Event-ID` resends), if any. */
  id: string | undefined;
}

/** Feeds chunks of text in, calls `onEvent` for each complete event and `onRetry` for a `retry:` field. */
export class EventStreamParser {
  #buffer = "";
  #event = "";
  #data: string[] = [];
  #lastId: string | undefined;
  /** A chunk ended in `\r`: a `\n` starting the next one belongs to the same line end. */
  #pendingCr = false;
  readonly #onEvent: (e: ServerSentEvent) => void;
  readonly #onRetry: (ms: number) => void;

  constructor(handlers: { onEvent: (e: ServerSentEvent) => void; onRetry?: (ms: number) => void }) {
    this.#onEvent = handlers.onEvent;
    this.#onRetry = handlers.onRetry ?? (() => undefined);
  }

  get lastEventId(): string | undefined {
    return this.#lastId;
  }

  feed(chunk: string): void {
    if (this.#pendingCr && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.#pendingCr = chunk.endsWith("\r");
    this.#buffer += chunk;
    const lines = this.#buffer.split(/\r\n|\r|\n/);
    this.#buffer = lines.pop() ?? "";
    for (const line of lines) this.#line(line);
  }

  #line(line: string): void {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return; // a comment: a keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.#event = value;
        break;
      case "data":
        this.#data.push(value);
        break;
      case "id":
        if (!value.includes("\u0000")) this.#lastId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.#onRetry(Number(value));
        break;
    }
  }

  #dispatch(): void {
    const data = this.#data;
    const event = this.#event || "message";
    this.#data = [];
    this.#event = "";
    if (data.length === 0) return;
    this.#onEvent({ event, data: data.join("\n"), id: this.#lastId });
  }
}

/**
 * Reads a `text/event-stream` answer to its end, calling `onEvent` for each event; resolves
 * when the server ends the stream (or `onEvent` returns `"stop"`, which closes it). A network
 * failure mid-stream rejects with a `network_error`.
 */
export async function readEventStream(
  response: Response,
  handlers: { onEvent: (e: ServerSentEvent) => "stop" | undefined; onRetry?: (ms: number) => void },
): Promise<{ stopped: boolean; lastEventId: string | undefined }> {
  const body = response.body;
  if (!body) throw new SluiceApiError(0, "no_stream", "This platform's fetch gives no response stream.");
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let stopped = false;
  const parser = new EventStreamParser({
    onEvent: (e) => {
      if (!stopped && handlers.onEvent(e) === "stop") stopped = true;
    },
    ...(handlers.onRetry && { onRetry: handlers.onRetry }),
  });
  try {
    while (!stopped) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(value);
    }
  } catch (err) {
    throw new SluiceApiError(0, "network_error", `The event stream broke off: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    if (stopped) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return { stopped, lastEventId: parser.lastEventId };
}
