import type { ObjectRef } from "./object-store.js";

/**
 * The port for scoped temporary credentials (`"method": "credentials"`): credentials that may
 * upload one object and nothing else, for the client's own S3 SDK. The STS adapter
 * (`s3-credentials.ts`) implements it.
 */
export interface CredentialIssuer {
  /** Credentials that may only upload `ref`, for `durationSeconds` (clamped to what STS allows). */
  forUpload(ref: ObjectRef, options: { sessionName: string; durationSeconds: number }): Promise<ScopedCredentials>;
  /** Seconds a session may last: STS's minimum (900) and the role's maximum. */
  readonly minSeconds: number;
  readonly maxSeconds: number;
}

export interface ScopedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}
