/** The metadata store: a SQLite file or PostgreSQL. Parsing loads no driver; the metadata factory does. */
import path from "node:path";
import { z } from "zod";
import { ConfigError, isUrl, wholeNumber } from "./fields.js";
import type { DatabaseConfig } from "./types.js";

export const metadataFields = {
  SLUICE_DATABASE: z.string().min(1).optional(),
  SLUICE_EVENTS_RETENTION: wholeNumber("seconds", 60, 365 * 24 * 3600).default(7 * 24 * 3600),
  SLUICE_EXPIRY_GRACE: wholeNumber("seconds", 0, 7 * 24 * 3600).default(300),
};

type MetadataEnv = z.output<z.ZodObject<typeof metadataFields>>;

export function parseDatabase(e: MetadataEnv, dataDir: string): DatabaseConfig {
  const value = e.SLUICE_DATABASE ?? `sqlite:${path.join(dataDir, "sluice.db")}`;
  if (value.startsWith("sqlite:")) {
    const file = value.slice("sqlite:".length);
    if (!file) throw new ConfigError("Invalid SLUICE_DATABASE: expected sqlite:<path>");
    return { kind: "sqlite", path: file === ":memory:" ? file : path.resolve(file) };
  }
  if (isUrl(value, ["postgres:", "postgresql:"])) return { kind: "postgres", url: value };
  throw new ConfigError("Invalid SLUICE_DATABASE: expected sqlite:<path> or postgres://user:password@host:port/database");
}
