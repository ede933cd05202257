import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, HttpRequest } from "@smithy/types";
import type { ObjectRef } from "./object-store.js";
import type { PresignGetOptions, PresignPartOptions, PresignPostOptions, PresignPutOptions, PresignedPost, PresignedRequest, Presigner } from "./presign.js";
import type { S3StoreOptions } from "./s3.js";

const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
/** Headers the client must send itself: kept out of the query string, and signed. */
const UNHOISTABLE = new Set(["x-amz-checksum-sha256"]);

export interface S3PresignerOptions {
  store: S3StoreOptions;
  /** What the SDK's client would sign with: the configured keys, or the default provider chain. */
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /**
   * POST forms, signed by the SDK's `createPresignedPost` (`presignPostForm` in s3.ts). It
   * takes an S3 client, so it is passed in: where the client is loaded on first use, so is this.
   */
  postForm: Presigner["postForm"];
}

/**
 * Presigned S3 URLs, signed with `@smithy/signature-v4` directly rather than by sending a
 * command through the full client (`getSignedUrl`), which costs ten times as much per URL,
 * and needs no S3 client loaded. `s3-presign.test.ts` proves the URLs equal to
 * `getSignedUrl`'s for the same request.
 */
export class S3Presigner implements Presigner {
  readonly #postForm: Presigner["postForm"];
  readonly #signer: SignatureV4;
  readonly #base: (bucket: string) => URL;

  constructor(options: S3PresignerOptions) {
    this.#postForm = options.postForm;
    this.#signer = new SignatureV4({
      credentials: options.credentials,
      region: options.store.region,
      service: "s3",
      sha256: Sha256,
      // S3 signs the path exactly as sent: the key is encoded once, below, and not again.
      uriEscapePath: false,
    });
    this.#base = bucketUrl(options.store);
  }

  originOf(bucket: string): string {
    return this.#base(bucket).origin;
  }

  async putUrl(ref: ObjectRef, options: PresignPutOptions): Promise<PresignedRequest> {
    const headers: Record<string, string> = { "content-type": options.contentType, "if-none-match": "*" };
    if (options.sha256) headers["x-amz-checksum-sha256"] = Buffer.from(options.sha256, "hex").toString("base64");
    const url = await this.#presign("PUT", ref, { ...headers, "content-length": String(options.contentLength) }, { "x-id": "PutObject" }, options);
    return { url, headers };
  }

  partUrl(ref: ObjectRef, options: PresignPartOptions): Promise<string> {
    const length: Record<string, string> = options.contentLength === undefined ? {} : { "content-length": String(options.contentLength) };
    return this.#presign("PUT", ref, length, {
      partNumber: String(options.partNumber),
      uploadId: options.uploadId,
      "x-id": "UploadPart",
    }, options);
  }

  async getUrl(ref: ObjectRef, options: PresignGetOptions): Promise<string> {
    // S3 lets a presigned GET override these response headers and no others: no nosniff, no CSP.
    return this.#presign("GET", ref, {}, {
      "response-cache-control": options.cacheControl,
      "response-content-disposition": options.contentDisposition,
      "response-content-type": options.contentType,
      "x-id": "GetObject",
    }, options);
  }

  postForm(ref: ObjectRef, options: PresignPostOptions): Promise<PresignedPost> {
    return this.#postForm(ref, options);
  }

  async #presign(method: string, ref: ObjectRef, headers: Record<string, string>, query: Record<string, string>, expiry: { expiresIn: number; signingDate?: Date }): Promise<string> {
    const base = this.#base(ref.bucket);
    const path = `${base.pathname.replace(/\/$/, "")}/${ref.key.split("/").map(encodeRfc3986).join("/")}`;
    const request: HttpRequest = {
      method,
      protocol: base.protocol,
      hostname: base.hostname,
      ...(base.port && { port: Number(base.port) }),
      path,
      query,
      // Spelled as the SDK spells it, so that the URLs are byte for byte the same as getSignedUrl's.
      headers: { ...headers, host: base.host, "X-Amz-Content-Sha256": UNSIGNED_PAYLOAD },
    };
    const signed = await this.#signer.presign(request, {
      expiresIn: expiry.expiresIn,
      ...(expiry.signingDate && { signingDate: expiry.signingDate }),
      unhoistableHeaders: UNHOISTABLE,
    });
    return `${base.protocol}//${base.host}${path}?${queryString(signed.query)}`;
  }
}

/**
 * Where a bucket's objects live: path style on a custom endpoint if asked, virtual-hosted
 * otherwise. As the SDK's endpoint rules have it, an endpoint that is an IP address cannot
 * take a bucket as a subdomain, so it is always path style.
 */
function bucketUrl(options: S3StoreOptions): (bucket: string) => URL {
  if (options.endpoint) {
    const endpoint = new URL(options.endpoint);
    const ipHost = /^\d+\.\d+\.\d+\.\d+$/.test(endpoint.hostname) || endpoint.hostname.startsWith("[");
    return (bucket) => {
      if (options.forcePathStyle || ipHost || bucket.includes(".")) return new URL(`${endpoint.origin}${endpoint.pathname.replace(/\/$/, "")}/${bucket}`);
      return new URL(`${endpoint.protocol}//${bucket}.${endpoint.host}${endpoint.pathname}`);
    };
  }
  const host = `s3.${options.region}.amazonaws.com`;
  return (bucket) => new URL(options.forcePathStyle || bucket.includes(".") ? `https://${host}/${bucket}` : `https://${bucket}.${host}/`);
}

/** RFC 3986 encoding, as S3 and SigV4 expect it (`encodeURIComponent` leaves `!'()*` alone). */
function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function queryString(query: HttpRequest["query"] = {}): string {
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    for (const v of Array.isArray(value) ? value : [value]) {
      parts.push(v === null || v === undefined ? encodeRfc3986(key) : `${encodeRfc3986(key)}=${encodeRfc3986(v)}`);
    }
  }
  return parts.join("&");
}
