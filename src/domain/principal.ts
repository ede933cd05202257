import type { KeyScope } from "../metadata/metadata-store.js";

/** Who is calling: the API key that authenticated the request, and what it may do. */
export interface Principal {
  keyId: string;
  /** Absent for a full key (configured, or stored without a scope). */
  scope?: KeyScope | undefined;
}
