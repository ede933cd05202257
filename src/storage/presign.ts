import type { ObjectRef } from "./object-store.js";

/**
 * Direct access to storage for clients, without the bytes passing through Sluice: presigned
 * URLs. Stores that can do this (S3) offer a Presigner; the filesystem store cannot, and
 * Sluice's own gateway serves those uploads instead.
 */
export interface Presigner {
  /**
   * A presigned PutObject. The signature binds the method, key and expiry, the content type,
   * the exact length and `If-None-Match: *` (so storage refuses a second PUT while the object
   * is in staging), and the SHA-256 when one is promised.
   */
  putUrl(ref: ObjectRef, options: PresignPutOptions): Promise<PresignedRequest>;
  /**
   * A presigned POST policy for browser forms: the key and content type are fixed, and the
   * length must be exactly `contentLength`.
   */
  postForm(ref: ObjectRef, options: PresignPostOptions): Promise<PresignedPost>;
  /** A presigned UploadPart of a multipart upload, binding the part's exact length when one is given. */
  partUrl(ref: ObjectRef, options: PresignPartOptions): Promise<string>;
  /**
   * A presigned GetObject that answers with the given `Content-Disposition`, type and
   * `Cache-Control`, whatever the object was stored with. These are all the response headers
   * S3 lets a URL set: `X-Content-Type-Options` and `Content-Security-Policy` cannot be.
   */
  getUrl(ref: ObjectRef, options: PresignGetOptions): Promise<string>;
  /** The origin (scheme, host, port) that URLs for this bucket point at: a web page must be allowed to connect there. */
  originOf(bucket: string): string;
}

interface Expiry {
  /** Seconds the URL stays valid, counted from `signingDate`. */
  expiresIn: number;
  /** Defaults to now. */
  signingDate?: Date;
}

export interface PresignPutOptions extends Expiry {
  contentType: string;
  contentLength: number;
  /** Hex SHA-256 the client promised; storage that checks `x-amz-checksum-sha256` refuses other bytes. */
  sha256?: string | undefined;
}

export interface PresignPartOptions extends Expiry {
  uploadId: string;
  partNumber: number;
  /** Undefined: any length (the client picks its part sizes; completion checks them). */
  contentLength: number | undefined;
}

export interface PresignPostOptions extends Expiry {
  contentType: string;
  /** Exactly this many bytes; or, with `lengthIsLimit`, from 0 to this many. */
  contentLength: number;
  lengthIsLimit?: boolean | undefined;
}

export interface PresignGetOptions extends Expiry {
  contentDisposition: string;
  contentType: string;
  cacheControl: string;
}

export interface PresignedRequest {
  url: string;
  /**
   * Headers the client must send as they are (they are signed). `Content-Length` is signed
   * too, but not listed: every HTTP client sets it, and browsers refuse to.
   */
  headers: Record<string, string>;
}

export interface PresignedPost {
  url: string;
  /** Form fields to send before the `file` field, which comes last. */
  fields: Record<string, string>;
}
