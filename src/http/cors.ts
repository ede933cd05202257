import type { Context, MiddlewareHandler, Next } from "hono";
import { cors } from "hono/cors";

/**
 * The response headers a browser script may read, for every protocol Sluice speaks: S3's
 * (`ETag` of a PUT or part, which Uppy and the SDK need to complete a multipart upload), tus
 * 1.0's, `Retry-After` on a 429, and the error headers of a tus `HEAD` (which has no body to
 * carry the reason a rejected file was refused).
 */
export const EXPOSED_HEADERS = [
  "ETag",
  "Location",
  "Retry-After",
  "Upload-Offset",
  "Upload-Length",
  "Upload-Metadata",
  "Upload-Defer-Length",
  "Upload-Expires",
  "Upload-Concat",
  "Tus-Version",
  "Tus-Resumable",
  "Tus-Max-Size",
  "Tus-Extension",
  "Tus-Checksum-Algorithm",
  "Sluice-Error-Code",
  "Sluice-Error-Message",
];

/** Every method a route answers, including tus's PATCH, HEAD and DELETE and the gateway's PUT. */
const ALLOWED_METHODS = ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"];

/** How long a browser may reuse a preflight's answer (Chromium caps it at 2 hours). */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * CORS for the whole app (API routes, gateway URLs, tus, Companion routes), mounted before any
 * check of a key or a signature so that a preflight is answered without one: a preflight
 * carries no credential by design. Only origins in `origins` (`SLUICE_CORS_ORIGINS`; `*` for
 * any) get CORS headers; a request from any other origin, or with no Origin (not a browser's
 * cross-origin request), gets none and goes on as if this middleware were not there. Credentials
 * are Bearer headers, never cookies, so `Access-Control-Allow-Credentials` is never sent.
 *
 * Only a real preflight (OPTIONS with `Access-Control-Request-Method`) is answered here: a bare
 * OPTIONS is tus's discovery request, answered by its route.
 */
export function allowCrossOrigin(origins: readonly string[]): MiddlewareHandler {
  const anyOrigin = origins.includes("*");
  const allowed = new Set(origins);
  const isAllowed = (origin: string) => anyOrigin || allowed.has(origin);
  // Hono's middleware does the header work; it runs only for an allowed origin, because for
  // any other it would still send the methods, headers and exposed headers.
  const answer = cors({
    origin: (origin) => origin, // already checked below; reflected, never `*`, so that caches vary on it
    allowMethods: ALLOWED_METHODS,
    allowHeaders: [], // empty: reflect Access-Control-Request-Headers
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
  });
  // Not async: most requests pass straight through, and an async layer per request is measurable on the issue route.
  return (c, next) => {
    const origin = c.req.header("origin");
    if (origin === undefined || !isAllowed(origin)) {
      // The same URL is answered with CORS headers for one origin and without for another: a
      // shared cache must key on Origin. Only answers to GET and HEAD can be stored: Sluice
      // never sends what would make a POST's answer storable (RFC 9110, 9.3.3), and answers to
      // PUT, PATCH, DELETE and OPTIONS never are (9.3.4, 9.3.5, 9.3.7). So the others go
      // without, which spares the hottest route (a POST) rebuilding its headers.
      if (origins.length === 0 || !(c.req.method === "GET" || c.req.method === "HEAD")) return next();
      return next().then(() => varyOnOrigin(c));
    }
    const preflight = c.req.method === "OPTIONS" && c.req.header("access-control-request-method") !== undefined;
    if (c.req.method === "OPTIONS" && !preflight) {
      // tus's OPTIONS: its route answers; the CORS headers go on that answer.
      return answerWithoutPreflight(c, next, origin);
    }
    return answer(c, next);
  };
}

/** tus's OPTIONS from an allowed origin: its route answers, with the headers of an actual (not preflight) cross-origin response. */
async function answerWithoutPreflight(c: Context, next: Next, origin: string): Promise<void> {
  await next();
  c.header("Access-Control-Allow-Origin", origin);
  c.header("Access-Control-Expose-Headers", EXPOSED_HEADERS.join(","));
  c.header("Vary", "Origin", { append: true });
}

/**
 * Adds `Vary: Origin` to the answer already made. Straight onto its headers where they may be
 * changed: `c.header` on a finished answer rebuilds it as a streamed Response (the Node adapter
 * then writes it as a stream, not in one write), which cost about half of the issue route's
 * CPU per request (A/B, alternating rounds: 455 against 217 µs). Headers that may not be changed (a Response from `fetch`) go through `c.header`, which
 * copies the answer first.
 */
function varyOnOrigin(c: Context): void {
  try {
    c.res.headers.append("Vary", "Origin");
  } catch {
    c.header("Vary", "Origin", { append: true });
  }
}
