import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { tooLarge } from "../errors.js";
import type { AppEnv } from "./app.js";

/** The JSON bodies of the API: an upload request, a list of part numbers, a key's scope. */
export const MAX_JSON_BYTES = 64 * 1024;

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
