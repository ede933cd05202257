/** How webhooks are delivered (issue 18): the attempt's timeout, the retry schedule, when an endpoint is paused, and which addresses it may reach. */
import { z } from "zod";
import { wholeNumber } from "./fields.js";
import type { WebhookConfig } from "./types.js";

export const webhookFields = {
  SLUICE_WEBHOOK_TIMEOUT: wholeNumber("seconds", 1, 300).default(10),
  SLUICE_WEBHOOK_RETRY_FOR: wholeNumber("seconds", 1, 30 * 86400).default(86400),
  SLUICE_WEBHOOK_BACKOFF: wholeNumber("milliseconds", 1, 3_600_000).default(5000),
  SLUICE_WEBHOOK_BACKOFF_MAX: wholeNumber("milliseconds", 1, 86_400_000).default(3_600_000),
  SLUICE_WEBHOOK_PAUSE_AFTER: wholeNumber("seconds", 1, 30 * 86400).default(21600),
  SLUICE_WEBHOOK_PAUSE_FAILURES: wholeNumber("a count", 1, 1_000_000).default(20),
  SLUICE_WEBHOOK_ALLOW_PRIVATE: z.enum(["true", "false", "1", "0"], "expected true or false").default("false"),
};

export function parseWebhooks(e: { [K in keyof typeof webhookFields]: z.output<(typeof webhookFields)[K]> }): WebhookConfig {
  return {
    timeoutMs: e.SLUICE_WEBHOOK_TIMEOUT * 1000,
    retryForMs: e.SLUICE_WEBHOOK_RETRY_FOR * 1000,
    backoffMs: e.SLUICE_WEBHOOK_BACKOFF,
    backoffMaxMs: Math.max(e.SLUICE_WEBHOOK_BACKOFF, e.SLUICE_WEBHOOK_BACKOFF_MAX),
    pauseAfterMs: e.SLUICE_WEBHOOK_PAUSE_AFTER * 1000,
    pauseFailures: e.SLUICE_WEBHOOK_PAUSE_FAILURES,
    allowPrivate: e.SLUICE_WEBHOOK_ALLOW_PRIVATE === "true" || e.SLUICE_WEBHOOK_ALLOW_PRIVATE === "1",
  };
}
