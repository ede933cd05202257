import type { MultipartPlan, Ticket } from "../tickets/ticket-store.js";
import { guard } from "./backend-calls.js";
import type { Services } from "./services.js";

/** S3's limits: at most 10,000 parts, each at least 5 MiB (all but the last) and at most 5 GiB. */
export const MAX_PARTS = 10_000;
export const MIN_PART_SIZE = 5 * 1024 ** 2;
const MAX_PART_SIZE = 5 * 1024 ** 3;
const MIB = 1024 ** 2;

/**
 * The part size for a file: the configured (or asked-for) size, grown in whole MiB when the
 * file would otherwise need more than 10,000 parts. A 5 TiB file gets 525 MiB parts.
 */
export function planParts(size: number, preferredPartSize: number): { partSize: number; partCount: number } {
  const smallest = Math.ceil(size / MAX_PARTS / MIB) * MIB;
  const partSize = Math.min(Math.max(preferredPartSize, smallest), MAX_PART_SIZE);
  return { partSize, partCount: Math.max(1, Math.ceil(size / partSize)) };
}

/** The length of one part: all are `partSize` but the last, which holds the rest. */
export function partLength(ticket: Ticket & { multipart: MultipartPlan }, partNumber: number): number {
  const { partSize, partCount } = ticket.multipart;
  return partNumber < partCount ? partSize : ticket.size - partSize * (partCount - 1);
}

/** Discards a multipart upload's parts in storage (cancel, expiry, a revoked key). Idempotent. */
export async function abortMultipart(s: Services, ticket: Ticket): Promise<void> {
  const plan = ticket.multipart;
  if (!plan) return;
  await guard("object store", () => s.objects.multipart.abort({ bucket: s.config.buckets.staging, key: ticket.key }, plan.uploadId));
}
