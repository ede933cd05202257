/** How uploads and downloads are routed, and what an upload may be. */
import { z } from "zod";
import { ConfigError, documented, httpUrl, list, wholeNumber } from "./fields.js";
import type { Config, StorageConfig } from "./types.js";

export const mimePattern = /^(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$/;

export const uploadFields = {
  SLUICE_UPLOAD_MODE: documented(z.enum(["direct", "gateway", "edge"], "expected direct, gateway or edge").optional(), {
    description:
      "`direct`: presigned URLs at storage, the bytes never pass through Sluice (s3 only). `gateway`: URLs point at Sluice, which streams to storage. `edge`: PUTs to a CloudFront distribution whose Lambda@Edge functions claim the ticket (s3 only; the AWS stack sets it)",
    default: "`gateway` for fs, `direct` for s3",
  }),
  SLUICE_EDGE_URL: documented(httpUrl().optional(), {
    description:
      "with `SLUICE_UPLOAD_MODE=edge`: the CloudFront distribution in front of staging; single uploads are PUTs to it (see [CloudFront in front of staging](aws.md#cloudfront-in-front-of-staging-lambdaedge))",
  }),
  SLUICE_UPLOAD_METHOD: documented(z.enum(["PUT", "POST", "put", "post"], "expected PUT or POST").default("PUT"), {
    description: "what direct uploads get unless a request asks (`\"method\": \"POST\"`): a presigned `PUT`, or a `POST` policy for HTML forms",
  }),
  SLUICE_DOWNLOAD_MODE: documented(z.enum(["presigned", "proxy"], "expected presigned or proxy").default("presigned"), {
    description:
      "on s3: `presigned` downloads are GETs straight from the archive bucket (the bytes never pass through Sluice; storage answers with the forced type, `attachment` and `no-store`, but cannot send `nosniff` or a CSP). `proxy` serves them through Sluice, with `X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox`. One-time downloads and the fs store always go through Sluice",
  }),
  SLUICE_CORS_ORIGINS: documented(list().optional(), {
    description: "comma-separated browser origins that `sluice setup` lets upload to staging",
    default: "the origin of `SLUICE_PUBLIC_URL`",
  }),
  SLUICE_ALLOWED_TYPES: documented(
    list()
      .transform((types) => types.map((t) => t.toLowerCase()))
      .pipe(z.array(z.string().regex(mimePattern, "expected type/subtype patterns such as image/*")).min(1))
      .default(["*/*"]),
    {
      description:
        "comma-separated allow-list, wildcards allowed (`image/*`). Any list but `*/*` admits only content *identified* as an allowed type: by its signature, as HTML/SVG declared as such, or as `text/plain`, `text/csv`, `text/markdown` or `application/json` passing their own checks. `application/octet-stream` listed by name also takes what cannot be identified. A key's scope `allowedTypes` works the same way, at issue and again at processing",
    },
  ),
  SLUICE_MAX_SIZE: documented(wholeNumber("a size in bytes", 1, 5 * 1024 ** 4).default(5 * 1024 ** 3), {
    description: "largest accepted file, in bytes (up to 5 TiB)",
    default: "(5 GiB)",
  }),
  SLUICE_URL_TTL: documented(wholeNumber("seconds", 1, 7 * 24 * 3600).default(300), {
    description:
      "seconds an upload or download URL lives when the request sets no `expiresIn`. Part URLs of a multipart upload live this long and can be asked for again",
  }),
  SLUICE_URL_TTL_MAX: documented(wholeNumber("seconds", 1, 7 * 24 * 3600).default(3600), {
    description: "seconds; `expiresIn` is clamped to this. At least `SLUICE_URL_TTL`",
  }),
  SLUICE_MULTIPART_THRESHOLD: documented(wholeNumber("a size in bytes", 0, 5 * 1024 ** 3).default(64 * 1024 ** 2), {
    description: "files larger than this are uploaded in parts (at most 5 GiB: one S3 PUT's limit)",
    default: "(64 MiB)",
  }),
  SLUICE_PART_SIZE: documented(wholeNumber("a size in bytes", 5 * 1024 ** 2, 5 * 1024 ** 3).default(16 * 1024 ** 2), {
    description:
      "the part size offered (5 MiB to 5 GiB); it grows in whole MiB when a file would need more than 10,000 parts, so files up to S3's 5 TiB fit",
    default: "(16 MiB)",
  }),
  SLUICE_MULTIPART_TTL: documented(wholeNumber("seconds", 1, 7 * 24 * 3600).default(24 * 3600), {
    description: "seconds a multipart upload may take: its default and longest life. After it, the sweep aborts the upload and its parts",
    default: "(24 h)",
  }),
  SLUICE_TICKET_LEASE: documented(wholeNumber("seconds", 1, 3600).default(30), {
    description:
      "seconds a claim on an upload or one-time download in flight outlives an instance that died holding it (the holder renews it every third of this)",
  }),
  SLUICE_DOWNLOAD_IDLE_TIMEOUT: documented(wholeNumber("seconds", 1, 3600).default(60), {
    description:
      "seconds a one-time download may go without sending a byte (a stalled reader) before it is dropped and its URL freed for another try, as nginx's `send_timeout`",
  }),
};

type UploadEnv = z.output<z.ZodObject<typeof uploadFields>>;

export type UploadRouting = Pick<Config, "uploadMode" | "edgeUrl" | "uploadMethod">;

/** Which ways of uploading this storage allows; the fs store is reached only through the gateway. */
export function parseUploadRouting(e: UploadEnv, storage: StorageConfig): UploadRouting {
  const uploadMode = e.SLUICE_UPLOAD_MODE ?? (storage.kind === "fs" ? "gateway" : "direct");
  if (storage.kind === "fs" && uploadMode === "direct") {
    throw new ConfigError("Invalid SLUICE_UPLOAD_MODE: direct needs SLUICE_STORAGE=s3; the fs store is reached through the gateway");
  }
  if (uploadMode === "edge" && (storage.kind !== "s3" || !e.SLUICE_EDGE_URL)) {
    throw new ConfigError("Invalid SLUICE_UPLOAD_MODE: edge needs SLUICE_STORAGE=s3 and SLUICE_EDGE_URL (the CloudFront distribution in front of staging)");
  }
  const uploadMethod = e.SLUICE_UPLOAD_METHOD.toUpperCase() as "PUT" | "POST";
  if (uploadMethod === "POST" && uploadMode !== "direct") {
    throw new ConfigError("Invalid SLUICE_UPLOAD_METHOD: POST policies need SLUICE_STORAGE=s3 with direct uploads");
  }
  return { uploadMode, edgeUrl: uploadMode === "edge" ? e.SLUICE_EDGE_URL?.replace(/\/+$/, "") : undefined, uploadMethod };
}
