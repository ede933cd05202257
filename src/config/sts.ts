/** Scoped temporary credentials through STS (`"method": "credentials"`). */
import { z } from "zod";
import type { AwsConnection } from "./aws.js";
import { documented, httpUrl, wholeNumber } from "./fields.js";
import type { StsConfig } from "./types.js";

export const stsFields = {
  SLUICE_STS_ROLE_ARN: documented(
    z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{0,12}:role\/[\w+=,.@/-]+$/, "expected a role ARN such as arn:aws:iam::123456789012:role/sluice-uploader")
      .optional(),
    {
      description:
        "lets uploads ask for `\"method\": \"credentials\"`: Sluice assumes this role through STS with a session policy for one staging key (direct S3 uploads only; see [Scoped credentials](deploying-on-s3.md#scoped-credentials-for-the-aws-sdks-own-uploader))",
    },
  ),
  AWS_ENDPOINT_URL_STS: documented(httpUrl().optional(), {
    description: "the STS endpoint (Ceph RGW serves STS on its S3 port)",
    default: "`AWS_ENDPOINT_URL`, else AWS's STS",
  }),
  SLUICE_STS_MAX_DURATION: documented(wholeNumber("seconds", 900, 43200).default(3600), {
    description: "the role's longest session in seconds (900 to 43200); credentials never outlive it",
  }),
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
