/** The object store: the local filesystem, or any S3-compatible service; and its buckets. */
import path from "node:path";
import { z } from "zod";
import type { AwsConnection } from "./aws.js";
import { ConfigError, bucketName, httpUrl, wholeNumber } from "./fields.js";
import type { Config, StorageConfig } from "./types.js";

export const storageFields = {
  SLUICE_STORAGE: z.enum(["fs", "s3"], "expected fs or s3").default("fs"),
  SLUICE_MIN_FREE_DISK: wholeNumber("a size in bytes").default(64 * 1024 ** 2),
  AWS_ENDPOINT_URL_S3: httpUrl().optional(),
  SLUICE_S3_FORCE_PATH_STYLE: z.enum(["true", "false", "1", "0"], "expected true or false").optional(),
  SLUICE_S3_SINGLE_COPY_MAX: wholeNumber("a size in bytes", 0, 5 * 1024 ** 3).default(5 * 1024 ** 3),
  SLUICE_S3_COPY_PART_SIZE: wholeNumber("a size in bytes", 5 * 1024 ** 2, 5 * 1024 ** 3).default(512 * 1024 ** 2),
  SLUICE_S3_COPY_CONCURRENCY: wholeNumber("a count", 1, 64).default(4),
  SLUICE_STAGING_BUCKET: bucketName().default("staging"),
  SLUICE_ARCHIVE_BUCKET: bucketName().default("archive"),
  SLUICE_QUARANTINE_BUCKET: bucketName().optional(),
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
    singleCopyMax: e.SLUICE_S3_SINGLE_COPY_MAX,
    copyPartSize: e.SLUICE_S3_COPY_PART_SIZE,
    copyConcurrency: e.SLUICE_S3_COPY_CONCURRENCY,
  };
}

export function parseBuckets(e: StorageEnv): Config["buckets"] {
  const named = [e.SLUICE_STAGING_BUCKET, e.SLUICE_ARCHIVE_BUCKET, ...(e.SLUICE_QUARANTINE_BUCKET ? [e.SLUICE_QUARANTINE_BUCKET] : [])];
  if (new Set(named).size !== named.length) {
    throw new ConfigError("Invalid SLUICE_ARCHIVE_BUCKET: staging, archive and quarantine buckets must differ");
  }
  return { staging: e.SLUICE_STAGING_BUCKET, archive: e.SLUICE_ARCHIVE_BUCKET, quarantine: e.SLUICE_QUARANTINE_BUCKET };
}
