/** Scoped temporary credentials through STS (`"method": "credentials"`). */
import { z } from "zod";
import type { AwsConnection } from "./aws.js";
import { ConfigError, httpUrl, wholeNumber } from "./fields.js";
import type { Config, StorageConfig, StsConfig } from "./types.js";

export const stsFields = {
  SLUICE_STS_ROLE_ARN: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{0,12}:role\/[\w+=,.@/-]+$/, "expected a role ARN such as arn:aws:iam::123456789012:role/sluice-uploader")
    .optional(),
  AWS_ENDPOINT_URL_STS: httpUrl().optional(),
  SLUICE_STS_MAX_DURATION: wholeNumber("seconds", 900, 43200).default(3600),
};

type StsEnv = z.output<z.ZodObject<typeof stsFields>>;

/** Set only with a role, and only where uploads go straight to S3 (the credentials name a staging key there). */
export function parseSts(e: StsEnv, aws: AwsConnection, route: { storage: StorageConfig; uploadMode: Config["uploadMode"] }): StsConfig | undefined {
  if (!e.SLUICE_STS_ROLE_ARN) return undefined;
  if (route.storage.kind !== "s3" || route.uploadMode !== "direct") {
    throw new ConfigError("Invalid SLUICE_STS_ROLE_ARN: scoped credentials need SLUICE_STORAGE=s3 with direct uploads");
  }
  return {
    roleArn: e.SLUICE_STS_ROLE_ARN,
    endpoint: e.AWS_ENDPOINT_URL_STS ?? aws.endpoint,
    region: aws.region,
    maxSeconds: e.SLUICE_STS_MAX_DURATION,
    credentials: aws.credentials,
  };
}
