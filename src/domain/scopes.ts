import { notFound } from "../errors.js";

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

/**
 * The one check of a key's scope against an upload it names: a key scoped to a prefix reaches
 * only uploads under it, and any other reads as unknown (404), so that a tenant learns nothing
 * of another's ids. Returns the upload, for the caller to go on with.
 */
export function requireWithinKeyPrefix<U extends { id: string; key: string }>(keyPrefix: string | undefined, upload: U): U {
  if (!isWithinKeyPrefix(keyPrefix, upload.key)) throw notFound(`Upload ${upload.id}`);
  return upload;
}
