import {
  GetBucketLifecycleConfigurationCommand,
  PutBucketCorsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  S3ServiceException,
  type LifecycleRule,
  type S3Client,
} from "@aws-sdk/client-s3";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import type { S3StoreOptions } from "./s3.js";
import { S3ObjectStore } from "./s3.js";
import { multipartAbortDays } from "./lifecycle.js";

export interface S3SetupOptions {
  buckets: { staging: string; archive: string; quarantine?: string | undefined };
  /** Browser origins allowed to upload to staging (and read the archive). */
  corsOrigins: string[];
  /** How long a multipart upload may take (SLUICE_MULTIPART_TTL): its parts are kept at least that long. */
  multipartTtlSeconds: number;
  /**
   * Where storage should push object-created events: Sluice's `/v1/events/s3`, and the
   * secret that authenticates them. `undefined` skips notifications.
   */
  events: { webhookUrl: string; secret: string; kind: "rgw" } | undefined;
}

/** Rules `sluice setup` owns, by ID; other rules on the bucket are kept as they are. */
const RULE_PREFIX = "sluice-";

/**
 * Makes S3 storage ready for Sluice. Idempotent: run it again and the result is the same.
 * Reports each step as a line for people.
 */
export async function setupS3(client: S3Client, store: S3StoreOptions, options: S3SetupOptions, say: (line: string) => void): Promise<void> {
  const { staging, archive, quarantine } = options.buckets;
  const all = [staging, archive, ...(quarantine ? [quarantine] : [])];
  await new S3ObjectStore({ client }).prepare(all);
  say(`buckets ready: ${all.join(", ")}`);

  // Browsers upload straight to staging (PUT or a POST form) and read the ETag of each part.
  await client.send(
    new PutBucketCorsCommand({
      Bucket: staging,
      CORSConfiguration: {
        CORSRules: [{ ID: "sluice-uploads", AllowedOrigins: options.corsOrigins, AllowedMethods: ["PUT", "POST"], AllowedHeaders: ["*"], ExposeHeaders: ["ETag"], MaxAgeSeconds: 3600 }],
      },
    }),
  );
  await client.send(
    new PutBucketCorsCommand({
      Bucket: archive,
      CORSConfiguration: {
        CORSRules: [{ ID: "sluice-downloads", AllowedOrigins: options.corsOrigins, AllowedMethods: ["GET", "HEAD"], AllowedHeaders: ["*"], ExposeHeaders: ["ETag", "Content-Disposition"], MaxAgeSeconds: 3600 }],
      },
    }),
  );
  say(`CORS: ${options.corsOrigins.join(", ")} may upload to ${staging} (exposing ETag) and download from ${archive}`);

  // Only incomplete multipart uploads expire at storage, once no ticket can complete them;
  // anything else in staging is the records' to judge (a failed file waits for an operator).
  const abortDays = multipartAbortDays(options.multipartTtlSeconds);
  const abortMultipart = (days: number): LifecycleRule => ({ ID: `${RULE_PREFIX}abort-incomplete-multipart`, Status: "Enabled", Filter: { Prefix: "" }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: days } });
  await putLifecycleRules(client, staging, [abortMultipart(abortDays)]);
  // Server-side copies above 5 GiB are multipart too; a crash mid-copy must not leave parts behind.
  await putLifecycleRules(client, archive, [abortMultipart(1)]);
  say(`lifecycle: incomplete multipart uploads in ${staging} are aborted after ${abortDays} days (SLUICE_MULTIPART_TTL, plus a day), in ${archive} after 1 day; nothing else expires`);

  if (options.events) {
    const arn = await createRgwTopic(store, options.events, staging);
    await client.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: staging,
        NotificationConfiguration: { TopicConfigurations: [{ Id: "sluice", TopicArn: arn, Events: ["s3:ObjectCreated:*"] }] },
      }),
    );
    say(`notifications: object-created events in ${staging} are pushed to ${options.events.webhookUrl} (topic ${arn})`);
  }
}

/** Replaces Sluice's own rules and keeps everyone else's (the API sets the whole configuration at once). */
async function putLifecycleRules(client: S3Client, bucket: string, rules: LifecycleRule[]): Promise<void> {
  let existing: LifecycleRule[] = [];
  try {
    existing = (await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? [];
  } catch (err) {
    if (!(err instanceof S3ServiceException && (err.name === "NoSuchLifecycleConfiguration" || err.$metadata.httpStatusCode === 404))) throw err;
  }
  const kept = existing.filter((r) => !r.ID?.startsWith(RULE_PREFIX));
  await client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [...kept, ...rules] } }));
}

/**
 * Ceph RGW's notifications: an SNS-style topic whose push endpoint is the webhook. The
 * events secret travels as the topic's opaque data, which RGW copies into every record
 * (`opaqueData`): RGW refuses credentials in a plain-HTTP endpoint URL, and cannot send
 * headers of its own. The topic is persistent, so RGW retries delivery until Sluice answers.
 * Creating an existing topic updates it.
 */
async function createRgwTopic(store: S3StoreOptions, events: { webhookUrl: string; secret: string }, staging: string): Promise<string> {
  const sns = new SNSClient({
    region: store.region,
    ...(store.endpoint && { endpoint: store.endpoint }),
    ...(store.credentials && { credentials: store.credentials }),
  });
  try {
    const topic = await sns.send(
      new CreateTopicCommand({
        Name: `sluice-${staging}`,
        Attributes: { "push-endpoint": events.webhookUrl, OpaqueData: events.secret, persistent: "true" },
      }),
    );
    if (!topic.TopicArn) throw new Error("storage created the notification topic but returned no ARN");
    return topic.TopicArn;
  } catch (err) {
    // MinIO, R2 and AWS S3 itself have no RGW-style topics: say what to do instead.
    throw new Error(
      `storage did not accept an RGW notification topic (${err instanceof Error ? err.message : String(err)}). ` +
        "If this is not Ceph RGW, run `sluice setup --events none` and configure notifications as docs/deploying-on-s3.md says.",
      { cause: err },
    );
  } finally {
    sns.destroy();
  }
}
