/** Every variable Sluice reads: each backend's own, joined into one schema. What each means is in descriptions.ts. */
import { z } from "zod";
import { awsFields } from "./aws.js";
import { metadataFields } from "./metadata.js";
import { processingFields } from "./processing.js";
import { rateLimitFields } from "./rate-limits.js";
import { serverFields } from "./server.js";
import { serverlessFields } from "./serverless.js";
import { storageFields } from "./storage.js";
import { stsFields } from "./sts.js";
import { ticketFields } from "./tickets.js";
import { uploadFields } from "./uploads.js";
import { webhookFields } from "./webhooks.js";

export const envSchema = z.object({
  ...serverFields,
  ...uploadFields,
  ...rateLimitFields,
  ...processingFields,
  ...storageFields,
  ...ticketFields,
  ...metadataFields,
  ...awsFields,
  ...stsFields,
  ...webhookFields,
  ...serverlessFields,
});

export type Env = z.output<typeof envSchema>;
