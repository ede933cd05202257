/** The object store: the local filesystem, or any S3-compatible service; and its buckets. */
import path from "node:path";
import { z } from "zod";
import type { AwsConnection } from "./aws.js";
import { ConfigError, bucketName, documented, httpUrl, wholeNumber } from "./fields.js";
import type { Config, StorageConfig } from "./types.js";

export const storageFields = {
  SLUICE_STORAGE: documented(z.enum(["fs", "s3"], "expected fs or s3").default("fs"), {
    description: "`fs` or `s3`",
  }),
  SLUICE_MIN_FREE_DISK: documented(wholeNumber("a size in bytes").default(64 * 1024 ** 2), {
    description:
      "fs store: below this many free bytes on the data directory's filesystem, `/readyz` reports the object store down (`0` turns the check off). A write that finds the disk full answers `507 storage_full` and keeps nothing",
    default: "(64 MiB)",
  }),
  AWS_ENDPOINT_URL_S3: documented(httpUrl().optional(), {
    description: "the S3 endpoint: any S3-compatible store",
    default: "`AWS_ENDPOINT_URL`, else AWS itself",
  }),
  SLUICE_S3_FORCE_PATH_STYLE: documented(z.enum(["true", "false", "1", "0"], "expected true or false").optional(), {
    description: "`true` for stores that want `endpoint/bucket/key` (RGW, MinIO)",
    default: "`false`",
  }),
  SLUICE_STAGING_BUCKET: documented(bucketName().default("staging"), {
    description: "where uploads land before they are checked (a directory for fs)",
  }),
  SLUICE_ARCHIVE_BUCKET: documented(bucketName().default("archive"), {
    description: "where checked files are kept (a directory for fs)",
  }),
  SLUICE_QUARANTINE_BUCKET: documented(bucketName().optional(), {
    description: "where rejected files are moved (a directory for fs)",
    default: "*(none: rejected files are deleted)*",
  }),
};

type StorageEnv = z.output<z.ZodObject<typeof storageFields>>;

export function parseStorage(e: StorageEnv, dataDir: string, aws: AwsConnection): StorageConfig {
  if (e.SLUICE_STORAGE === "fs") return { kind: "fs", dir: path.join(dataDir, "objects"), minFreeBytes: e.SLUICE_MIN_FREE_DISK };
  return {
    kind: "s3",
    endpoint: e.AWS_ENDPOINT_URL_S3 ?? aws.endpoint,
    region: aws.region,
    forcePathStyle: e.SLUICE_S3_FORCE_PATH_STYLE === "true" || e.SLUICE_S3_FORCE_PATH_STYLE === "1",
    credentials: aws.credentials,
  };
}

export function parseBuckets(e: StorageEnv): Config["buckets"] {
  const named = [e.SLUICE_STAGING_BUCKET, e.SLUICE_ARCHIVE_BUCKET, ...(e.SLUICE_QUARANTINE_BUCKET ? [e.SLUICE_QUARANTINE_BUCKET] : [])];
  if (new Set(named).size !== named.length) {
    throw new ConfigError("Invalid SLUICE_ARCHIVE_BUCKET: staging, archive and quarantine buckets must differ");
  }
  return { staging: e.SLUICE_STAGING_BUCKET, archive: e.SLUICE_ARCHIVE_BUCKET, quarantine: e.SLUICE_QUARANTINE_BUCKET };
}
