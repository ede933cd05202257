import { notFound } from "../errors.js";
import type { Principal } from "./principal.js";

/**
 * Key prefixes are exact namespaces, not a hierarchy: a key scoped to `t/` reaches the uploads
 * it could have made itself (`t/<upload id>/<name>`) and nothing under `t/b/`, which belongs to
 * whichever key is scoped to `t/b/`. Nesting would only make sense with delegation, and there
 * is none: a scoped key cannot mint keys, so `t/` and `t/b/` are two tenants that an operator
 * named alike, not a parent and its child. A full key (no prefix) is the one that sees all.
 *
 * Every check of a key prefix against an object key goes through `isWithinKeyPrefix`; the
 * metadata store's `listFiles` states the same rule in SQL, and its conformance suite holds it
 * to this function.
 */

/**
 * The key prefix an object key was issued under: everything before its upload id segment.
 * Object keys are `[key prefix]<upload id>/<safe file name>` (see `issueUpload`), where neither
 * the id nor the name holds a slash, and a prefix is whole segments each ending in `/`.
 */
export function keyPrefixOfObjectKey(objectKey: string): string {
  const name = objectKey.lastIndexOf("/");
  if (name < 0) return "";
  const id = objectKey.lastIndexOf("/", name - 1);
  return id < 0 ? "" : objectKey.slice(0, id + 1);
}

/** Whether a key scoped to `keyPrefix` (undefined: a full key) may see the object at `objectKey`. */
export function isWithinKeyPrefix(keyPrefix: string | undefined, objectKey: string): boolean {
  if (keyPrefix === undefined || keyPrefix === "") return true;
  return keyPrefixOfObjectKey(objectKey) === keyPrefix;
}

/** Whether a caller needs `requireWithinKeyPrefix` at all: a full key reaches every upload. */
export const isConfinedCaller = (principal: Pick<Principal, "scope" | "token">) => principal.token !== undefined || !!principal.scope?.keyPrefix;

/**
 * The one check of a caller's scope against an upload it names: a key scoped to a prefix
 * reaches only uploads under it, and a browser upload token only the uploads it issued itself
 * (`tokenId`, from the metadata entry `issueUpload` fixes), under its prefix. Any other reads
 * as unknown (404), so that a tenant or a browser learns nothing of another's ids. Returns the
 * upload, for the caller to go on with.
 */
export function requireWithinKeyPrefix<U extends { id: string; key: string; tokenId?: string | undefined }>(principal: Pick<Principal, "scope" | "token">, upload: U): U {
  if (!isWithinKeyPrefix(principal.scope?.keyPrefix, upload.key)) throw notFound(`Upload ${upload.id}`);
  if (principal.token && upload.tokenId !== principal.token.id) throw notFound(`Upload ${upload.id}`);
  return upload;
}
