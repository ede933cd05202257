/** How uploads and downloads are routed, and what an upload may be. */
import { z } from "zod";
import { ConfigError, httpUrl, list, wholeNumber } from "./fields.js";
import type { Config, StorageConfig } from "./types.js";

export const mimePattern = /^(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$/;

export const uploadFields = {
  SLUICE_UPLOAD_MODE: z.enum(["direct", "gateway", "edge"], "expected direct, gateway or edge").optional(),
  SLUICE_EDGE_URL: httpUrl().optional(),
  SLUICE_UPLOAD_METHOD: z.enum(["PUT", "POST", "put", "post"], "expected PUT or POST").default("PUT"),
  SLUICE_DOWNLOAD_MODE: z.enum(["presigned", "proxy"], "expected presigned or proxy").default("presigned"),
  SLUICE_CORS_ORIGINS: list()
    .pipe(z.array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, "expected origins such as https://app.example.com (scheme, host and port; no path), or *")))
    .optional(),
  SLUICE_ALLOWED_TYPES: list()
    .transform((types) => types.map((t) => t.toLowerCase()))
    .pipe(z.array(z.string().regex(mimePattern, "expected type/subtype patterns such as image/*")).min(1))
    .default(["*/*"]),
  SLUICE_MAX_SIZE: wholeNumber("a size in bytes", 1, 5 * 1024 ** 4).default(5 * 1024 ** 3),
  SLUICE_URL_TTL: wholeNumber("seconds", 1, 7 * 24 * 3600).default(300),
  SLUICE_URL_TTL_MAX: wholeNumber("seconds", 1, 7 * 24 * 3600).default(3600),
  SLUICE_MULTIPART_THRESHOLD: wholeNumber("a size in bytes", 0, 5 * 1024 ** 3).default(64 * 1024 ** 2),
  SLUICE_PART_SIZE: wholeNumber("a size in bytes", 5 * 1024 ** 2, 5 * 1024 ** 3).default(16 * 1024 ** 2),
  SLUICE_MULTIPART_TTL: wholeNumber("seconds", 1, 7 * 24 * 3600).default(24 * 3600),
  SLUICE_TICKET_LEASE: wholeNumber("seconds", 1, 3600).default(30),
  SLUICE_DOWNLOAD_IDLE_TIMEOUT: wholeNumber("seconds", 1, 3600).default(60),
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
