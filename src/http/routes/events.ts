import { z, type OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { handleStorageEvent, isAuthenticEvent, S3EventSchema } from "../../domain/storage-events.js";
import { badRequest, unauthorized } from "../../errors.js";
import { BODY_LIMITS, limitBody, readJsonBody, type JsonBody } from "../body-limit.js";
import { invalidRequest } from "../errors.js";
import type { AppEnv, AppOptions } from "../app.js";
import { errorResponses, json } from "../schemas.js";

/** The events group's routes also see the body its check read. */
export type EventsEnv = { Variables: AppEnv["Variables"] & { event: JsonBody } };

/**
 * The events group's check: the events secret, in a header or (Ceph RGW, which sends no
 * headers) in every record. It needs the body, so it reads it, and hands it on to the route.
 */
function requireEventsSecret(eventsSecret: string): MiddlewareHandler<EventsEnv> {
  return async (c, next) => {
    const event = await readJsonBody(c);
    const headers = { authorization: c.req.header("authorization"), signature: c.req.header("x-sluice-signature") };
    if (!isAuthenticEvent(eventsSecret, headers, event.text, event.json ? event.value : undefined)) {
      throw unauthorized("Send the events secret as a bearer token, as the Basic password, as an X-Sluice-Signature HMAC of the body, or as each record's opaqueData.");
    }
    c.set("event", event);
    await next();
  };
}

const EventResultsSchema = z
  .object({
    results: z.array(
      z.object({
        eventName: z.string(),
        bucket: z.string(),
        key: z.string().openapi({ description: "URL-decoded (`+` is a space)" }),
        outcome: z.enum(["recorded", "known", "removed", "kept", "held", "absent", "ignored", "invalid_key", "unavailable"]),
      }),
    ),
  })
  .openapi("EventResults");

export function registerEventRoutes(app: OpenAPIHono<EventsEnv>, { services, eventsSecret }: AppOptions) {
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/v1/events/s3",
    summary: "An S3 event notification from storage (AWS, Ceph RGW or MinIO format); every record is handled, duplicates are harmless",
    description:
      "Authenticated with the events secret: `Authorization: Bearer <secret>`, HTTP Basic with the secret as the password, `X-Sluice-Signature: sha256=<hex HMAC-SHA256 of the body>`, or (Ceph RGW, which sends no headers) the secret as every record's `opaqueData`. Answers 503 if a backend was unavailable for any record, so that the sender retries. A record whose key Sluice could never have issued (undecodable, or with empty, `.` or `..` segments) is skipped and reported as `invalid_key`; an event made only of such records gets 400 `invalid_key`.",
    request: { body: { content: json(z.object({ Records: z.array(z.object({})) }).openapi("S3Event")), required: true } },
    responses: { 200: { description: "Every record, and what became of it", content: json(EventResultsSchema) }, ...errorResponses(400, 401, 413, 503) },
  });

  app.post("/v1/events/s3", limitBody(BODY_LIMITS.storageEvent), requireEventsSecret(eventsSecret), async (c) => {
    const body = c.get("event");
    if (!body.json) throw badRequest("invalid_json", "The event is not valid JSON.");
    const event = S3EventSchema.safeParse(body.value);
    if (!event.success) throw invalidRequest(event.error);
    const results = await handleStorageEvent(services, event.data);
    // Records with bad keys are skipped, and the rest answered 200, so that a sender that
    // retries a whole batch on a 4xx does not retry (or drop) the good ones with them. Only an
    // event made of nothing but bad keys is refused.
    if (results.length > 0 && results.every((r) => r.outcome === "invalid_key")) {
      throw badRequest("invalid_key", `No record of this event has a key Sluice could have issued (undecodable, or with empty, . or .. segments); ${results.length === 1 ? "it was" : "they were"} ignored.`);
    }
    return c.json({ results }, 200);
  });
}
