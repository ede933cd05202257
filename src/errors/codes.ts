/**
 * Every error code Sluice answers with, its HTTP status and what it means: the one table that
 * `SluiceError`'s type, the OpenAPI document's `Error.code` enum and the docs' error table
 * (`npm run docs`) are all made from. A code that is not here does not compile.
 *
 * `alsoStatus` names the few codes that keep their name under another status, because the
 * cause differs in whose fault it is (see each one's meaning).
 */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 408 | 409 | 410 | 411 | 412 | 413 | 415 | 422 | 429 | 460 | 500 | 502 | 503 | 507;

interface ErrorCodeEntry {
  status: ErrorStatus;
  alsoStatus?: readonly ErrorStatus[];
  meaning: string;
}

export const ERROR_CODES = {
  // 400: the request itself is wrong; sending it again unchanged gets the same answer.
  invalid_request: { status: 400, meaning: "The request does not fit its schema; the message names the first field at fault." },
  invalid_json: { status: 400, meaning: "The request body is not valid JSON." },
  invalid_cursor: { status: 400, meaning: "An event feed's `after` cursor that Sluice did not give out (or that was altered)." },
  invalid_key: { status: 400, meaning: "An object key no store can hold without ambiguity (empty, `.` or `..` segments, control characters)." },
  invalid_part_number: { status: 400, meaning: "A part number outside the upload's plan (1 to its part count)." },
  invalid_parts: { status: 400, meaning: "The parts listed on completion are out of order, repeated, or not what storage holds." },
  length_mismatch: { status: 400, meaning: "The body's length is not the size that was declared." },
  content_type_mismatch: { status: 400, meaning: "The upload's Content-Type is not the type that was declared." },
  checksum_mismatch: { status: 400, meaning: "The x-amz-content-sha256 sent is not the SHA-256 promised for the upload." },
  invalid_tus_request: { status: 400, meaning: "A tus request whose headers are missing or malformed (Upload-Length, Upload-Offset, Upload-Metadata, Upload-Concat), or that asks for what Sluice does not do (Upload-Defer-Length)." },
  checksum_algorithm_unsupported: { status: 400, meaning: "A tus Upload-Checksum names an algorithm other than sha1, sha256 or md5." },
  invalid_form: { status: 400, meaning: "A form upload that is not the shape of an S3 POST policy form: fields, then the file last, then the closing boundary." },
  invalid_webhook_url: {
    status: 400,
    meaning:
      "A webhook URL that is not http(s), does not resolve, or resolves to an address webhooks may not reach (loopback, private, link-local, unique-local, CGNAT, multicast, unspecified, cloud metadata) while `SLUICE_WEBHOOK_ALLOW_PRIVATE` is off.",
  },
  client_aborted: { status: 400, meaning: "The client went away before the whole body arrived; nothing was kept." },
  storage_refused: {
    status: 502,
    alsoStatus: [400],
    meaning: "Storage refused the request behind the edge: 502 when it refused CloudFront (origin access control), 400 when it refused the body (its x-amz-content-sha256).",
  },
  // 401 and 403: who is asking.
  unauthorized: { status: 401, meaning: "No valid API key or browser upload token (expired, malformed, or its key revoked), or, on storage events, no valid events secret." },
  invalid_signature: { status: 403, meaning: "A signed URL whose signature does not match, or that was altered." },
  bucket_credentials: { status: 403, meaning: "Companion's `GET /s3/sts`: Sluice never hands out credentials for a whole bucket; its scoped credentials are per upload (`\"method\": \"credentials\"`)." },
  scoped_key: { status: 403, meaning: "A scoped key asked for what only a full key may do (manage keys)." },
  token_not_allowed: {
    status: 403,
    meaning:
      "A browser upload token was sent where tokens are not accepted: a token may issue uploads, send their parts, complete them and read their own status (also through tus and the Companion routes), never list, download, delete, manage keys or mint tokens.",
  },
  token_scope_exceeded: { status: 403, meaning: "A token was asked for with more than the key minting it may do (another key prefix, a type or size beyond the key's)." },
  token_used_up: { status: 403, meaning: "The browser upload token has issued as many uploads as it allows (its maxUploads)." },
  metadata_fixed: { status: 403, meaning: "The request's metadata gives another value to a key the browser upload token fixes." },
  // 404 to 411: the resource or the method.
  not_found: { status: 404, meaning: "No such upload, file, key, webhook, delivery or route (or one a scoped key may not see)." },
  method_not_allowed: { status: 405, meaning: "Only PUT uploads go through the CloudFront distribution; a tus upload URL takes HEAD, PATCH and DELETE." },
  body_timeout: { status: 408, meaning: "No byte of the body arrived for the idle timeout; the upload was dropped, send it again." },
  offset_mismatch: { status: 409, meaning: "A tus PATCH whose Upload-Offset is not the upload's current offset (ask with HEAD)." },
  already_uploaded: { status: 409, meaning: "The upload's bytes have already arrived; it can no longer be cancelled (delete the file instead)." },
  upload_in_progress: { status: 409, meaning: "Another request is uploading or completing this upload right now." },
  not_uploaded: { status: 409, meaning: "Completion was asked for before any bytes arrived in storage." },
  not_multipart: { status: 409, meaning: "A multipart request on an upload that is not multipart (or is a tus upload, which takes its bytes at its tus URL)." },
  not_archived: { status: 409, meaning: "The file is not archived (yet, or it was rejected), so it has no bytes to serve." },
  not_failed: { status: 409, meaning: "Only a failed upload can be processed again." },
  file_processing: { status: 409, meaning: "The file is being processed; try again once it is archived or rejected." },
  download_in_progress: { status: 409, meaning: "A one-time download URL is being read right now." },
  download_stalled: { status: 409, meaning: "No bytes of a one-time download could be sent for the idle timeout; the download was dropped." },
  already_used: { status: 410, meaning: "A one-time URL that has already been used." },
  expired: { status: 410, meaning: "The URL or the upload has expired." },
  cancelled: { status: 410, meaning: "The upload was cancelled." },
  key_revoked: { status: 410, meaning: "The API key that issued this URL has been revoked." },
  unknown_upload: { status: 410, meaning: "The ticket behind this upload URL is no longer known." },
  upload_closed: { status: 410, meaning: "The multipart upload is no longer open for parts." },
  upload_sealed: { status: 410, meaning: "A tus upload whose last byte has arrived: it is sealed, and takes no more bytes." },
  length_required: { status: 411, meaning: "An upload through the edge, or a form or part whose size was not given in advance (Companion routes), needs a Content-Length header." },
  tus_version_unsupported: { status: 412, meaning: "A tus request with a Tus-Resumable version other than 1.0.0." },
  // 413 to 429: the content or the caller's allowance.
  too_large: { status: 413, meaning: "The body or the declared size is over the limit (the server's, or the key's)." },
  type_not_allowed: { status: 415, meaning: "The content type is not on the allow-list (the server's, or the key's)." },
  unsupported_media_type: { status: 415, meaning: "The request body must be sent as application/json (a tus PATCH: as application/offset+octet-stream)." },
  invalid_filename: { status: 422, meaning: "The file name holds NUL, control or bidirectional-override characters." },
  invalid_part_size: { status: 422, meaning: "The part size asked for is under the 5 MiB storage accepts, or makes too many parts." },
  sha256_required: { status: 422, meaning: "An upload through the CloudFront front needs the file's sha256, here and as x-amz-content-sha256 on the PUT." },
  post_unavailable: { status: 422, meaning: "A POST form was asked for, but this storage or mode cannot sign one." },
  file_rejected: {
    status: 422,
    alsoStatus: [410],
    meaning: "The bytes arrived, and processing rejected the file (asked with `?wait=`, or by an uploader's protocol: the tus PATCH that delivered the last byte); the message gives the reason. 410 on a later HEAD of a rejected upload's tus URL.",
  },
  credentials_unavailable: { status: 422, meaning: "Scoped credentials were asked for, but no credential issuer (STS) is configured." },
  rate_limited: { status: 429, meaning: "Too many uploads asked for, by this key or this address; Retry-After says when to try again." },
  quota_exceeded: { status: 429, meaning: "The key's bytes a day, or its number of open uploads, is used up." },
  tus_checksum_mismatch: { status: 460, meaning: "A tus chunk whose Upload-Checksum does not match its bytes; the chunk was discarded, send it again." },
  // 5xx: Sluice or a backend; the same request may succeed later.
  internal_error: { status: 500, meaning: "A bug on Sluice's side; it is logged." },
  http_error: { status: 500, meaning: "Another refusal by the HTTP framework, answered with the framework's own status." },
  backend_unavailable: { status: 503, meaning: "A backend (named in the message) did not answer; Sluice fails closed, so retry later." },
  unavailable: { status: 503, meaning: "Sluice could not start (on Cloudflare Workers: its configuration is invalid; the message says why)." },
  storage_full: { status: 507, meaning: "The object store is out of space; nothing was stored. Try again later." },
} as const satisfies Record<string, ErrorCodeEntry>;

export type ErrorCode = keyof typeof ERROR_CODES;

type Registered = typeof ERROR_CODES;
/** The statuses a code may be answered with: its own, and any `alsoStatus`. */
export type StatusOf<C extends ErrorCode> =
  | Registered[C]["status"]
  | (Registered[C] extends { alsoStatus: readonly (infer S)[] } ? S : never);

/** The codes that may be answered with `status`: what each status-named factory accepts. */
export type CodeWithStatus<S extends ErrorStatus> = { [C in ErrorCode]: S extends StatusOf<C> ? C : never }[ErrorCode];

export const errorCodes = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/** The code's own status (not an `alsoStatus`). */
export const statusOf = (code: ErrorCode): ErrorStatus => ERROR_CODES[code].status;
