/**
 * Client file names are kept as given in metadata, but never used as-is in a storage key
 * or a header. These turn them into safe forms.
 */
const MAX_KEY_NAME = 120;

/** Characters no file name should hold: NUL, C0/C1 controls, DEL, and bidi overrides. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex
const FORBIDDEN_ALL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export function hasForbiddenCharacters(name: string): boolean {
  return FORBIDDEN.test(name);
}

/** A key-safe name: the last path segment, ASCII letters, digits, `.`, `-` and `_`, at most 120 characters. */
export function safeKeyName(filename: string): string {
  // Most names are already safe (runs of letters and digits joined by single `.`, `-` or `_`):
  // such a name comes out of the rules below unchanged, so skip them. Proved equal in the tests.
  if (filename.length <= MAX_KEY_NAME && ALREADY_SAFE.test(filename)) return filename;
  return safeKeyNameSlow(filename);
}

/** A name every rule of `safeKeyNameSlow` leaves as it is. */
const ALREADY_SAFE = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/** The rules themselves; exported for the test that proves the fast path equal to them. */
export function safeKeyNameSlow(filename: string): string {
  const base = filename.normalize("NFKD").split(/[/\\]/).pop() ?? "";
  let safe = base
    .replace(/[\u0300-\u036f]/g, "") // strip combining accents: "é" → "e"
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/_+/g, "_")
    .replace(/_*\._*/g, ".") // "x_(y)_.pdf" reads better as "x_y.pdf"
    .replace(/^[._-]+/, "") // no hidden files, no "." or ".."
    .replace(/[._-]+$/, "");
  if (safe.length > MAX_KEY_NAME) {
    const dot = safe.lastIndexOf(".");
    const ext = dot > 0 && safe.length - dot <= 16 ? safe.slice(dot) : "";
    safe = safe.slice(0, MAX_KEY_NAME - ext.length).replace(/[._-]+$/, "") + ext;
  }
  return safe.length > 0 ? safe : "file";
}

/**
 * `Content-Disposition: attachment` with an ASCII fallback and the exact name in
 * RFC 5987/6266 `filename*`, so that no client name can inject a header or a path.
 */
export function attachmentDisposition(filename: string): string {
  const base = (filename.split(/[/\\]/).pop() ?? "").replace(FORBIDDEN_ALL, "");
  const ascii = safeKeyName(base).replace(/"/g, "");
  const encoded = encodeURIComponent(base.length > 0 ? base : ascii).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
