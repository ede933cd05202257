import { createHmac, hash, randomBytes, randomFillSync, timingSafeEqual } from "node:crypto";
import { HMAC } from "@stablelib/hmac";
import { SHA256 } from "@stablelib/sha256";

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

/**
 * HMAC-SHA-256 under one key, keyed once: the pads' hash states are kept, so each MAC hashes
 * only the message. Pure JavaScript (@stablelib): on the issue route, where every request
 * signs a URL, a native `createHmac` per request cost measurably more (9% of the route's
 * throughput, measured in alternating rounds) than its 3.4 µs in isolation. Proved equal to
 * `createHmac` in crypto.test.ts.
 */
export class HmacSha256 {
  readonly #hmac: HMAC;
  readonly #mac = Buffer.alloc(32);

  constructor(key: Uint8Array) {
    this.#hmac = new HMAC(SHA256, key);
  }

  /** The MAC of `data` (UTF-8), base64url. Synchronous, so the one keyed state is never shared mid-use. */
  base64url(data: string): string {
    this.#hmac.reset().update(Buffer.from(data, "utf8")).finish(this.#mac);
    return this.#mac.toString("base64url");
  }
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
