/**
 * The Lambda processor as the resumable-copy test builds it, in this process or a child: the
 * real assembly (`assembleSluice` with Lambda's runtime) on the shared RGW and a SQLite file,
 * with an S3 client that logs every UploadPartCopy it starts and finishes (and, to hold a run
 * mid-copy long enough to cut it, can wait before each). Run as a script, it is one Lambda
 * invocation of `index.continue` for one upload: the child that the test kills.
 */
import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSEvent } from "aws-lambda";
import { loadConfig, type Config } from "../../src/config.js";
import { createLogger } from "../../src/internal/logger.js";
import { createMetadataStore } from "../../src/metadata/factory.js";
import { assembleSluice, type Sluice } from "../../src/runtime/assemble.js";
import { lambdaRuntime } from "../../src/runtime/lambda/adapter.js";
import { lambdaHandlers } from "../../src/runtime/lambda/handlers.js";
import { S3ObjectStore, createS3Client, presignerFor } from "../../src/storage/s3.js";
import { createTicketStore } from "../../src/tickets/factory.js";

/** One line per UploadPartCopy event: `start <part>` before it is sent, `done <part>` once storage answered. */
export function logPartCopies(client: S3Client, options: { log: (line: string) => void; delayMs?: number }): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== "UploadPartCopyCommand") return next(args);
      const n = (args.input as { PartNumber?: number }).PartNumber;
      options.log(`start ${n}`);
      if (options.delayMs) await sleep(options.delayMs);
      const result = await next(args);
      options.log(`done ${n}`);
      return result;
    },
    { step: "initialize", name: "testLogPartCopies" },
  );
}

/** What the continuation queue delivers to `index.continue`: one message naming the job. */
export function continueEvent(uploadId: string): SQSEvent {
  return {
    Records: [
      {
        messageId: `msg-${uploadId}-${Date.now()}`,
        receiptHandle: "MessageReceiptHandle",
        body: JSON.stringify({ sluice: "continue", uploadId }),
        attributes: { ApproximateReceiveCount: "1", SentTimestamp: String(Date.now()), SenderId: "123456789012", ApproximateFirstReceiveTimestamp: String(Date.now()) },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:sluice-continuations",
        awsRegion: "us-east-1",
      },
    ],
  };
}

export async function buildLambdaProcessor(env: Record<string, string>, options: { log: (line: string) => void; delayMs?: number }) {
  const config: Config = loadConfig(env);
  if (config.storage.kind !== "s3") throw new Error("the resumable-copy test runs on S3");
  const client = createS3Client(config.storage);
  logPartCopies(client, options);
  const logger = createLogger({ level: (env.TEST_LOG_LEVEL as "silent" | undefined) ?? "silent" });
  const sluice: Sluice = await assembleSluice(
    config,
    {
      objects: new S3ObjectStore({ client, singleCopyMax: config.storage.singleCopyMax, copyPartSize: config.storage.copyPartSize, copyConcurrency: config.storage.copyConcurrency }),
      presigner: presignerFor(client, config.storage),
      metadata: await createMetadataStore(config.database),
      tickets: await createTicketStore(config.tickets),
      processors: [],
    },
    { logger, runtime: lambdaRuntime({ logger }) },
  );
  sluice.start({ healthChecks: false, reconcileLoop: false });
  return { sluice, client, handlers: lambdaHandlers(Promise.resolve(sluice)) };
}

// As a script: one `continue` invocation for the upload named in the environment, logging to a file.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  const logFile = process.env.TEST_PART_LOG!;
  const { handlers } = await buildLambdaProcessor(process.env as Record<string, string>, {
    log: (line) => fs.appendFileSync(logFile, `${line}\n`),
    delayMs: Number(process.env.TEST_PART_DELAY_MS ?? 0),
  });
  fs.appendFileSync(logFile, "ready\n");
  await handlers.continue(continueEvent(process.env.TEST_UPLOAD_ID!));
  fs.appendFileSync(logFile, "finished\n");
}
