import { createHmac, hash, randomBytes, randomFillSync, timingSafeEqual, type KeyObject } from "node:crypto";

// Ids are minted on the hot path: draw their bytes from the CSPRNG 4 KiB at a time rather
// than one syscall-backed call each (the same technique crypto.randomUUID uses internally).
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

/** A random 128-bit id with a readable prefix, e.g. `upl_3q2…`. */
export function newId(prefix: string): string {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const id = pool.toString("base64url", poolOffset, poolOffset + 16);
  poolOffset += 16;
  return `${prefix}_${id}`;
}

/** A random secret of `bytes` bytes, base64url. */
export function newSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** One-shot `crypto.hash`: under half the cost of a Hash object for a short input (0.7 µs against 1.6 µs here). */
export function sha256Hex(data: string | Uint8Array): string {
  return hash("sha256", data, "hex");
}

/** `secret` may be a KeyObject made once (`createSecretKey`): that skips importing the key on every call. */
export function hmacBase64Url(secret: string | KeyObject, data: string): string {
  return createHmac("sha256", secret).update(data).digest("base64url");
}

export function hmacHex(secret: string, data: string | Uint8Array): string {
  return createHmac("sha256", secret).update(data).digest("hex");
}

/** Constant-time comparison of two secrets (or their digests). */
export function safeEqual(a: string, b: string): boolean {
  // Hash first so that the lengths are always equal and the comparison leaks nothing about length.
  const da = hash("sha256", a, "buffer");
  const db = hash("sha256", b, "buffer");
  return timingSafeEqual(da, db) && a.length === b.length;
}
