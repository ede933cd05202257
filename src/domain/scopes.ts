import { notFound } from "../errors.js";
import type { Principal } from "./principal.js";
import type { Services } from "./services.js";
import { getUploadStatus } from "./upload-status.js";

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
 * Key scope, enforced for every request on one upload (status, cancel, complete, parts,
 * retry): a key scoped to a prefix reaches only the uploads under it, and any other reads as
 * unknown (404), exactly like one that does not exist. A full key reaches all, and costs no
 * read. `known`: the upload as the caller already read it, so that it is not read twice.
 */
export async function enforceKeyScope(s: Services, principal: Principal | undefined, uploadId: string, known?: { key: string }): Promise<void> {
  const prefix = principal?.scope?.keyPrefix;
  if (!prefix) return;
  const key = known?.key ?? (await getUploadStatus(s, uploadId)).key;
  if (!isWithinKeyPrefix(prefix, key)) throw notFound(`Upload ${uploadId}`);
}
