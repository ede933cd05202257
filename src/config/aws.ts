/** The AWS SDK's standard variables, shared by every backend that talks to AWS or an AWS-compatible service. */
import { z } from "zod";
import { ConfigError, httpUrl } from "./fields.js";
import type { AwsCredentials } from "./types.js";

export const awsFields = {
  AWS_REGION: z.string().min(1).optional(),
  AWS_DEFAULT_REGION: z.string().min(1).optional(),
  AWS_ENDPOINT_URL: httpUrl().optional(),
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  AWS_SESSION_TOKEN: z.string().min(1).optional(),
};

type AwsEnv = z.output<z.ZodObject<typeof awsFields>>;

export interface AwsConnection {
  region: string;
  /** The endpoint every AWS service uses unless its own variable names one. */
  endpoint: string | undefined;
  credentials: AwsCredentials | undefined;
}

/** The region, shared endpoint and credentials, read once for S3, STS and DynamoDB alike. */
export function parseAwsConnection(e: AwsEnv): AwsConnection {
  if ((e.AWS_ACCESS_KEY_ID === undefined) !== (e.AWS_SECRET_ACCESS_KEY === undefined)) {
    throw new ConfigError("Invalid AWS_SECRET_ACCESS_KEY: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither");
  }
  return {
    region: e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? "us-east-1",
    endpoint: e.AWS_ENDPOINT_URL,
    credentials:
      e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY, ...(e.AWS_SESSION_TOKEN && { sessionToken: e.AWS_SESSION_TOKEN }) }
        : undefined,
  };
}
