/** Every variable Sluice reads, grouped as docs/configuration.md shows them. */
import { z } from "zod";
import { awsFields } from "./aws.js";
import { metadataFields } from "./metadata.js";
import { processingFields } from "./processing.js";
import { rateLimitFields } from "./rate-limits.js";
import { serverFields } from "./server.js";
import { storageFields } from "./storage.js";
import { stsFields } from "./sts.js";
import { ticketFields } from "./tickets.js";
import { uploadFields } from "./uploads.js";

/** One heading of the configuration page each; a variable belongs to exactly one. */
export const settingSections: { title: string; fields: Record<string, z.ZodType> }[] = [
  { title: "Server", fields: serverFields },
  { title: "Uploads and downloads", fields: uploadFields },
  { title: "Rate limits", fields: rateLimitFields },
  { title: "Processing", fields: processingFields },
  { title: "Object storage", fields: storageFields },
  { title: "Ticket store", fields: ticketFields },
  { title: "Metadata store", fields: metadataFields },
  { title: "AWS", fields: awsFields },
  { title: "Scoped credentials (STS)", fields: stsFields },
];

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
});

export type Env = z.output<typeof envSchema>;
