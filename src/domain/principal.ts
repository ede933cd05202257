import type { KeyScope } from "../metadata/metadata-store.js";

/**
 * Who is calling: an API key, or a browser upload token minted by one (`domain/tokens.ts`).
 * A token's principal carries its minting key's id, so that the key's rate limits, quotas and
 * revocation hold for everything the token does, and a scope that lies within the key's.
 */
export interface Principal {
  kind: "key" | "token";
  /** The API key that authenticated the request, or that minted the token. */
  keyId: string;
  /** Absent for a full key (configured, or stored without a scope). A token always has one. */
  scope?: KeyScope | undefined;
  /** Set for a browser upload token: what it alone binds. */
  token?: TokenGrant | undefined;
}

export interface TokenGrant {
  /** `tok_…`: names the token in logs and in the uploads it issued (never the token itself). */
  id: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** How many uploads it may issue in its life; absent: no count beyond the key's own limits. */
  maxUploads?: number | undefined;
  /** Metadata every upload it issues carries, which the browser cannot change. */
  metadata: Record<string, string>;
}
