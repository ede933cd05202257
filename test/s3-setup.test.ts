/**
 * `sluice setup` against a real Ceph RGW, then the whole direct flow with no complete call:
 * curl uploads to the presigned URL, RGW pushes its event to Sluice's webhook, and the file
 * reaches the archive bucket and leaves staging.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { GetBucketLifecycleConfigurationCommand, GetBucketNotificationConfigurationCommand, GetObjectCommand, PutBucketLifecycleConfigurationCommand, type S3Client } from "@aws-sdk/client-s3";
import { DeleteTopicCommand, ListTopicsCommand, SNSClient } from "@aws-sdk/client-sns";
import { PNG, sha256, uploadRequest } from "./helpers/fixtures.js";
import { type Rgw, startSluiceOnRgw, type SluiceOnRgw } from "./helpers/rgw.js";
import { ROOT, waitForFinal, type TestServer } from "./helpers/server.js";

const run = promisify(execFile);
const CLI = path.join(ROOT, "dist/cli/main.js");
const ORIGIN = "http://app.example.test";

let sluice: SluiceOnRgw;
let rgw: Rgw;
let s3: S3Client;
let server: TestServer;
let staging: string;
let archive: string;
let env: Record<string, string>;

before(async () => {
  sluice = await startSluiceOnRgw({
    SLUICE_CORS_ORIGINS: ORIGIN,
    // Only the start-up sweep: arrival here must come from RGW's events.
    SLUICE_RECONCILE_INTERVAL: "86400",
  });
  ({ rgw, s3, server, staging, archive, env } = sluice);
});
after(async () => {
  if (!sluice) return;
  // The notification topic setup made (RGW keeps topics per tenant, not per bucket).
  const sns = new SNSClient({ endpoint: rgw.endpoint, region: "us-east-1", credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } });
  const topics = (await sns.send(new ListTopicsCommand({})).catch(() => undefined))?.Topics ?? [];
  for (const t of topics) if (t.TopicArn?.endsWith(`:sluice-${staging}`)) await sns.send(new DeleteTopicCommand({ TopicArn: t.TopicArn }));
  sns.destroy();
  await sluice.close();
});

/** `sluice setup` as an operator runs it: the server's environment, and its data directory (for the events secret). */
const setupWith = (extra: Record<string, string>, ...args: string[]) =>
  run(process.execPath, [CLI, "setup", ...args], {
    env: { PATH: process.env.PATH ?? "", ...env, SLUICE_DATA_DIR: server.dataDir, SLUICE_PUBLIC_URL: server.url, ...extra },
  });
const setup = (...args: string[]) => setupWith({}, ...args);

describe("sluice setup on RGW", () => {
  it("applies CORS, lifecycle and notifications, keeps other lifecycle rules, and gives the same result twice", async () => {
    // A rule of the operator's own, which setup must keep.
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: staging,
        LifecycleConfiguration: { Rules: [{ ID: "operators-own", Status: "Enabled", Filter: { Prefix: "tmp/" }, Expiration: { Days: 30 } }] },
      }),
    );
    const first = await setup();
    assert.match(first.stdout, /notifications: object-created events in staging-\w+ are pushed to http:\/\/127\.0\.0\.1:\d+\/v1\/events\/s3/);
    const second = await setup();
    assert.equal(second.stdout, first.stdout);

    // Storage deletes nothing the records may still call pending or failed: no expiry in staging,
    // and parts are kept a day longer than a multipart upload may take (SLUICE_MULTIPART_TTL, 1 day by default).
    const rules = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: staging }))).Rules ?? [];
    assert.deepEqual(rules.map((r) => r.ID).sort(), ["operators-own", "sluice-abort-incomplete-multipart"]);
    assert.equal(rules.find((r) => r.ID === "sluice-abort-incomplete-multipart")?.AbortIncompleteMultipartUpload?.DaysAfterInitiation, 2);
    assert.ok(rules.filter((r) => r.ID?.startsWith("sluice-")).every((r) => r.Expiration === undefined), "no sluice rule expires objects");
    // A week-long multipart TTL: parts kept 8 days; then back to the default.
    await setupWith({ SLUICE_MULTIPART_TTL: String(7 * 24 * 3600) });
    const weekRules = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: staging }))).Rules ?? [];
    assert.equal(weekRules.find((r) => r.ID === "sluice-abort-incomplete-multipart")?.AbortIncompleteMultipartUpload?.DaysAfterInitiation, 8);
    assert.equal((await setup()).stdout, first.stdout);

    const notifications = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: staging }));
    assert.deepEqual(notifications.TopicConfigurations?.map((t) => t.Events), [["s3:ObjectCreated:*"]]);

    // A browser's preflight for a direct PUT from the configured origin, and from another.
    const preflight = (origin: string) =>
      fetch(`${rgw.endpoint}/${staging}/upl_x/cat.png`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "PUT", "access-control-request-headers": "content-type,if-none-match" },
      });
    const allowed = await preflight(ORIGIN);
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers.get("access-control-allow-origin"), ORIGIN);
    assert.match(allowed.headers.get("access-control-expose-headers") ?? "", /etag/i);
    const other = await preflight("http://evil.example.test");
    assert.notEqual(other.headers.get("access-control-allow-origin"), "http://evil.example.test");
  });

  it("says in one line what is wrong when storage refuses the credentials", async () => {
    const refused = await run(process.execPath, [CLI, "setup"], {
      env: { PATH: process.env.PATH ?? "", ...env, AWS_SECRET_ACCESS_KEY: "not-the-secret", SLUICE_DATA_DIR: server.dataDir },
    }).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(refused?.code, 1);
    assert.match(refused.stderr, /^sluice: storage answered HTTP 403 .*check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/m);
  });

  it("archives a file uploaded with curl to the presigned URL, with no complete call", async () => {
    const body = randomBytes(256 * 1024);
    body.set(PNG, 0);
    const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "sluice-curl-")), "cat.png");
    await fs.writeFile(file, body);
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(body, { sha256: sha256(body) }));
    assert.equal(issued.status, 201);
    const { url, headers } = issued.body.upload as { url: string; headers: Record<string, string> };
    const headerArgs = Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]);
    const curl = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", file, ...headerArgs, url]);
    assert.equal(curl.stdout, "200");

    // RGW 16 picks up a new persistent topic's queue on its next scan, up to about 30 s after
    // `sluice setup` (18–27 s seen here); events flow at once after that.
    const final = await waitForFinal(server, issued.body.id, 60_000);
    assert.equal(final.state, "archived", final.reason);
    // Held in staging while the URL lives: curl's second try is refused by storage itself.
    const again = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", file, ...headerArgs, url]);
    assert.equal(again.stdout, "412");
    await fs.rm(path.dirname(file), { recursive: true });
    const archived = await s3.send(new GetObjectCommand({ Bucket: archive, Key: issued.body.key }));
    assert.equal(sha256(await archived.Body!.transformToByteArray()), sha256(body));
    // The event, not a sweep, reported it.
    assert.ok(server.logs.some((l) => l.msg === "upload arrived" && l.uploadId === issued.body.id && l.via === "event"));
  });
});
