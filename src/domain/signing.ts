import { HmacSha256, safeEqual } from "../internal/crypto.js";

/**
 * Signs Sluice's own URLs (gateway uploads, downloads): an HMAC over the method, the
 * resource and the expiry, so that a forged or altered URL is refused before any store is
 * touched. What the URL permits beyond that (key, type, size) lives in the ticket.
 */
export class UrlSigner {
  readonly #hmac: HmacSha256;

  constructor(secret: string) {
    if (secret.length < 16) throw new Error("The URL signing secret is too short.");
    this.#hmac = new HmacSha256(Buffer.from(secret, "utf8"));
  }

  sign(parts: readonly string[]): string {
    return this.#hmac.base64url(parts.join("\n"));
  }

  verify(parts: readonly string[], signature: string): boolean {
    return safeEqual(this.sign(parts), signature);
  }
}
