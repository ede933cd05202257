import { createHash } from "node:crypto";

/** A valid 1×1 PNG. */
export const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
export const HTML = Buffer.from("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>");
export const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

export function uploadRequest(data: Uint8Array, overrides: Record<string, unknown> = {}) {
  return { filename: "cat.png", contentType: "image/png", size: data.byteLength, ...overrides };
}
