import { z } from "@hono/zod-openapi";
import { errorCodes } from "../errors.js";
import { UPLOAD_STATES } from "../metadata/metadata-store.js";

/** Routes that need an API key. */
export const security = [{ apiKey: [] }];
/** An OpenAPI JSON content entry. */
export const json = <T>(schema: T) => ({ "application/json": { schema } });

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(errorCodes).openapi({ example: "type_not_allowed", description: "What went wrong, for programs; every code, its status and its meaning are listed in docs/errors.md." }),
      message: z.string().openapi({ example: "Content type text/html is not allowed." }),
    }),
  })
  .openapi("Error");

const MAX_METADATA_ENTRIES = 32;
const MAX_METADATA_BYTES = 8 * 1024;

export const MetadataSchema = z
  .record(z.string().min(1).max(128), z.string().max(1024))
  .refine((m) => Object.keys(m).length <= MAX_METADATA_ENTRIES, `metadata holds at most ${MAX_METADATA_ENTRIES} entries`)
  .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES, `metadata is at most ${MAX_METADATA_BYTES} bytes as JSON`)
  .openapi({ example: { album: "holidays" } });

export const UploadRequestSchema = z
  .object({
    filename: z.string().min(1).max(1024).openapi({ example: "cat.png", description: "The original name; kept as given, never used as-is in a key or header." }),
    contentType: z
      .string()
      .max(255)
      .regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;.*)?$/, "contentType must be a media type such as image/png")
      .openapi({ example: "image/png" }),
    size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).openapi({ example: 12345, description: "Bytes." }),
    sha256: z.string().regex(/^[A-Fa-f0-9]{64}$/, "sha256 must be 64 hex digits").optional(),
    metadata: MetadataSchema.optional(),
    expiresIn: z.number().int().min(1).max(7 * 24 * 3600).optional().openapi({ description: "Seconds; clamped to the configured bounds.", example: 300 }),
    partSize: z
      .number()
      .int()
      .min(5 * 1024 ** 2)
      .max(5 * 1024 ** 3)
      .optional()
      .openapi({ description: "Multipart only: the part size you would like, in bytes (at least 5 MiB). It grows when the file would need more than 10,000 parts." }),
    method: z
      .enum(["PUT", "POST", "credentials", "tus"])
      .optional()
      .openapi({
        description:
          "`POST` asks for a presigned POST policy (an HTML form upload; direct mode on S3 only). `credentials` asks for temporary STS credentials that may upload this one key and nothing else, for clients that send the file with the AWS SDK's own uploader (direct mode on S3 with SLUICE_STS_ROLE_ARN set). `tus` asks for a tus 1.0.0 upload URL (`upload.method` is `PATCH`), for a tus client's `uploadUrl` (a browser given the URL by the app's server holds no key). Default: the configured method, `PUT` unless set.",
      }),
  })
  .strict()
  .openapi("UploadRequest");

const iso = z.string().openapi({ format: "date-time", example: "2026-11-22T10:00:00.000Z" });
const State = z.enum(UPLOAD_STATES).openapi("UploadState");

const MultipartPlanSchema = z.object({ partSize: z.number().int(), partCount: z.number().int() }).openapi("MultipartPlan");

export const IssuedUploadSchema = z
  .object({
    id: z.string().openapi({ example: "upl_q3v1…" }),
    state: State,
    key: z.string(),
    expiresAt: iso,
    upload: z
      .object({
        method: z.enum(["PUT", "POST", "PATCH"]).openapi({ description: "`PATCH`: `url` is a tus 1.0.0 upload URL (for `method: tus`); give it to a tus client as its `uploadUrl`." }),
        url: z.string(),
        headers: z.record(z.string(), z.string()).openapi({ description: "Send these exactly as given: they are signed." }),
        fields: z
          .record(z.string(), z.string())
          .optional()
          .openapi({ description: "POST only: the form fields to send, in this order, before the `file` field, which comes last." }),
      })
      .optional()
      .openapi({ description: "For a file up to the multipart threshold: the one request that sends it." }),
    multipart: MultipartPlanSchema.optional().openapi({
      description: "For a larger file, instead of `upload`: send it in parts (URLs from POST /v1/uploads/{id}/parts), then complete it with the parts' ETags.",
    }),
    credentials: z
      .object({
        accessKeyId: z.string(),
        secretAccessKey: z.string(),
        sessionToken: z.string(),
        expiresAt: iso,
        bucket: z.string(),
        key: z.string(),
        region: z.string(),
        endpoint: z.string().optional().openapi({ description: "The S3 endpoint, when storage is not AWS itself." }),
        forcePathStyle: z.boolean(),
        contentType: z.string().openapi({ description: "Send the object with this Content-Type: processing checks it." }),
      })
      .optional()
      .openapi({
        description:
          "For `method: credentials`, instead of `upload`: STS credentials whose session policy allows s3:PutObject, s3:AbortMultipartUpload and s3:ListMultipartUploadParts on `bucket`/`key` only. Upload with your S3 client (one PUT or multipart, as it likes), then call POST /v1/uploads/{id}/complete.",
      }),
  })
  .openapi("IssuedUpload");

export const PartUrlsRequestSchema = z
  .object({ partNumbers: z.array(z.number().int().min(1).max(10_000)).min(1).max(1000) })
  .strict()
  .openapi("PartUrlsRequest");

export const PartUrlsSchema = z
  .object({
    parts: z.array(
      z.object({
        partNumber: z.number().int(),
        method: z.literal("PUT"),
        url: z.string(),
        headers: z.record(z.string(), z.string()),
        expiresAt: iso,
      }),
    ),
  })
  .openapi("PartUrls");

export const StoredPartsSchema = z
  .object({ parts: z.array(z.object({ partNumber: z.number().int(), etag: z.string(), size: z.number().int() })) })
  .openapi("StoredParts");

export const CompleteRequestSchema = z
  .object({
    parts: z
      .array(z.object({ partNumber: z.number().int().min(1).max(10_000), etag: z.string().min(1).max(256) }).strict())
      .min(1)
      .max(10_000)
      .optional()
      .openapi({ description: "Multipart only: every part, in order, with the ETag storage gave it. Without it, every stored part is used." }),
    sha256: z
      .string()
      .regex(/^[A-Fa-f0-9]{64}$/, "sha256 must be 64 hex digits")
      .optional()
      .openapi({ description: "Multipart only: the file's SHA-256 if the client computed it while sending; processing verifies it." }),
  })
  .strict()
  .openapi("CompleteRequest");

export const UploadSchema = z
  .object({
    id: z.string(),
    state: State,
    key: z.string(),
    reason: z.string().optional(),
    fileId: z.string().optional(),
    expiresAt: iso,
    createdAt: iso,
    multipart: MultipartPlanSchema.optional().openapi({ description: "A multipart upload's plan, while it takes parts." }),
  })
  .openapi("Upload");

export const GatewayResultSchema = z
  .object({
    id: z.string(),
    state: State,
    size: z.number().int(),
    sha256: z.string().nullable().openapi({ description: "Computed while the bytes streamed, when the upload promised a sha256; null otherwise." }),
  })
  .openapi("GatewayResult");

export const GatewayPartResultSchema = z
  .object({ partNumber: z.number().int(), etag: z.string(), size: z.number().int() })
  .openapi("GatewayPartResult");

export const FileSchema = z
  .object({
    id: z.string().openapi({ example: "fil_q3v1…" }),
    uploadId: z.string(),
    filename: z.string(),
    declaredContentType: z.string(),
    contentType: z.string().nullable().openapi({ description: "Detected from the content." }),
    size: z.number().int(),
    sha256: z.string().nullable(),
    state: State,
    reason: z.string().optional(),
    metadata: z.record(z.string(), z.string()),
    createdAt: iso,
    archivedAt: iso.nullable(),
  })
  .openapi("File");

export const FileListSchema = z.object({ items: z.array(FileSchema), nextCursor: z.string().nullable() }).openapi("FileList");

export const DownloadSchema = z.object({ url: z.string(), expiresAt: iso }).openapi("Download");

export const IdParam = (prefix: "upl" | "fil") =>
  z.object({
    id: z
      .string()
      .regex(new RegExp(`^${prefix}_[A-Za-z0-9_-]{22}$`), `id must look like ${prefix}_…`)
      .openapi({ param: { name: "id", in: "path" }, example: `${prefix}_AAAAAAAAAAAAAAAAAAAAAA` }),
  });

export const errorResponses = (...statuses: (400 | 401 | 403 | 404 | 405 | 408 | 409 | 410 | 412 | 413 | 415 | 422 | 429 | 460 | 503 | 507)[]) =>
  Object.fromEntries(
    statuses.map((s) => [s, { description: ERROR_DESCRIPTIONS[s], content: { "application/json": { schema: ErrorSchema } } }]),
  );

const ERROR_DESCRIPTIONS = {
  400: "Malformed request",
  401: "Missing or invalid API key",
  403: "Not allowed (bad signature)",
  404: "Unknown",
  405: "Method not allowed",
  408: "The body stopped arriving (no byte within SLUICE_BODY_IDLE_TIMEOUT); the URL may be retried at once",
  409: "Conflict: in use right now",
  410: "Gone: used, cancelled or expired",
  412: "Tus-Resumable missing or not 1.0.0 (tus)",
  413: "Too large",
  415: "Type not allowed",
  422: "Well-formed but invalid",
  429: "Rate limited (see Retry-After)",
  460: "Checksum mismatch (tus): the chunk was discarded; send it again",
  503: "A backend is unavailable",
  507: "The object store is out of space (the filesystem store): nothing was stored; retry later",
} as const;
