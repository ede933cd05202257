import { once } from "../internal/async.js";
import { isTypeAllowed, mediaTypeEssence } from "./media-types.js";

/** How many leading bytes type detection reads. file-type needs at most this many for its signatures. */
export const SNIFF_BYTES = 4100;

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

/**
 * How a verdict's type was established:
 * - `signature`: file-type found the format's magic bytes;
 * - `markup`: the bytes are HTML or SVG, declared as such;
 * - `validated`: a type no signature can prove (UNDETECTABLE_TYPES) passed its own check;
 * - `declared`: nothing could be checked, and the type is the client's word.
 * An allow-list admits only the first three (see `isContentAllowed`).
 */
export type Identification = "signature" | "markup" | "validated" | "declared";

export type SniffVerdict =
  | { ok: true; contentType: string; identifiedBy: Identification }
  | { ok: false; reason: string; detected: string | undefined };

/** Types browsers run as documents: the only ones HTML or SVG content may be declared as. */
const MARKUP_TYPES = new Set(["text/html", "application/xhtml+xml", "image/svg+xml"]);

/**
 * Sniffs only what browsers would run: HTML, SVG, and XML that carries script. Plain XML,
 * and text that merely mentions a tag later on, is not markup here.
 */
export type Markup = "text/html" | "image/svg+xml" | "application/xml";

/**
 * Decides the real type of a file from its first bytes. The declared type can be spoofed, so:
 * - HTML, SVG and XML with script (sniffed the way browsers do, and more strictly) must be
 *   declared as HTML or SVG, whatever the detector says;
 * - a type the detector recognises must agree with the declared one;
 * - a declared binary format the detector knows, but cannot find, is a mismatch;
 * - anything else keeps its declared type: `validated` if it is one of UNDETECTABLE_TYPES and
 *   passes that type's check, `declared` if nothing could be checked.
 * `application/octet-stream` declares nothing and takes whatever is detected.
 * `complete` says whether `head` is the whole file (a check of a prefix can prove less).
 */
export async function sniffContentType(head: Uint8Array, declaredType: string, options: { complete?: boolean } = {}): Promise<SniffVerdict> {
  const complete = options.complete ?? true;
  const declared = ALIASES[mediaTypeEssence(declaredType)] ?? mediaTypeEssence(declaredType);
  const markup = sniffMarkup(head);
  if (markup) {
    if (MARKUP_TYPES.has(declared)) return { ok: true, contentType: declared, identifiedBy: "markup" };
    const what = markup === "text/html" ? "HTML" : markup === "image/svg+xml" ? "SVG" : "XML with script";
    return { ok: false, detected: markup, reason: `declared ${declared} but the content is ${what}` };
  }
  const { fileTypeFromBuffer, detectable } = await loadDetector();
  const detected = head.length > 0 ? (await fileTypeFromBuffer(head))?.mime : undefined;

  if (detected) {
    if (declared === "application/octet-stream" || detected === declared) return { ok: true, contentType: detected, identifiedBy: "signature" };
    if (CONTAINERS[detected]?.includes(declared)) return { ok: true, contentType: declared, identifiedBy: "signature" };
    return { ok: false, detected, reason: `declared ${declared} but the content is ${detected}` };
  }
  if (declared !== "application/octet-stream" && detectable.has(declared)) {
    return { ok: false, detected: undefined, reason: `declared ${declared} but the content is not ${declared}` };
  }
  const validate = UNDETECTABLE_TYPES[declared];
  const identifiedBy = validate?.(head, complete) ? "validated" : "declared";
  return { ok: true, contentType: declared, identifiedBy };
}

/**
 * Whether an allow-list (SLUICE_ALLOWED_TYPES, or a key's scope) admits a sniffed file. A list
 * that allows everything (`*\/*`) takes any type, as declared. Any narrower list admits only
 * a type that was established from the content (a signature, markup, or a validator): a type
 * nothing can check (`image/x-foo`) is the client's word, and would let anything through a
 * list such as `image/*`. The one exception is `application/octet-stream` listed by name:
 * that declares nothing, and is what an operator lists to take arbitrary binaries.
 */
export function isContentAllowed(verdict: { contentType: string; identifiedBy: Identification }, allowed: readonly string[]): boolean {
  if (allowed.includes("*/*")) return true;
  if (!isTypeAllowed(verdict.contentType, allowed)) return false;
  if (verdict.identifiedBy !== "declared") return true;
  return verdict.contentType === "application/octet-stream" && allowed.includes("application/octet-stream");
}

/**
 * Types no signature can prove, each with the check that stands in for one. Processing reads
 * only the first SNIFF_BYTES, so a check sees a prefix of a larger file: text is checked as
 * far as it is read, and JSON is parsed whole only when the whole file was read (a larger one
 * must at least start as an object or array).
 */
export const UNDETECTABLE_TYPES: Readonly<Record<string, (head: Uint8Array, complete: boolean) => boolean>> = {
  "text/plain": (head, complete) => textOf(head, complete) !== undefined,
  "text/csv": (head, complete) => textOf(head, complete) !== undefined,
  "text/markdown": (head, complete) => textOf(head, complete) !== undefined,
  "application/json": (head, complete) => {
    const text = textOf(head, complete);
    if (text === undefined) return false;
    if (!complete) return /^\s*[[{]/.test(text);
    try {
      JSON.parse(text);
      return true;
    } catch {
      return false;
    }
  },
};

/**
 * The bytes as text, if they are UTF-8 (a BOM allowed) with no NUL or other control character
 * but tab, line feed, vertical tab, form feed and carriage return. A prefix may end inside a
 * character; that character is left out.
 */
function textOf(head: Uint8Array, complete: boolean): string | undefined {
  let bytes = hasBom(head, UTF8_BOM) ? head.subarray(3) : head;
  if (!complete) bytes = bytes.subarray(0, wholeCharactersEnd(bytes));
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what text must not hold
  return /[\0-\x08\x0E-\x1F\x7F]/.test(text) ? undefined : text;
}

/** Where the last whole UTF-8 character ends: a prefix cut inside a character loses that character. */
function wholeCharactersEnd(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];
const UTF16BE_BOM = [0xfe, 0xff];
const UTF16LE_BOM = [0xff, 0xfe];
const hasBom = (bytes: Uint8Array, bom: readonly number[]) => bom.every((b, i) => bytes[i] === b);

/**
 * The head as text for the markup sniffer: UTF-16 when it starts with a UTF-16 BOM (a browser
 * decodes such a page as UTF-16, and its markup is otherwise hidden between NUL bytes), else
 * UTF-8 with replacement characters for what is not. Decoded by hand, since not every runtime's
 * TextDecoder knows UTF-16BE.
 */
function markupText(head: Uint8Array): string {
  const bigEndian = hasBom(head, UTF16BE_BOM);
  if (bigEndian || hasBom(head, UTF16LE_BOM)) {
    const units: number[] = [];
    for (let i = 2; i + 1 < head.length; i += 2) units.push(bigEndian ? (head[i]! << 8) | head[i + 1]! : head[i]! | (head[i + 1]! << 8));
    let text = "";
    for (let i = 0; i < units.length; i += 4096) text += String.fromCharCode(...units.slice(i, i + 4096));
    return text;
  }
  return new TextDecoder("utf-8").decode(hasBom(head, UTF8_BOM) ? head.subarray(3) : head);
}

/**
 * The WHATWG MIME Sniffing standard's HTML patterns ("rules for identifying an unknown MIME
 * type"): after leading whitespace bytes, one of these, case-insensitively, followed by a
 * tag-terminating byte (a space or `>`).
 */
const WHATWG_HTML = /^[\t\n\f\r ]*<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--)[ >]/i;

/** Elements that make a document HTML when it starts with one (the standard's list and more). */
const HTML_ELEMENTS = new Set(
  (
    "html head body script iframe frame frameset object embed applet h1 h2 h3 h4 h5 h6 div span font table a style " +
    "title b i u br p meta link base form input button textarea select img video audio picture math template noscript " +
    "xmp plaintext marquee isindex details dialog section article main nav header footer ul ol li pre code"
  ).split(" "),
);

/** In an XML document: script, embedded documents, event handlers, or the XHTML namespace (whose script elements run). */
const XML_SCRIPT = /<(?:[\w.-]+:)?(?:script|iframe|object|embed|html|svg|foreignobject)[\s/>]|http:\/\/www\.w3\.org\/1999\/xhtml|<[^>]*[\s/"']on[a-z]+\s*=/i;

/**
 * What markup a browser could run in these bytes, if any. Stricter than the standard: besides
 * its table, it skips any run of whitespace (of any kind), comments, processing instructions
 * (`<?xml …?>`) and doctypes, and looks at the first element. An HTML element there makes
 * HTML, `<svg>` makes SVG (script or not: SVG runs script), and any other first element makes
 * XML, which counts only if script, an event handler or an embedded document follows in the
 * bytes read. A comment or doctype left open at the end of the bytes hides what follows, so
 * it counts as HTML. Text that starts as text is not markup, whatever it mentions later.
 */
export function sniffMarkup(head: Uint8Array): Markup | undefined {
  const text = markupText(head);
  if (WHATWG_HTML.test(text)) return "text/html";
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text.startsWith("<!--", i)) {
      const end = text.indexOf("-->", i + 4);
      if (end < 0) return "text/html";
      i = end + 3;
    } else if (/^<!doctype\b/i.test(text.slice(i, i + 9))) {
      const end = text.indexOf(">", i);
      const doctype = text.slice(i, end < 0 ? undefined : end).toLowerCase();
      if (doctype.includes("svg")) return "image/svg+xml";
      if (end < 0 || doctype.includes("html")) return "text/html";
      i = end + 1;
    } else if (text.startsWith("<?", i) || text.startsWith("<!", i) || text.startsWith("</", i)) {
      // A processing instruction, a bogus comment or an end tag: an HTML parser skips it up to
      // the first `>` (not `?>`), and so does this, so that `<?><script>` is not missed.
      const end = text.indexOf(">", i + 2);
      if (end < 0) break; // source code such as `<?php …` that never closes: not a document prolog
      i = end + 1;
    } else break;
  }
  const element = /^<([a-z][\w.:-]*)[\s/>]/i.exec(text.slice(i, i + 128))?.[1]?.toLowerCase();
  if (element === undefined) return undefined;
  const local = element.slice(element.lastIndexOf(":") + 1);
  if (local === "svg") return "image/svg+xml";
  if (HTML_ELEMENTS.has(local)) return "text/html";
  return XML_SCRIPT.test(text.slice(i)) ? "application/xml" : undefined;
}
