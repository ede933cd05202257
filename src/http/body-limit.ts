import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { SluiceError, badRequest, tooLarge } from "../errors.js";
import type { AppEnv } from "./app.js";

/**
 * The size limits of the bodies the API reads whole, in one table. Most are small JSON (an
 * upload request, a list of part numbers, a key's scope); two must be larger.
 */
export const BODY_LIMITS = {
  json: 64 * 1024,
  /** Completing a multipart upload may list 10,000 parts with their ETags. */
  completion: 2 * 1024 * 1024,
  /** One storage event carries a handful of records; a megabyte is far more than any sender batches. */
  storageEvent: 1024 * 1024,
} as const;

const describe = (bytes: number) => (bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`);

/**
 * The one limit on a request body that a route reads whole, mounted on that route. A body
 * that passes `maxBytes` gets `413 too_large` (JSON) as soon as it is seen; nothing more of it
 * is kept (on Node, the rest is discarded for a few seconds and the connection then closed:
 * see `guardConnections`).
 *
 * A body with a Content-Length is judged by the header alone: Node's parser (and every other
 * runtime's) never reads past it, and touching the Web body on Node would build a second
 * Request, which costs the issue route about a fifth of its throughput. A body without one
 * (chunked) is counted by Hono's `bodyLimit` as it arrives, and kept (at most `maxBytes`) for
 * the route to parse; such bodies are accepted, as many HTTP clients send JSON that way.
 */
export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  const refuse = (): never => {
    throw tooLarge(`The request body is over ${describe(maxBytes)}.`);
  };
  const counted = bodyLimit({ maxSize: maxBytes, onError: refuse });
  // Not async: an await per request is measurable on the issue route.
  return (c, next) => {
    const length = c.req.header("content-length");
    if (length !== undefined && c.req.header("transfer-encoding") === undefined) {
      if (!/^\d+$/.test(length) || Number(length) > maxBytes) refuse();
      return next();
    }
    return counted(c, next);
  };
}

/** A JSON body as read: its text, and its value unless it is not JSON. */
export type JsonBody = { text: string; json: true; value: unknown } | { text: string; json: false };

/**
 * The one reader of a JSON body that a route parses itself (routes validated by their OpenAPI
 * schema are read by the validator), behind `limitBody` on the same route. Not JSON is not an
 * error here: the route decides, as one refuses it before anything else, one reads an empty body
 * as `{}` and one must first check who sent it.
 */
export function readJsonBody(c: Context, options: { emptyAs?: unknown } = {}): Promise<JsonBody> {
  // Not async: the issue route reads its body here, and a promise layer more is measurable there.
  return c.req.text().then(
    (text) => parseJsonText(text, options),
    (err: unknown) => {
      // The body stopped before its end: the client went away, or the connection guard or
      // Node's request timeout closed the connection. Not a fault of Sluice's (no 500, no error
      // log). A refusal raised while reading (Hono's) is answered as itself.
      throw err instanceof SluiceError || err instanceof HTTPException ? err : bodyCutOff();
    },
  );
}

/** A body that stopped before its end, as the routes that read a whole JSON body answer it. */
export const bodyCutOff = () => badRequest("client_aborted", "The client went away before the whole body arrived; nothing was kept.");

/** A body's text as `readJsonBody` reads it (also Node's issue lane, which reads the text itself). */
export function parseJsonText(text: string, options: { emptyAs?: unknown } = {}): JsonBody {
  if ("emptyAs" in options && text.trim() === "") return { text, json: true, value: options.emptyAs };
  try {
    return { text, json: true, value: JSON.parse(text) as unknown };
  } catch {
    return { text, json: false };
  }
}
