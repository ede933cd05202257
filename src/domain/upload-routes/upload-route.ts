/**
 * One shape for every way of uploading. A route turns an issued ticket into the client's
 * instructions (a URL to PUT to, a form to POST, scoped credentials); a part route signs the
 * parts of a multipart upload. Which routes serve is decided once, at assembly, from the
 * upload mode, the storage and the backends (`chooseUploadRoutes`); issuing never asks again.
 */
import type { Config } from "../../config.js";
import type { SluiceError } from "../../errors.js";
import type { Presigner } from "../../storage/presign.js";
import type { CredentialIssuer } from "../../storage/credential-issuer.js";
import type { MultipartPlan, Ticket } from "../../tickets/ticket-store.js";
import type { Services } from "../services.js";

/** What a client asks for: a PUT, a POST form, scoped credentials for its own S3 client, or a tus upload URL. */
export type UploadMethod = "PUT" | "POST" | "credentials" | "tus";

export interface UploadRequest {
  filename: string;
  contentType: string;
  size: number;
  sha256?: string | undefined;
  metadata?: Record<string, string> | undefined;
  /** Seconds; clamped to the configured bounds. */
  expiresIn?: number | undefined;
  /** `POST` asks for a presigned POST policy, `credentials` for scoped STS credentials (direct mode only). */
  method?: UploadMethod | undefined;
  /** For a multipart upload: the part size the client would like (it grows if the file needs more than 10,000 parts). */
  partSize?: number | undefined;
}

export interface UploadInstructions {
  /** PATCH: a tus upload URL (tus 1.0.0), for a tus client's `uploadUrl`. */
  method: "PUT" | "POST" | "PATCH";
  url: string;
  headers: Record<string, string>;
  /** POST only: form fields, sent before the `file` field. */
  fields?: Record<string, string>;
}

/** Credentials that may upload one staging key and nothing else, for the client's own S3 SDK. */
export interface CredentialInstructions {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Epoch milliseconds; the ticket expires with them. */
  expiresAt: number;
  bucket: string;
  key: string;
  region: string;
  /** The S3 endpoint, when it is not AWS's own. */
  endpoint?: string;
  forcePathStyle: boolean;
  /** The Content-Type to send: processing checks the object against it. */
  contentType: string;
}

/** A route's answer for a single upload. */
export type RouteInstructions = { upload: UploadInstructions; credentials?: undefined } | { upload?: undefined; credentials: CredentialInstructions };

/**
 * A single upload gets instructions for its one request; a multipart upload gets its plan,
 * and asks for part URLs; a `credentials` upload gets scoped credentials and sends the file
 * with its own S3 client.
 */
export type IssuedUpload =
  | { ticket: Ticket; upload: UploadInstructions; multipart?: undefined; credentials?: undefined }
  | { ticket: Ticket; upload?: undefined; multipart: { partSize: number; partCount: number }; credentials?: undefined }
  | { ticket: Ticket; upload?: undefined; multipart?: undefined; credentials: CredentialInstructions };

/** One way of sending a single upload's bytes. */
export interface UploadRoute {
  /** For logs and docs: `gateway`, `presigned-put`, … */
  readonly name: string;
  /**
   * Whether a file above the multipart threshold gets a part plan from Sluice. False where the
   * client's own tool picks one request or parts (scoped credentials).
   */
  readonly plansParts: boolean;
  /** Origins a web page sends this route's bytes to (its Content-Security-Policy allows them). Sluice's own origin goes without saying. */
  readonly browserOrigins: readonly string[];
  /** Refuses a single-upload request this route cannot carry, before anything is counted or stored. */
  check?(request: UploadRequest): void;
  /** How long the ticket (and what it hands out) lives, from what the client asked: seconds. */
  ttlSeconds(requested: number | undefined): number;
  /**
   * The client's instructions. `storeTicket` stores the ticket: a route that must obtain
   * something first (credentials from STS) calls it after that, and may lengthen the ticket
   * before it does; every other route calls it first, and signs only a stored ticket.
   */
  instruct(s: Services, ticket: Ticket, options: { ttlSeconds: number; storeTicket: () => Promise<void> }): Promise<RouteInstructions>;
}

export interface PartInstructions {
  partNumber: number;
  method: "PUT";
  url: string;
  headers: Record<string, string>;
  expiresAt: number;
}

/** Where the parts of a multipart upload go, and how their URLs are signed. */
export interface PartRoute {
  readonly name: string;
  readonly browserOrigins: readonly string[];
  /**
   * One part's URL, binding its exact length. `expires` is the last whole second it may be
   * used in, never past the upload's own expiry; `now` is when it is signed.
   */
  partUrl(s: Services, ticket: Ticket & { multipart: MultipartPlan }, part: { partNumber: number; contentLength: number; expires: number; now: number }): Promise<PartInstructions>;
}

/** What routes are chosen from. */
export interface RouteContext {
  config: Config;
  presigner: Presigner | undefined;
  credentials: CredentialIssuer | undefined;
}

/**
 * A registered way of uploading. At assembly each definition says whether it serves under the
 * configuration (and how), by returning its route, or undefined.
 */
export interface UploadRouteDefinition {
  readonly name: string;
  /** The method a single upload asks for to take this route. */
  readonly method?: UploadMethod;
  /** The refusal for a request that asks for this method when no route serves it here. */
  readonly unavailable?: () => SluiceError;
  single?(context: RouteContext): UploadRoute | undefined;
  parts?(context: RouteContext): PartRoute | undefined;
}

/** The ticket lifetime of a route that hands out a URL: as asked, within the configured bounds. */
export function urlTtlSeconds(config: Pick<Config, "urlTtlSeconds" | "urlTtlMaxSeconds">, requested: number | undefined): number {
  return Math.min(Math.max(requested ?? config.urlTtlSeconds, 1), config.urlTtlMaxSeconds);
}
