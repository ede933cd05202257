import { forbidden, gone } from "../errors.js";
import type { Services } from "./services.js";

/**
 * URLs Sluice signs itself (gateway uploads, gateway parts, downloads through Sluice): each
 * signs the method, the id, the expiry and whatever else the URL binds, and is checked by
 * `verifyUrl` before any store is touched.
 */

/** The URL path of an upload's gateway endpoint. */
export const gatewayPath = (id: string) => `/v1/uploads/${id}/content`;

/** The URL path of one part of a multipart upload sent through the gateway. */
export const gatewayPartPath = (id: string, partNumber: number) => `/v1/uploads/${id}/parts/${partNumber}`;

/** `path` with the signature of `[method, id, expires, ...extra]`; `expires` is in whole seconds. */
export function signedUrl(s: Pick<Services, "config" | "signer">, path: string, parts: { method: string; id: string; expires: number; extra?: string[] }): string {
  const signature = s.signer.sign([parts.method, parts.id, String(parts.expires), ...(parts.extra ?? [])]);
  return `${s.config.publicUrl}${path}?expires=${parts.expires}&signature=${signature}`;
}

/** Checks a URL Sluice signed: the signature first, so that a forged expiry is never trusted. */
export function verifyUrl(s: Services, method: string, id: string, expires: string | undefined, signature: string | undefined, extra: string[] = []) {
  if (!expires || !signature || !/^\d{1,12}$/.test(expires)) {
    throw forbidden("invalid_signature", "The URL is missing its expiry or signature.");
  }
  if (!s.signer.verify([method, id, expires, ...extra], signature)) {
    throw forbidden("invalid_signature", "The URL's signature does not match.");
  }
  if (Number(expires) * 1000 <= s.now()) throw gone("expired", "The URL has expired.");
}
