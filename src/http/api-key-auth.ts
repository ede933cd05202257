import type { Context, MiddlewareHandler } from "hono";
import type { ApiKeyAuthenticator } from "../domain/api-keys.js";
import type { Principal } from "../domain/principal.js";
import { toSluiceError, unauthorized } from "../errors.js";
import type { AppEnv } from "./app.js";

/**
 * The API-key group's check: `Authorization: Bearer <key>`, or 401. Sets the caller's
 * principal for the routes. Not async: a known key is answered without a promise, as an await
 * per request is measurable on the issue route.
 */
export function requireApiKey(auth: ApiKeyAuthenticator, credentialOf: (c: Context) => string | undefined = bearerCredential): MiddlewareHandler<AppEnv> {
  const valid = (principal: Principal | undefined) => {
    if (!principal) throw unauthorized("The API key is not valid.");
    return principal;
  };
  return (c, next) => {
    const key = credentialOf(c);
    if (!key) throw unauthorized("Send an API key as Authorization: Bearer <key>.");
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
  return /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
}
