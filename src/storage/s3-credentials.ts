/**
 * Scoped temporary credentials for clients that upload with the AWS SDK's own uploader
 * (`@aws-sdk/lib-storage`'s `Upload`, which picks single PUT or multipart itself). Sluice
 * assumes a role through STS with a session policy naming one staging key: the credentials
 * can do nothing else, whatever the role itself allows (a session's permissions are the
 * intersection of the role's policies and the session policy).
 */
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import type { StsConfig } from "../config.js";
import type { CredentialIssuer, ScopedCredentials } from "./credential-issuer.js";
import type { ObjectRef } from "./object-store.js";

/**
 * The actions one upload needs and no more. `s3:PutObject` covers PutObject and, for
 * multipart, CreateMultipartUpload, UploadPart and CompleteMultipartUpload; the SDK's
 * uploader also aborts a failed multipart upload and may list its parts. No read, no list of
 * the bucket, no delete, no other key.
 */
export const UPLOAD_ACTIONS = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"] as const;

/**
 * The session policy for one object, as JSON. Keys Sluice makes hold only letters, digits,
 * `.`, `_`, `-` and `/` (never IAM's wildcards `*` and `?`), so the ARN names exactly one key.
 */
export function uploadSessionPolicy(partition: string, ref: ObjectRef): string {
  if (/[*?]/.test(ref.key) || /[*?]/.test(ref.bucket)) throw new Error("A key for scoped credentials must not hold IAM wildcards.");
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Sid: "UploadOneKey", Effect: "Allow", Action: UPLOAD_ACTIONS, Resource: `arn:${partition}:s3:::${ref.bucket}/${ref.key}` }],
  });
}

/** The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`): S3 ARNs in the policy must use the role's. */
export const partitionOf = (arn: string) => arn.split(":")[1] ?? "aws";

export class StsCredentialIssuer implements CredentialIssuer {
  readonly minSeconds = 900;
  readonly maxSeconds: number;
  readonly #client: STSClient;
  readonly #roleArn: string;

  constructor(options: { client: STSClient; roleArn: string; maxSeconds: number }) {
    this.#client = options.client;
    this.#roleArn = options.roleArn;
    this.maxSeconds = options.maxSeconds;
  }

  async forUpload(ref: ObjectRef, options: { sessionName: string; durationSeconds: number }): Promise<ScopedCredentials> {
    const out = await this.#client.send(
      new AssumeRoleCommand({
        RoleArn: this.#roleArn,
        // The upload id: CloudTrail (or RGW's ops log) then names the upload each request belongs to.
        RoleSessionName: options.sessionName,
        DurationSeconds: Math.min(Math.max(options.durationSeconds, this.minSeconds), this.maxSeconds),
        Policy: uploadSessionPolicy(partitionOf(this.#roleArn), ref),
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error("STS AssumeRole answered without credentials.");
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiresAt: c.Expiration.getTime() };
  }
}

export function createStsClient(config: StsConfig): STSClient {
  return new STSClient({
    region: config.region,
    ...(config.endpoint && { endpoint: config.endpoint }),
    ...(config.credentials && { credentials: config.credentials }),
    maxAttempts: 3,
  });
}
