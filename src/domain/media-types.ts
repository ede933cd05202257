/** The `type/subtype` part, lowercased, without parameters. */
export function mediaTypeEssence(contentType: string): string {
  // The usual case, already an essence, is returned as it is (proved equal in the tests).
  if (PLAIN_ESSENCE.test(contentType)) return contentType;
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

/** A lowercase `type/subtype` with no spaces or parameters: what `mediaTypeEssence` would return unchanged. */
const PLAIN_ESSENCE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;

/** Whether `type` matches an allow-list of patterns such as `image/*` or `*\/*`. */
export function isTypeAllowed(type: string, allowed: readonly string[]): boolean {
  if (allowed.includes("*/*")) return true;
  const [major, minor] = mediaTypeEssence(type).split("/");
  return allowed.some((pattern) => {
    const [pMajor, pMinor] = pattern.split("/");
    return (pMajor === "*" || pMajor === major) && (pMinor === "*" || pMinor === minor);
  });
}
