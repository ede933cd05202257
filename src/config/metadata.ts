/** The metadata store: a SQLite file, PostgreSQL or a DynamoDB table. Parsing loads no driver; the metadata factory does. */
import path from "node:path";
import { z } from "zod";
import { ConfigError, isUrl, wholeNumber } from "./fields.js";
import type { AwsConnection } from "./aws.js";
import type { DatabaseConfig } from "./types.js";

export const metadataFields = {
  SLUICE_DATABASE: z.string().min(1).optional(),
  SLUICE_EVENTS_RETENTION: wholeNumber("seconds", 60, 365 * 24 * 3600).default(7 * 24 * 3600),
  SLUICE_EXPIRY_GRACE: wholeNumber("seconds", 0, 7 * 24 * 3600).default(300),
};

type MetadataEnv = z.output<z.ZodObject<typeof metadataFields>>;

export function parseDatabase(e: MetadataEnv & { AWS_ENDPOINT_URL_DYNAMODB?: string | undefined }, dataDir: string, aws: AwsConnection): DatabaseConfig {
  const value = e.SLUICE_DATABASE ?? `sqlite:${path.join(dataDir, "sluice.db")}`;
  if (value.startsWith("sqlite:")) {
    const file = value.slice("sqlite:".length);
    if (!file) throw new ConfigError("Invalid SLUICE_DATABASE: expected sqlite:<path>");
    return { kind: "sqlite", path: file === ":memory:" ? file : path.resolve(file) };
  }
  if (isUrl(value, ["postgres:", "postgresql:"])) return { kind: "postgres", url: value };
  const table = /^dynamodb:\/\/([A-Za-z0-9_.-]{3,255})$/.exec(value)?.[1];
  if (table) return { kind: "dynamodb", table, region: aws.region, endpoint: e.AWS_ENDPOINT_URL_DYNAMODB ?? aws.endpoint, credentials: aws.credentials };
  throw new ConfigError("Invalid SLUICE_DATABASE: expected sqlite:<path>, postgres://user:password@host:port/database or dynamodb://<table>");
}
