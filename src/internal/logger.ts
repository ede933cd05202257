import { pino, type Logger } from "pino";

export type { Logger };

/**
 * JSON logs. Secrets never reach them: the HTTP layer logs route patterns, not URLs with
 * signatures, and these paths are redacted wherever they appear.
 */
export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: "sluice" },
      redact: {
        paths: [
          "authorization",
          "*.authorization",
          "headers.authorization",
          "*.headers.authorization",
          "apiKey",
          "*.apiKey",
          "secret",
          "*.secret",
          "signature",
          "*.signature",
          "url",
          "*.url",
        ],
        censor: "[redacted]",
      },
    },
    options.destination,
  );
}
