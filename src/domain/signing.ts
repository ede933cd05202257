import { createSecretKey, type KeyObject } from "node:crypto";
import { hmacBase64Url, safeEqual } from "../internal/crypto.js";

/**
 * Signs Sluice's own URLs (gateway uploads, downloads): an HMAC over the method, the
 * resource and the expiry, so that a forged or altered URL is refused before any store is
 * touched. What the URL permits beyond that (key, type, size) lives in the ticket.
 */
export class UrlSigner {
  readonly #secret: KeyObject;

  constructor(secret: string) {
    if (secret.length < 16) throw new Error("The URL signing secret is too short.");
    this.#secret = createSecretKey(Buffer.from(secret, "utf8"));
  }

  sign(parts: readonly string[]): string {
    return hmacBase64Url(this.#secret, parts.join("\n"));
  }

  verify(parts: readonly string[], signature: string): boolean {
    return safeEqual(this.sign(parts), signature);
  }
}
