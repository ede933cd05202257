/**
 * Verifies a Sluice webhook on the app's own server, as Standard Webhooks defines it:
 * `webhook-signature` holds one or more `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
 * (two during a secret's rotation), under the bytes of the `whsec_` secret. Web Crypto only,
 * so it runs on Node, Deno, Bun, Workers and in browsers. The `standardwebhooks` package
 * does the same (our test checks the two agree).
 */

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

/** The Standard Webhooks payload Sluice sends. */
export interface WebhookEvent<T = Record<string, unknown>> {
  type: string;
  timestamp: string;
  /** The event's id, the same as `webhook-id`: dedupe by it. */
  id: string;
  /** 1, 2, … per upload. */
  seq: number;
  data: T;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string {
  const value = headers instanceof Headers ? headers.get(name) : headers[name] ?? headers[name.toLowerCase()];
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) throw new WebhookVerificationError(`Missing ${name} header`);
  return text;
}

function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Checks a delivery and returns its payload; throws WebhookVerificationError if the signature
 * does not match any of `secret`'s, or the timestamp is more than `toleranceSeconds` (default
 * 300) away from now. Pass the body exactly as received (the raw text, before any JSON parse).
 */
export async function verifyWebhook<T = Record<string, unknown>>(
  secret: string,
  body: string,
  headers: HeaderSource,
  options: { toleranceSeconds?: number; now?: Date } = {},
): Promise<WebhookEvent<T>> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  const seconds = Number(timestamp);
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError("Invalid webhook-timestamp");
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - seconds) > (options.toleranceSeconds ?? 300)) throw new WebhookVerificationError("webhook-timestamp is too far from now");
  const key = await globalThis.crypto.subtle.importKey("raw", base64ToBytes(secret.replace(/^whsec_/, "")), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const expected = new Uint8Array(await globalThis.crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${body}`)));
  for (const candidate of signatures.split(" ")) {
    const [version, mac] = candidate.split(",", 2);
    if (version !== "v1" || !mac) continue;
    let given: Uint8Array;
    try {
      given = base64ToBytes(mac);
    } catch {
      continue;
    }
    if (bytesEqual(given, expected)) return JSON.parse(body) as WebhookEvent<T>;
  }
  throw new WebhookVerificationError("No matching signature");
}
