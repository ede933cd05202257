import type { Context, MiddlewareHandler } from "hono";
import type { ApiKeyAuthenticator } from "../domain/api-keys.js";
import type { Principal } from "../domain/principal.js";
import { isBrowserToken } from "../domain/tokens.js";
import { forbidden, toSluiceError, unauthorized } from "../errors.js";
import type { AppEnv } from "./app.js";

/**
 * Where a browser upload token is accepted: the one list, default deny. A token may issue an
 * upload, send and list its parts, complete it and read its state (its own uploads only: the
 * routes' scope check), follow it as server-sent events, and do the same through tus and the
 * Companion routes. Anything else
 * (listing, downloading or deleting files, cancelling, retrying, keys, minting tokens, and any
 * route added later) answers 403 until it is listed here.
 */
const TOKEN_ROUTES: readonly { method: string; path: RegExp }[] = [
  { method: "POST", path: /^\/v1\/uploads$/ },
  { method: "GET", path: /^\/v1\/uploads\/[^/]+$/ },
  { method: "GET", path: /^\/v1\/uploads\/[^/]+\/parts$/ },
  { method: "POST", path: /^\/v1\/uploads\/[^/]+\/parts$/ },
  { method: "POST", path: /^\/v1\/uploads\/[^/]+\/complete$/ },
  // Its own uploads' server-sent events (the pull feed, GET /v1/events, is for keys only).
  { method: "GET", path: /^\/v1\/uploads\/[^/]+\/events$/ },
  { method: "*", path: /^\/v1\/tus(\/|$)/ },
  { method: "*", path: /^\/s3(\/|$)/ },
  // The same Companion routes with the credential in the path (@uppy/aws-s3 6 sends no headers).
  { method: "*", path: /^\/companion\/[^/]+\/s3(\/|$)/ },
];

export function isTokenRoute(method: string, path: string): boolean {
  return TOKEN_ROUTES.some((r) => (r.method === "*" || r.method === method) && r.path.test(path));
}

function requireTokenRoute(c: Context): void {
  if (!isTokenRoute(c.req.method, c.req.path)) {
    throw forbidden("token_not_allowed", `A browser upload token may not ${c.req.method} ${c.req.path}: tokens issue, upload, complete and read their own uploads only.`);
  }
}

/**
 * The API-key group's check: `Authorization: Bearer <key or browser upload token>`, or 401.
 * Sets the caller's principal for the routes; a token only on the routes tokens may use.
 * Not async: a known key is answered without a promise, as an await per request is
 * measurable on the issue route.
 */
export function requireApiKey(auth: ApiKeyAuthenticator, credentialOf: (c: Context) => string | undefined = bearerCredential): MiddlewareHandler<AppEnv> {
  const valid = (principal: Principal | undefined) => {
    if (!principal) throw unauthorized("The API key is not valid.");
    return principal;
  };
  return (c, next) => {
    const key = credentialOf(c);
    if (!key) throw unauthorized("Send an API key or browser upload token as Authorization: Bearer <key>.");
    if (isBrowserToken(key)) {
      return auth.authenticateToken(key).then(
        (principal) => {
          requireTokenRoute(c);
          c.set("principal", principal);
          return next();
        },
        (err: unknown) => {
          throw toSluiceError("metadata store", err);
        },
      );
    }
    const known = auth.cached(key);
    if (known !== undefined) {
      c.set("principal", valid(known.principal));
      return next();
    }
    return auth.authenticate(key).then(
      (principal) => {
        c.set("principal", valid(principal));
        return next();
      },
      (err: unknown) => {
        throw toSluiceError("metadata store", err);
      },
    );
  };
}

/** Where a credential is sent: `Authorization: Bearer <key>`. */
function bearerCredential(c: Context): string | undefined {
  return bearerOf(c.req.header("authorization"));
}

const BEARER = /^Bearer\s+(\S+)$/i;

/** The credential in an Authorization header's value, if it is `Bearer <credential>`. */
export function bearerOf(authorization: string | undefined): string | undefined {
  return BEARER.exec(authorization ?? "")?.[1];
}
