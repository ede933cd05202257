/**
 * Object keys are `[key prefix]<upload id>/<safe file name>`; the name never holds a slash
 * and the prefix (a scoped key's) may hold several. The id is the segment before the name.
 */
export function uploadIdOfKey(key: string): string {
  const segments = key.split("/");
  return segments.length >= 2 ? (segments[segments.length - 2] ?? "") : "";
}

/** Whether a string has the form of an upload id (anything else owns no ticket). */
export const isUploadId = (id: string) => /^upl_[A-Za-z0-9_-]+$/.test(id);
