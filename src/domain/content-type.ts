import { once } from "../internal/async.js";

/** How many leading bytes type detection reads. file-type needs at most this many for its signatures. */
export const SNIFF_BYTES = 4100;

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

/** Common aliases clients send, mapped to the names file-type reports. */
const ALIASES: Record<string, string> = {
  "image/jpg": "image/jpeg",
  "image/pjpeg": "image/jpeg",
  "image/x-png": "image/png",
  "audio/mp3": "audio/mpeg",
  "audio/x-wav": "audio/wav",
  "audio/wave": "audio/wav",
  "video/x-m4v": "video/mp4",
  "application/x-zip-compressed": "application/zip",
  "application/x-pdf": "application/pdf",
  "image/x-icon": "image/vnd.microsoft.icon",
  "application/gzip": "application/gzip",
  "application/x-gzip": "application/gzip",
};

/** Detected types that several declared types legitimately share (zip-based documents, for example). */
const CONTAINERS: Record<string, readonly string[]> = {
  "application/zip": [
    "application/java-archive",
    "application/epub+zip",
    "application/vnd.android.package-archive",
  ],
  "application/x-cfb": ["application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint", "application/vnd.ms-outlook"],
  "application/xml": ["text/xml", "image/svg+xml"],
};

/** Types file-type finds only when a marker is present (`<?xml`), so their absence proves nothing. */
const OPTIONAL_MARKERS = new Set(["application/xml", "text/xml"]);
/**
 * file-type, loaded on first use: only processing sniffs, so a function that only issues
 * uploads (the Lambda issuer) never loads it. A failed load is tried again by the next sniff.
 * Marked pure so that bundles which never sniff (Lambda@Edge) drop it, file-type included.
 */
const loadDetector = /* @__PURE__ */ once(() =>
  import("file-type").then(({ fileTypeFromBuffer, supportedMimeTypes }) => ({
    fileTypeFromBuffer,
    detectable: new Set<string>([...supportedMimeTypes].filter((t) => !OPTIONAL_MARKERS.has(t))),
  })),
);

/** Looks like markup a browser would run as HTML. */
const HTML_START = /^\s*(<!doctype\s+html|<html|<head|<body|<script|<iframe|<svg[\s>]|<\?xml[^>]*>\s*<svg)/i;

export type SniffVerdict = { ok: true; contentType: string } | { ok: false; reason: string; detected: string | undefined };

/**
 * Decides the real type of a file from its first bytes. The declared type can be spoofed, so:
 * - a type the detector recognises must agree with the declared one;
 * - a declared binary format the detector knows, but cannot find, is a mismatch;
 * - text the detector cannot classify keeps its declared type, unless it is HTML or script
 *   declared as something else.
 * `application/octet-stream` declares nothing and takes whatever is detected.
 */
export async function sniffContentType(head: Uint8Array, declaredType: string): Promise<SniffVerdict> {
  const declared = ALIASES[mediaTypeEssence(declaredType)] ?? mediaTypeEssence(declaredType);
  const { fileTypeFromBuffer, detectable } = await loadDetector();
  const detected = head.length > 0 ? (await fileTypeFromBuffer(head))?.mime : undefined;

  if (detected) {
    if (declared === "application/octet-stream" || detected === declared) return { ok: true, contentType: detected };
    if (CONTAINERS[detected]?.includes(declared)) return { ok: true, contentType: declared };
    return { ok: false, detected, reason: `declared ${declared} but the content is ${detected}` };
  }
  if (declared !== "application/octet-stream" && detectable.has(declared)) {
    return { ok: false, detected: undefined, reason: `declared ${declared} but the content is not ${declared}` };
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(head.subarray(0, 1024));
  if (HTML_START.test(text) && declared !== "text/html" && declared !== "image/svg+xml" && declared !== "application/xhtml+xml") {
    return { ok: false, detected: "text/html", reason: `declared ${declared} but the content is HTML` };
  }
  return { ok: true, contentType: declared };
}
