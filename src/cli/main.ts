#!/usr/bin/env node
/**
 * `sluice`: the command line. `setup` reads the server's own configuration (the environment
 * variables `npm start` reads) and talks to storage directly.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config.js";
import { SluiceApiError } from "@sluice/client";
import { UsageError, errorText, filesCommand, keysCommand, statusCommand, uploadCommand, urlCommand } from "./client-commands.js";
import { webhooksCommand } from "./webhook-commands.js";

const USAGE = `Usage: sluice <command> [options]

Commands:
  upload    Upload files (in parallel parts when large; resumable)
  url       Print a one-time upload URL for a file, without sending it
  status    An upload's state
  files     List, show, download or delete files
  keys      Create, list or revoke API keys
  webhooks  Add, list, remove or test webhooks; their delivery log; rotate, resume, redeliver
  setup     Make the configured storage ready for Sluice (idempotent)

The server and key come from --url and --key, SLUICE_URL and SLUICE_API_KEY, or a config
file (SLUICE_CONFIG, default ~/.config/sluice/config.json: {"url": "…", "apiKey": "…"}).

Run "sluice <command> --help" for a command's options.
`;

const SETUP_USAGE = `Usage: sluice setup [options]

Makes the storage that Sluice's environment variables configure ready, and can be run again
at any time with the same result:
  - creates the staging, archive and quarantine buckets that are missing;
  - applies CORS: SLUICE_CORS_ORIGINS (default: the origin of SLUICE_PUBLIC_URL) may upload
    to staging and download from the archive, and ETag is exposed;
  - adds lifecycle rules: incomplete multipart uploads are aborted a day after
    SLUICE_MULTIPART_TTL; nothing else expires (the sweep removes what no upload owns, and a
    failed file stays for an operator);
  - on Ceph RGW, pushes object-created events in staging to Sluice's webhook.
With SLUICE_STORAGE=fs it only creates the directories.

Options:
  --events <rgw|none>         how storage reports arrivals (default: rgw with a custom
                              endpoint, none on AWS; see docs/deploying-on-s3.md)
  --webhook-url <url>         where storage reaches Sluice (default: SLUICE_PUBLIC_URL/v1/events/s3)
  -h, --help                  show this help
`;

async function setup(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: "string" },
      "webhook-url": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(SETUP_USAGE);
    return 0;
  }
  const config = loadConfig(process.env);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  // Loaded here, not at start: the client commands need none of this (the AWS SDK alone is tens of MB).
  const { FsObjectStore } = await import("../storage/fs.js");
  const { createS3Client } = await import("../storage/s3.js");
  const { setupS3 } = await import("../storage/s3-setup.js");
  if (config.storage.kind === "fs") {
    const buckets = [config.buckets.staging, config.buckets.archive, ...(config.buckets.quarantine ? [config.buckets.quarantine] : [])];
    await new FsObjectStore({ root: config.storage.dir }).prepare(buckets);
    say(`directories ready under ${config.storage.dir}: ${buckets.join(", ")} (nothing else to set up for SLUICE_STORAGE=fs)`);
    return 0;
  }
  const events = values.events ?? (config.storage.endpoint ? "rgw" : "none");
  if (events !== "rgw" && events !== "none") throw new UsageError("--events must be rgw or none");
  const webhookUrl = values["webhook-url"] ?? `${config.publicUrl}/v1/events/s3`;
  if (!/^https?:\/\//.test(webhookUrl)) throw new UsageError("--webhook-url must be an http(s) URL");

  const client = createS3Client(config.storage);
  try {
    await setupS3(
      client,
      config.storage,
      {
        buckets: config.buckets,
        corsOrigins: config.corsOrigins,
        multipartTtlSeconds: config.multipartTtlSeconds,
        events: events === "rgw" ? { kind: "rgw", webhookUrl, secret: await eventsSecret(config) } : undefined,
      },
      say,
    );
  } finally {
    client.destroy();
  }
  if (events === "none") {
    say("notifications: not configured. Arrivals are found by the client's complete call and by the reconcile sweep (every SLUICE_RECONCILE_INTERVAL seconds); on AWS, the serverless stack (docs/aws.md) takes S3 events.");
  }
  return 0;
}

/** The secret the server checks events with: configured, or the one it keeps in its database. */
async function eventsSecret(config: ReturnType<typeof loadConfig>): Promise<string> {
  if (config.eventsSecret) return config.eventsSecret;
  const { createMetadataStore } = await import("../metadata/factory.js");
  const { newSecret } = await import("../internal/crypto.js");
  const metadata = await createMetadataStore(config.database);
  try {
    await metadata.migrate();
    return await metadata.getOrInitSetting("events_secret", newSecret(32));
  } finally {
    await metadata.close();
  }
}


/** One line for people. The SDK's errors for a bodiless 4xx say only "UnknownError": add the status and what it usually means. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status === undefined) return err.message;
  const hint = status === 403 ? "; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and their permissions" : status === 404 ? "; check AWS_ENDPOINT_URL_S3 and SLUICE_S3_FORCE_PATH_STYLE" : "";
  return `storage answered HTTP ${status} (${err.name}${err.message && err.message !== err.name ? `: ${err.message}` : ""})${hint}`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "setup":
      return setup(rest);
    case "upload":
      return uploadCommand(rest);
    case "url":
      return urlCommand(rest);
    case "status":
      return statusCommand(rest);
    case "files":
      return filesCommand(rest);
    case "keys":
      return keysCommand(rest);
    case "webhooks":
      return webhooksCommand(rest);
    case undefined:
    case "help":
    case "-h":
    case "--help":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof ConfigError || (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS"))) {
      process.stderr.write(`sluice: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`sluice: ${err instanceof SluiceApiError ? errorText(err) : describe(err)}\n`);
    process.exit(1);
  },
);
