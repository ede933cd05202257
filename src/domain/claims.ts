import { conflict, gone, type SluiceError } from "../errors.js";
import { unref } from "../internal/timers.js";
import type { ClaimResult } from "../tickets/ticket-store.js";

/** The answer to a request whose ticket could not be claimed. */
export function refusal(reason: Exclude<ClaimResult, { ok: true }>["reason"]): SluiceError {
  switch (reason) {
    case "claimed":
      return conflict("upload_in_progress", "This URL is being used by another request right now.");
    case "consumed":
      return gone("already_used", "This upload URL has already been used.");
    case "revoked":
      return gone("cancelled", "This upload was cancelled.");
    case "expired":
      return gone("expired", "The URL has expired.");
    case "unknown":
      return gone("unknown_upload", "This upload URL is no longer valid.");
  }
}

/**
 * Keeps a lease alive while its holder works: renewed every third of the lease, so that two
 * renewals may fail before it lapses. The timer is unref'd (work in progress keeps the
 * process alive, not its lease), and a failed renewal is reported, never thrown: the holder
 * finds out when it next uses the lease. `when` skips a renewal (a gateway body that stalls).
 * Used for ticket claims (gateway uploads, multipart completion) and processing leases alike.
 */
export function keepLeaseAlive(options: {
  leaseMs: number;
  renew: () => Promise<unknown>;
  onError: (err: unknown) => void;
  when?: () => boolean;
}): { stop(): void } {
  const { renew, onError, when } = options;
  const timer = setInterval(() => {
    if (when && !when()) return;
    renew().catch(onError);
  }, options.leaseMs / 3);
  unref(timer);
  return { stop: () => clearInterval(timer) };
}
