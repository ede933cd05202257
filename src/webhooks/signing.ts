import { createHmac } from "node:crypto";

/**
 * Standard Webhooks signing: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under the
 * secret's bytes (the base64 after `whsec_`). Proved against the `standardwebhooks` package's
 * `Webhook.verify` in signing.test.ts.
 */
export function signatureOf(secret: string, message: { id: string; timestamp: number; body: string }): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const mac = createHmac("sha256", key).update(`${message.id}.${message.timestamp}.${message.body}`).digest("base64");
  return `v1,${mac}`;
}

/**
 * The three headers of one delivery. During a rotation's overlap both secrets sign, space
 * separated, so a receiver that has either verifies.
 */
export function webhookHeaders(secrets: readonly string[], message: { id: string; timestamp: number; body: string }): Record<string, string> {
  return {
    "webhook-id": message.id,
    "webhook-timestamp": String(message.timestamp),
    "webhook-signature": secrets.map((s) => signatureOf(s, message)).join(" "),
  };
}
