import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** A random 128-bit id with a readable prefix, e.g. `upl_3q2…`. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(16).toString("base64url")}`;
}

/** A random secret of `bytes` bytes, base64url. */
export function newSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export function hmacBase64Url(secret: string, data: string): string {
  return createHmac("sha256", secret).update(data).digest("base64url");
}

/** Constant-time comparison of two secrets (or their digests). */
export function safeEqual(a: string, b: string): boolean {
  // Hash first so that the lengths are always equal and the comparison leaks nothing about length.
  const da = createHash("sha256").update(a).digest();
  const db = createHash("sha256").update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}
