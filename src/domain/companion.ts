/**
 * Uppy Companion's S3 protocol (what `@uppy/aws-s3` calls with `companionEndpoint`), on
 * Sluice's own uploads: every Companion upload is a one-time Sluice upload with the same
 * ticket, limits, sniffing, archive and status. Companion's `uploadId` is Sluice's upload id
 * and its `key` the upload's object key; both come back from the client, so each call finds
 * the upload by id, holds it to the caller's key scope, and checks the key against it.
 */
import { notFound } from "../errors.js";
import type { Principal } from "./principal.js";
import { issueUpload } from "./issue.js";
import { requireWithinKeyPrefix } from "./scopes.js";
import type { Services } from "./services.js";
import { signedUrl } from "./signed-urls.js";
import { isUploadId } from "./upload-keys.js";
import { getUploadStatus, type UploadStatus } from "./upload-status.js";
import { MAX_VERDICT_WAIT_SECONDS } from "./verdict.js";

/** What Uppy says about a file before sending it: never its size. */
export interface CompanionFile {
  filename: string;
  contentType: string;
  metadata: Record<string, string>;
}

/** The URL path of an upload's gateway form (an S3 POST-policy form sent to Sluice). */
export const gatewayFormPath = (id: string) => `/v1/uploads/${id}/form`;

/**
 * `GET /s3/params`: one POST form for the whole file (Uppy's aws-s3 posts a form whatever the
 * answer's method). In direct mode it is a presigned POST policy at storage whose
 * `content-length-range` runs up to the limit; otherwise it is Sluice's gateway form URL,
 * which waits for the verdict before it answers, so that Uppy shows a rejected file as failed.
 */
export async function issueCompanionForm(
  s: Services,
  principal: Principal,
  file: CompanionFile,
  options: { clientAddress?: string | undefined } = {},
): Promise<{ id: string; method: "POST"; url: string; fields: Record<string, string>; expiresAt: number }> {
  // The condition under which the presigned POST route serves (upload-routes/presigned-post.ts).
  const direct = s.config.uploadMode === "direct" && s.presigner !== undefined;
  const issued = await issueUpload(s, principal, { filename: file.filename, contentType: file.contentType, size: 0, metadata: file.metadata, method: direct ? "POST" : "PUT", sizeUnknown: "single" }, options);
  const { ticket } = issued;
  if (direct && issued.upload?.fields) return { id: ticket.id, method: "POST", url: issued.upload.url, fields: issued.upload.fields, expiresAt: ticket.expiresAt };
  const url = signedUrl(s, gatewayFormPath(ticket.id), { method: "POST", id: ticket.id, expires: Math.floor(ticket.expiresAt / 1000) });
  return { id: ticket.id, method: "POST", url: `${url}&wait=${MAX_VERDICT_WAIT_SECONDS}`, fields: { key: ticket.key }, expiresAt: ticket.expiresAt };
}

/** `POST /s3/multipart`: a multipart upload whose part sizes the client picks, within the limit. */
export async function startCompanionMultipart(s: Services, principal: Principal, file: CompanionFile, options: { clientAddress?: string | undefined } = {}): Promise<{ id: string; key: string; bucket: string }> {
  const { ticket } = await issueUpload(s, principal, { filename: file.filename, contentType: file.contentType, size: 0, metadata: file.metadata, sizeUnknown: "multipart" }, options);
  return { id: ticket.id, key: ticket.key, bucket: s.config.buckets.staging };
}

/**
 * The upload a Companion call names by `uploadId` and `key`, if the caller may reach it: the
 * one key-scope check (`requireWithinKeyPrefix`), and the key must be the upload's own. Any
 * mismatch reads as unknown (404), as on Sluice's own routes.
 */
export async function findCompanionUpload(s: Services, principal: Principal, ref: { uploadId: string; key: string | undefined }): Promise<UploadStatus> {
  if (!isUploadId(ref.uploadId)) throw notFound(`Upload ${ref.uploadId}`);
  const status = requireWithinKeyPrefix(principal, await getUploadStatus(s, ref.uploadId));
  if (ref.key !== undefined && ref.key !== status.key) throw notFound(`Upload ${ref.uploadId}`);
  return status;
}
