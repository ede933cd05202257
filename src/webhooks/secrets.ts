import { randomBytes } from "node:crypto";

/**
 * Webhook signing secrets: made as Standard Webhooks has them (`whsec_` + base64 of 32 random
 * bytes), shown once, and stored sealed with AES-256-GCM under a key derived (HKDF-SHA-256)
 * from Sluice's URL signing secret, so that a copy of the database alone does not let anyone
 * sign as Sluice. Web Crypto, so that the same code runs on Node, Lambda and Workers.
 */
export class WebhookSecretBox {
  readonly #key: Promise<CryptoKey>;

  constructor(urlSigningSecret: string) {
    const subtle = globalThis.crypto.subtle;
    this.#key = subtle
      .importKey("raw", new TextEncoder().encode(urlSigningSecret), "HKDF", false, ["deriveKey"])
      .then((base) =>
        subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode("sluice webhook secrets v1") },
          base,
          { name: "AES-GCM", length: 256 },
          false,
          ["encrypt", "decrypt"],
        ),
      );
  }

  /** `base64url(iv ‖ ciphertext+tag)`. */
  async seal(secret: string): Promise<string> {
    const iv = randomBytes(12);
    const ct = await globalThis.crypto.subtle.encrypt({ name: "AES-GCM", iv }, await this.#key, new TextEncoder().encode(secret));
    return Buffer.concat([iv, Buffer.from(ct)]).toString("base64url");
  }

  /**
   * Opened secrets by their sealed form: every delivery signs, and a webhook has one or two
   * secrets, so the dispatcher would otherwise decrypt the same one per attempt. Bounded (the
   * oldest goes first); a rotated secret has a new sealed form, so nothing stale is served.
   */
  readonly #opened = new Map<string, string>();

  async open(sealed: string): Promise<string> {
    const cached = this.#opened.get(sealed);
    if (cached !== undefined) return cached;
    const secret = await this.#decrypt(sealed);
    if (this.#opened.size >= 256) this.#opened.delete(this.#opened.keys().next().value!);
    this.#opened.set(sealed, secret);
    return secret;
  }

  async #decrypt(sealed: string): Promise<string> {
    const raw = Buffer.from(sealed, "base64url");
    const pt = await globalThis.crypto.subtle.decrypt({ name: "AES-GCM", iv: raw.subarray(0, 12) }, await this.#key, raw.subarray(12));
    return new TextDecoder().decode(pt);
  }
}

/** A new Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes (the spec asks for 24 to 64). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}
