/** Scoped temporary credentials through STS (`"method": "credentials"`). */
import { z } from "zod";
import type { AwsConnection } from "./aws.js";
import { httpUrl, wholeNumber } from "./fields.js";
import type { StsConfig } from "./types.js";

export const stsFields = {
  SLUICE_STS_ROLE_ARN: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{0,12}:role\/[\w+=,.@/-]+$/, "expected a role ARN such as arn:aws:iam::123456789012:role/sluice-uploader")
    .optional(),
  AWS_ENDPOINT_URL_STS: httpUrl().optional(),
  SLUICE_STS_MAX_DURATION: wholeNumber("seconds", 900, 43200).default(3600),
};

type StsEnv = z.output<z.ZodObject<typeof stsFields>>;

/** Only called when the role is set and storage is S3 (the caller checks the mode). */
export function parseSts(e: StsEnv & { SLUICE_STS_ROLE_ARN: string }, aws: AwsConnection): StsConfig {
  return {
    roleArn: e.SLUICE_STS_ROLE_ARN,
    endpoint: e.AWS_ENDPOINT_URL_STS ?? aws.endpoint,
    region: aws.region,
    maxSeconds: e.SLUICE_STS_MAX_DURATION,
    credentials: aws.credentials,
  };
}
