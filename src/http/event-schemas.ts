import { z } from "@hono/zod-openapi";
import { EVENT_TYPES } from "../events/types.js";

const iso = z.string().openapi({ format: "date-time", example: "2026-11-22T10:00:00.000Z" });

export const EventTypeSchema = z.enum(EVENT_TYPES).openapi("EventType");

/** `EventData` (src/events/types.ts), as the document shows it. */
export const EventDataSchema = z
  .object({
    uploadId: z.string(),
    fileId: z.string().optional().openapi({ description: "For uploads whose bytes arrived (absent from `upload.expired`)." }),
    key: z.string(),
    filename: z.string(),
    size: z.number().int(),
    declaredContentType: z.string(),
    contentType: z.string().nullable().openapi({ description: "Detected from the content: set on `upload.archived`, and on a rejection that detected one." }),
    sha256: z.string().nullable(),
    metadata: z.record(z.string(), z.string()).openapi({ description: "The client's metadata with the key's or token's fixed metadata (`sluice-token`) in it." }),
    reason: z.string().optional().openapi({ description: "Why: on `upload.rejected` (`<code>: <text>`) and `upload.failed`." }),
    apiKeyId: z.string().nullable(),
    state: z.enum(["archived", "rejected", "failed", "expired", "deleted"]),
  })
  .openapi("EventData");

/**
 * One event exactly as a webhook delivers it (`webhookPayload`): the feed and the server-sent
 * events carry the same body, so one parser serves every way of hearing.
 */
export const EventSchema = z
  .object({
    type: EventTypeSchema,
    timestamp: iso.openapi({ description: "When the change was committed." }),
    id: z.string().openapi({ description: "`evt_…`, unique: the webhook's `webhook-id`; dedupe by it.", example: "evt_…" }),
    seq: z.number().int().openapi({ description: "1, 2, … per upload, in the order of its changes." }),
    data: EventDataSchema,
  })
  .openapi("Event");

export const EventFeedSchema = z
  .object({
    events: z.array(EventSchema),
    cursor: z.string().openapi({ description: "Pass as `after` to read on; the same cursor when nothing new was there (the feed has no end)." }),
  })
  .openapi("EventFeed");
