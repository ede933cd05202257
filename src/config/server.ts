/** The process: where it listens, its connection limits, its keys and secrets, its logs. */
import { z } from "zod";
import { httpUrl, list, secret, wholeNumber } from "./fields.js";

export const serverFields = {
  PORT: wholeNumber("a TCP port", 0, 65535).default(8080),
  HOST: z.string().min(1).default("127.0.0.1"),
  SLUICE_PUBLIC_URL: httpUrl().optional(),
  SLUICE_DATA_DIR: z.string().min(1).default("./data"),
  SLUICE_API_KEYS: list().default([]),
  SLUICE_SIGNING_SECRET: secret("SLUICE_SIGNING_SECRET").optional(),
  SLUICE_EVENTS_SECRET: secret("SLUICE_EVENTS_SECRET").optional(),
  SLUICE_BODY_IDLE_TIMEOUT: wholeNumber("seconds", 1, 3600).default(60),
  SLUICE_HEADERS_TIMEOUT: wholeNumber("seconds", 1, 3600).default(60),
  SLUICE_KEEP_ALIVE_TIMEOUT: wholeNumber("seconds", 1, 3600).default(65),
  SLUICE_REQUEST_TIMEOUT: wholeNumber("seconds", 0, 7 * 24 * 3600).default(0),
  SLUICE_MAX_CONNECTIONS: wholeNumber("a count of connections", 1, 1_000_000).default(500),
  SLUICE_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], "expected a pino level such as info").default("info"),
};
