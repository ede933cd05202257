import { z } from "zod";
import { BackendUnavailableError } from "../errors.js";
import { hmacHex, safeEqual } from "../internal/crypto.js";
import { isSafeObjectKey } from "../storage/object-store.js";
import { arrivedInStaging, type ArrivalOutcome } from "./arrivals.js";
import type { Services } from "./services.js";

/**
 * An S3 event notification, as AWS sends it (to Lambda, SQS or SNS) and as Ceph RGW and MinIO
 * push it (`eventSource: "ceph:s3"` / `"minio:s3"`). Only the fields Sluice reads are checked;
 * the rest pass through.
 */
const S3EventRecord = z.looseObject({
  eventSource: z.string().optional(),
  eventName: z.string(),
  s3: z.looseObject({
    bucket: z.looseObject({ name: z.string() }),
    object: z.looseObject({ key: z.string() }),
  }),
});
export const S3EventSchema = z.union([
  z.looseObject({ Records: z.array(S3EventRecord) }),
  // What AWS sends when notifications are first configured.
  z.looseObject({ Event: z.literal("s3:TestEvent") }).transform(() => ({ Records: [] })),
]);
export type S3Event = z.infer<typeof S3EventSchema>;

export interface EventResult {
  eventName: string;
  bucket: string;
  key: string;
  outcome: ArrivalOutcome | "ignored" | "invalid_key" | "unavailable";
}

/**
 * Object keys in S3 events are URL-encoded with `+` for a space (form encoding), whatever
 * the sender. `undefined` for a key that does not decode.
 */
export function decodeEventKey(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

/**
 * Handles every record of an event, each on its own: a record for another bucket or another
 * kind of event is ignored, and one record's failure does not stop the rest. A record whose
 * key does not decode, or is not a safe key (`../`, empty or control-character segments:
 * nothing Sluice issues), is skipped as `invalid_key`, logged and counted, and storage is never
 * asked about it: retrying it could never help, so it must not fail the others. Idempotent, so
 * a sender may deliver the same event again and again, late and out of order. Throws
 * BackendUnavailableError if any record could not be handled, after trying them all, so that
 * the sender retries the event (the records already handled are then harmless repeats).
 * Every entry point (the HTTP route, Lambda's S3 and SQS handlers, Workers) comes through here.
 */
export async function handleStorageEvent(s: Services, event: S3Event): Promise<EventResult[]> {
  const results: EventResult[] = [];
  let unavailable: unknown;
  for (const record of event.Records) {
    const bucket = record.s3.bucket.name;
    const key = decodeEventKey(record.s3.object.key);
    const base = { eventName: record.eventName, bucket, key: key ?? record.s3.object.key };
    if (key === undefined || !isSafeObjectKey(key)) {
      s.logger.warn({ bucket, key: base.key.slice(0, 200), eventName: record.eventName }, "ignored a storage event record whose key Sluice could never have issued");
      s.metrics.eventRecordsIgnored.inc({ reason: "invalid_key" });
      results.push({ ...base, outcome: "invalid_key" });
      continue;
    }
    // "ObjectCreated:Put" from AWS and RGW, "s3:ObjectCreated:Put" from MinIO.
    if (bucket !== s.config.buckets.staging || !/^(s3:)?ObjectCreated:/.test(record.eventName)) {
      results.push({ ...base, outcome: "ignored" });
      continue;
    }
    try {
      results.push({ ...base, outcome: await arrivedInStaging(s, key, { via: "event" }) });
    } catch (err) {
      s.logger.warn({ err, key }, "could not handle a storage event; the sender should retry it");
      unavailable ??= err;
      results.push({ ...base, outcome: "unavailable" });
    }
  }
  if (unavailable !== undefined) throw unavailable instanceof BackendUnavailableError ? unavailable : new BackendUnavailableError("object store", unavailable);
  return results;
}

/**
 * Whether an event comes from storage configured with Sluice's events secret. Senders differ
 * in what they can send, so any one of these will do:
 * - `Authorization: Bearer <secret>` (MinIO's webhook `auth_token`, proxies, scripts);
 * - `Authorization: Basic` with the secret as the password (user info in the push-endpoint
 *   URL, which is what Ceph RGW can send; `sluice setup` configures that);
 * - `X-Sluice-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (the secret never travels);
 * - with no such header, the secret as every record's `opaqueData`: what Ceph RGW copies into
 *   each record from its topic (`sluice setup` sets it), since RGW sends no headers of its own
 *   and refuses credentials in a plain-HTTP push endpoint.
 * Every comparison is constant-time.
 */
export function isAuthenticEvent(
  secret: string,
  headers: { authorization?: string | undefined; signature?: string | undefined },
  body: string,
  parsed: unknown,
): boolean {
  const { authorization, signature } = headers;
  if (signature !== undefined) {
    const given = /^sha256=([0-9a-f]{64})$/i.exec(signature.trim())?.[1];
    return given !== undefined && safeEqual(hmacHex(secret, body), given.toLowerCase());
  }
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
  if (bearer !== undefined) return safeEqual(bearer, secret);
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization ?? "")?.[1];
  if (basic !== undefined) {
    const decoded = Buffer.from(basic, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon >= 0 && safeEqual(decoded.slice(colon + 1), secret);
  }
  if (authorization !== undefined) return false;
  const records = (parsed as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records) || records.length === 0) return false;
  return records.every((r) => {
    const opaque = (r as { opaqueData?: unknown } | null)?.opaqueData;
    return typeof opaque === "string" && safeEqual(opaque, secret);
  });
}
