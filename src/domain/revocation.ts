import { gone } from "../errors.js";
import type { Ticket } from "../tickets/ticket-store.js";
import { guard } from "./backend-calls.js";
import { abortMultipart } from "./part-plans.js";
import type { Services } from "./services.js";

/**
 * Whether API keys still stand. Revoking a key ends what it issued wherever Sluice sees it:
 * a gateway upload or part, a part URL, `complete`, an arrival (storage event, sweep,
 * `complete`), and downloads served through Sluice. Checked there, never at issue (a scoped
 * key's own request was just authenticated), so that `POST /v1/uploads` gains no call.
 */
export interface KeyLiveness {
  /** False for a stored key that was revoked, or a configured key no longer configured. Throws if the store is down. */
  isLive(keyId: string): Promise<boolean>;
}

export const KEY_REVOKED_REASON = "the API key that issued it was revoked before its bytes arrived";

/** Whether the key behind a ticket or URL still stands (`null`: issued by no key, nothing to revoke). */
export async function ownerIsLive(s: Services, ownerId: string | null | undefined): Promise<boolean> {
  if (!ownerId) return true;
  return guard("metadata store", () => s.keys.isLive(ownerId));
}

/**
 * Refuses an upload whose key was revoked before its bytes arrived, and ends it for good: the
 * ticket is revoked (the URL then reads `cancelled`), its open-upload slot freed, its parts
 * discarded. The caller must not hold a claim on the ticket (release it first).
 */
export async function endUploadOfRevokedKey(s: Services, ticket: Ticket): Promise<never> {
  await guard("ticket store", () => s.tickets.revoke(ticket.id));
  await s.limits.close(ticket).catch(() => undefined);
  if (ticket.multipart) await abortMultipart(s, ticket).catch(() => undefined); // else the sweep aborts it at expiry
  s.logger.info({ uploadId: ticket.id, keyId: ticket.ownerId }, "ended an upload whose API key was revoked");
  throw keyRevoked();
}

export const keyRevoked = () => gone("key_revoked", "The API key that issued this URL was revoked.");
