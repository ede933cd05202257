import { forbidden, unauthorized } from "../errors.js";
import { newId } from "../internal/crypto.js";
import type { KeyScope } from "../metadata/metadata-store.js";
import { isTypeAllowed } from "./media-types.js";
import type { Principal, TokenGrant } from "./principal.js";
import type { UrlSigner } from "./signing.js";

/**
 * Browser upload tokens: short-lived bearer credentials an app's server mints with its API key
 * (`POST /v1/tokens`) for one end user's browser, so that the browser never holds the key.
 *
 * A token is stateless: `sut_<claims>.<signature>`, the claims base64url JSON and the
 * signature an HMAC-SHA-256 under the URL signing secret (the one every instance shares),
 * over a label no URL signs, so that neither can stand for the other. Verifying it costs no
 * store call; what must hold across instances is kept elsewhere: the minting key's revocation
 * (checked on every use, cached a few seconds like any key) and the count of uploads
 * (`maxUploads`, counted in the limit store under the token's id).
 */
export const TOKEN_PREFIX = "sut_";
/** The longest a token lives: an hour. A longer `expiresIn` is clamped to it (and the answer says so). */
export const TOKEN_MAX_SECONDS = 3600;
export const TOKEN_DEFAULT_SECONDS = 900;
/**
 * The metadata entry naming the token that issued an upload: how a token recognises its own
 * uploads (`requireWithinKeyPrefix`), in the ticket before the bytes arrive and in the record
 * after. The browser cannot set or change it; the app reads it like any metadata.
 */
export const TOKEN_METADATA_KEY = "sluice-token";

const SIGNATURE_LABEL = "sluice-browser-token-v1";

/** What the app asks a token to be limited to; each within the minting key's own scope. */
export interface TokenRequest {
  keyPrefix?: string | undefined;
  allowedTypes?: string[] | undefined;
  maxSize?: number | undefined;
  maxUploads?: number | undefined;
  /** Seconds; clamped to 1..TOKEN_MAX_SECONDS. */
  expiresIn?: number | undefined;
  metadata?: Record<string, string> | undefined;
}

export interface MintedToken {
  token: string;
  grant: TokenGrant;
  /** The lifetime granted, in seconds, after clamping. */
  expiresIn: number;
  /** The scope the token works under: the key's, narrowed by the request. */
  scope: KeyScope;
}

/** The signed claims. Short names: the token travels in a header on every request. */
interface TokenClaims {
  v: 1;
  id: string;
  /** The minting key's id. */
  key: string;
  /** Expiry, epoch milliseconds. */
  exp: number;
  scope: KeyScope;
  max?: number;
  meta: Record<string, string>;
}

/**
 * Mints a token for a caller holding an API key. The token's scope lies within the key's:
 * the key's prefix (a scoped key's exactly, as prefixes are namespaces, not a hierarchy),
 * types and size within the key's, and the key's rate limits and quotas carried as they are,
 * counted against the key. A token cannot mint tokens (its routes do not include this one).
 */
export function mintToken(signer: UrlSigner, minter: Principal, request: TokenRequest, now: number): MintedToken {
  if (minter.kind !== "key") throw forbidden("token_not_allowed", "A browser upload token cannot mint tokens.");
  const key = minter.scope ?? {};
  if (request.keyPrefix !== undefined && key.keyPrefix !== undefined && request.keyPrefix !== key.keyPrefix) {
    throw forbidden("token_scope_exceeded", `This key is scoped to ${key.keyPrefix}; its tokens work under that prefix only.`);
  }
  const outside = key.allowedTypes && request.allowedTypes?.find((t) => !isTypeAllowed(t, key.allowedTypes ?? []));
  if (outside) throw forbidden("token_scope_exceeded", `Type ${outside} is beyond this key's types (${key.allowedTypes?.join(", ")}).`);
  if (request.maxSize !== undefined && key.maxSize !== undefined && request.maxSize > key.maxSize) {
    throw forbidden("token_scope_exceeded", `maxSize ${request.maxSize} is beyond this key's limit of ${key.maxSize} bytes.`);
  }
  const scope: KeyScope = {
    ...key,
    ...(request.keyPrefix !== undefined && { keyPrefix: request.keyPrefix }),
    ...(request.allowedTypes && { allowedTypes: request.allowedTypes }),
    ...(request.maxSize !== undefined && { maxSize: request.maxSize }),
  };
  const expiresIn = Math.min(Math.max(request.expiresIn ?? TOKEN_DEFAULT_SECONDS, 1), TOKEN_MAX_SECONDS);
  const claims: TokenClaims = {
    v: 1,
    id: newId("tok"),
    key: minter.keyId,
    exp: now + expiresIn * 1000,
    scope,
    ...(request.maxUploads !== undefined && { max: request.maxUploads }),
    meta: request.metadata ?? {},
  };
  const payload = Buffer.from(JSON.stringify(claims), "utf8").toString("base64url");
  return { token: `${TOKEN_PREFIX}${payload}.${signer.sign([SIGNATURE_LABEL, payload])}`, grant: grantOf(claims), expiresIn, scope };
}

export const isBrowserToken = (credential: string) => credential.startsWith(TOKEN_PREFIX);

/**
 * The principal a token stands for, checked in this order: its form, its signature (constant
 * time), its expiry. Throws 401 naming which failed (never echoing the token). The minting
 * key's revocation is the caller's to check (it needs the key store).
 */
export function readToken(signer: UrlSigner, token: string, now: number): Principal {
  const dot = token.indexOf(".", TOKEN_PREFIX.length);
  if (!isBrowserToken(token) || dot < 0) throw unauthorized("The browser upload token is malformed.");
  const payload = token.slice(TOKEN_PREFIX.length, dot);
  if (!signer.verify([SIGNATURE_LABEL, payload], token.slice(dot + 1))) throw unauthorized("The browser upload token is not valid.");
  // Signed by this service, so its claims are what mintToken wrote.
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as TokenClaims;
  if (claims.v !== 1) throw unauthorized("The browser upload token is not valid.");
  if (claims.exp <= now) throw unauthorized("The browser upload token has expired; ask the app for a new one.");
  return { kind: "token", keyId: claims.key, scope: claims.scope, token: grantOf(claims) };
}

function grantOf(claims: TokenClaims): TokenGrant {
  return { id: claims.id, expiresAt: claims.exp, ...(claims.max !== undefined && { maxUploads: claims.max }), metadata: claims.meta };
}

/**
 * The metadata an upload issued by a token carries: the browser's, with the token's fixed
 * entries and the token's id on top. A browser that gives a fixed key another value is refused
 * (403) rather than silently overruled, so that a client bug or a tampering attempt shows.
 */
export function metadataUnderToken(grant: TokenGrant, requested: Record<string, string> | undefined): Record<string, string> {
  const fixed = { ...grant.metadata, [TOKEN_METADATA_KEY]: grant.id };
  for (const [name, value] of Object.entries(fixed)) {
    const asked = requested?.[name];
    if (asked !== undefined && asked !== value) throw forbidden("metadata_fixed", `metadata ${name} is fixed by this browser upload token and cannot be changed.`);
  }
  return { ...requested, ...fixed };
}
