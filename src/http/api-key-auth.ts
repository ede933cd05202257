import type { Context, MiddlewareHandler } from "hono";
import type { ApiKeyAuthenticator } from "../domain/api-keys.js";
import type { Principal } from "../domain/principal.js";
import { isBrowserToken } from "../domain/tokens.js";
import { forbidden, toSluiceError, unauthorized } from "../errors.js";
import type { AppEnv } from "./app.js";

/**
 * Where a browser upload token is accepted: the one list, default deny. A token may issue an
 * upload, send and list its parts, complete it and read its state (its own uploads only: the
 * routes' scope check), and do the same through tus and the Companion routes. Anything else
 * (listing, downloading or deleting files, cancelling, retrying, keys, minting tokens, and any
 * route added later) answers 403 until it is listed here.
 */
const TOKEN_ROUTES: readonly { method: string; path: RegExp }[] = [
  { method: "POST", path: /^\/v1\/uploads$/ },
  { method: "GET", path: /^\/v1\/uploads\/[^/]+$/ },
  { method: "GET", path: /^\/v1\/uploads\/[^/]+\/parts$/ },
  { method: "POST", path: /^\/v1\/uploads\/[^/]+\/parts$/ },
  { method: "POST", path: /^\/v1\/uploads\/[^/]+\/complete$/ },
  { method: "*", path: /^\/v1\/tus(\/|$)/ },
  { method: "*", path: /^\/s3(\/|$)/ },
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
export function requireApiKey(auth: ApiKeyAuthenticator): MiddlewareHandler<AppEnv> {
  const valid = (principal: Principal | undefined) => {
    if (!principal) throw unauthorized("The API key is not valid.");
    return principal;
  };
  return (c, next) => {
    const match = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
    if (!match?.[1]) throw unauthorized("Send an API key or browser upload token as Authorization: Bearer <key>.");
    const key = match[1];
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
