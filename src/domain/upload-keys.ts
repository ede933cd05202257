/**
 * Object keys are `[key prefix]<upload id>/<safe file name>`; the name never holds a slash
 * and the prefix (a scoped key's) may hold several. The id is the segment before the name.
 */
export function uploadIdOfKey(key: string): string {
  const segments = key.split("/");
  return segments.length >= 2 ? (segments[segments.length - 2] ?? "") : "";
}

/** A file shares its upload's random part: `upl_X` arrives as file `fil_X`. */
export const fileIdOf = (uploadId: string) => `fil_${uploadId.slice("upl_".length)}`;

/** Whether a string has the form of an upload id (anything else owns no ticket). */
export const isUploadId = (id: string) => /^upl_[A-Za-z0-9_-]+$/.test(id);

/**
 * Where a tus upload keeps the bytes of a part not yet full (as tusd's S3 store keeps an
 * "incomplete part"): beside the upload's own key, named by the part they begin, so that one
 * left behind by a crash after its part was stored is never mistaken for the next part's.
 */
export const tusPendingPartKey = (uploadKey: string, partNumber: number) => `${uploadKey}.tus-part-${partNumber}`;

/**
 * Where a tus upload's bytes grow on a store that appends (the filesystem): one file beside the
 * upload's key, made the object at that key by the PATCH with the last byte.
 */
export const tusAppendKey = (uploadKey: string) => `${uploadKey}.tus-append`;

/** Whether a staging key is one of the pending-part objects of the upload whose key is `uploadKey`. */
export function isTusPendingPartKey(uploadKey: string, key: string): boolean {
  const prefix = `${uploadKey}.tus-part-`;
  return key.startsWith(prefix) && /^[1-9]\d{0,4}$/.test(key.slice(prefix.length));
}
