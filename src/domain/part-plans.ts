import type { MultipartPlan, Ticket } from "../tickets/ticket-store.js";
import { guard } from "./backend-calls.js";
import type { Services } from "./services.js";

/** S3's limits: at most 10,000 parts, each at least 5 MiB (all but the last) and at most 5 GiB. */
export const MAX_PARTS = 10_000;
export const MIN_PART_SIZE = 5 * 1024 ** 2;
export const MAX_PART_SIZE = 5 * 1024 ** 3;
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

/**
 * The plan of parts whose sizes the client picks (its size unknown, `sizeIsLimit`): the largest
 * part S3 takes (or the limit, if smaller), and as many parts as could fit in the limit, since
 * every part but the last must be at least 5 MiB.
 */
export function openPartPlan(limit: number): { partSize: number; partCount: number } {
  return { partSize: Math.max(1, Math.min(limit, MAX_PART_SIZE)), partCount: Math.min(MAX_PARTS, Math.max(1, Math.ceil(limit / MIN_PART_SIZE))) };
}

/**
 * The length of one part: all are `partSize` but the last, which holds the rest. Undefined
 * when the client picks the sizes (`sizeIsLimit`): the part is at most `partSize`.
 */
export function plannedPartLength(ticket: Ticket & { multipart: MultipartPlan }, partNumber: number): number | undefined {
  return ticket.sizeIsLimit ? undefined : partLength(ticket, partNumber);
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
