import { createRoute, z } from "@hono/zod-openapi";
import { guard } from "../../domain/backend-calls.js";
import { EVENT_TYPES } from "../../events/types.js";
import {
  createWebhook,
  deleteWebhook,
  getVisibleWebhook,
  listDeliveryAttempts,
  listWebhooks,
  redeliverEvents,
  resumeWebhook,
  rotateWebhookSecret,
  testWebhook,
} from "../../webhooks/manage.js";
import type { AttemptRecord, WebhookRecord } from "../../webhooks/store.js";
import type { App, AppOptions } from "../app.js";
import { BODY_LIMITS, limitBody } from "../body-limit.js";
import { errorResponses, json, security } from "../schemas.js";

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

const WebhookIdParam = z.object({
  id: z
    .string()
    .regex(/^wh_[A-Za-z0-9_-]{22}$/, "id must look like wh_…")
    .openapi({ param: { name: "id", in: "path" }, example: "wh_AAAAAAAAAAAAAAAAAAAAAA" }),
});

const EventTypesSchema = z.array(z.enum(EVENT_TYPES)).max(EVENT_TYPES.length * 2);

const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    eventTypes: EventTypesSchema.nullable().openapi({ description: "The event types it receives; null: all." }),
    keyPrefix: z.string().nullable().openapi({ description: "Set for a scoped key's webhook: it receives only events of files under this prefix." }),
    paused: z.boolean(),
    pausedAt: z.string().nullable(),
    pausedReason: z.string().nullable().openapi({ description: "Why it was paused (it kept failing); `POST /v1/webhooks/{id}/resume` sends on." }),
    lastSuccessAt: z.string().nullable(),
    consecutiveFailures: z.number().int(),
    previousSecretExpiresAt: z.string().nullable().openapi({ description: "After a rotation: until when the previous secret signs too." }),
    createdAt: z.string(),
  })
  .openapi("Webhook");

const NewSecretSchema = WebhookSchema.extend({
  secret: z.string().openapi({ description: "The signing secret (`whsec_…`), shown in this answer only.", example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
}).openapi("WebhookWithSecret");

const AttemptSchema = z
  .object({
    eventId: z.string(),
    attempt: z.number().int(),
    at: z.string(),
    status: z.number().int().nullable().openapi({ description: "The HTTP status; null when none came (timeout, refused connection or address)." }),
    latencyMs: z.number().int(),
    responseHead: z.string().nullable().openapi({ description: "The response body's first bytes (at most 1 KiB)." }),
    error: z.string().nullable(),
  })
  .openapi("WebhookAttempt");

const webhookView = (w: WebhookRecord) => ({
  id: w.id,
  url: w.url,
  eventTypes: w.eventTypes,
  keyPrefix: w.keyPrefix,
  paused: w.pausedAt !== null,
  pausedAt: isoOrNull(w.pausedAt),
  pausedReason: w.pausedReason,
  lastSuccessAt: isoOrNull(w.lastSuccessAt),
  consecutiveFailures: w.consecutiveFailures,
  previousSecretExpiresAt: isoOrNull(w.previousSecretUntil),
  createdAt: iso(w.createdAt),
});

const attemptView = (a: AttemptRecord) => ({
  eventId: a.eventId,
  attempt: a.attempt,
  at: iso(a.at),
  status: a.status,
  latencyMs: a.latencyMs,
  responseHead: a.responseHead,
  error: a.error,
});

const create = createRoute({
  method: "post",
  path: "/v1/webhooks",
  summary: "Add a webhook (Standard Webhooks); its signing secret is shown in this answer only",
  security,
  request: {
    body: {
      content: json(
        z
          .object({
            url: z.string().min(1).max(2048).openapi({ description: "http(s); refused if it resolves to a loopback, private, link-local or metadata address (SLUICE_WEBHOOK_ALLOW_PRIVATE)." }),
            eventTypes: EventTypesSchema.optional().openapi({ description: "Only these event types; absent or empty: all." }),
          })
          .strict()
          .openapi("WebhookRequest"),
      ),
      required: true,
    },
  },
  middleware: [limitBody(BODY_LIMITS.json)] as const,
  responses: { 201: { description: "The new webhook, with its secret", content: json(NewSecretSchema) }, ...errorResponses(400, 401, 403, 413, 503) },
});
const list = createRoute({
  method: "get",
  path: "/v1/webhooks",
  summary: "Webhooks (a scoped key sees only its own)",
  security,
  responses: { 200: { description: "Webhooks, oldest first", content: json(z.object({ items: z.array(WebhookSchema) }).openapi("WebhookList")) }, ...errorResponses(401, 403, 503) },
});
const get = createRoute({
  method: "get",
  path: "/v1/webhooks/{id}",
  summary: "A webhook, with whether it is paused and why",
  security,
  request: { params: WebhookIdParam },
  responses: { 200: { description: "The webhook", content: json(WebhookSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
});
const remove = createRoute({
  method: "delete",
  path: "/v1/webhooks/{id}",
  summary: "Delete a webhook with its deliveries and their log",
  security,
  request: { params: WebhookIdParam },
  responses: { 204: { description: "Deleted" }, ...errorResponses(400, 401, 403, 404, 503) },
});
const rotate = createRoute({
  method: "post",
  path: "/v1/webhooks/{id}/rotate",
  summary: "A new signing secret (shown once); the old one signs too for the overlap",
  security,
  request: {
    params: WebhookIdParam,
    body: {
      content: json(
        z
          .object({
            overlapSeconds: z.number().int().min(0).max(7 * 86400).optional().openapi({ description: "How long the old secret signs beside the new one (default 86400; 0 ends it now)." }),
          })
          .strict()
          .openapi("WebhookRotateRequest"),
      ),
      required: false,
    },
  },
  middleware: [limitBody(BODY_LIMITS.json)] as const,
  responses: { 200: { description: "The webhook, with its new secret", content: json(NewSecretSchema) }, ...errorResponses(400, 401, 403, 404, 413, 503) },
});
const test = createRoute({
  method: "post",
  path: "/v1/webhooks/{id}/test",
  summary: "Send a signed `webhook.test` event now and answer with how the endpoint answered",
  security,
  request: { params: WebhookIdParam },
  responses: {
    200: {
      description: "The attempt (also in the delivery log)",
      content: json(AttemptSchema.omit({ attempt: true, at: true }).extend({ ok: z.boolean() }).openapi("WebhookTestResult")),
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});
const resume = createRoute({
  method: "post",
  path: "/v1/webhooks/{id}/resume",
  summary: "Resume a paused webhook: what waited is sent now, with a fresh retry window",
  security,
  request: { params: WebhookIdParam },
  responses: { 200: { description: "The webhook", content: json(WebhookSchema) }, ...errorResponses(400, 401, 403, 404, 503) },
});
const deliveries = createRoute({
  method: "get",
  path: "/v1/webhooks/{id}/deliveries",
  summary: "The delivery log: every attempt, newest first",
  security,
  request: {
    params: WebhookIdParam,
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).default(100).openapi({ param: { name: "limit", in: "query" } }),
      cursor: z.string().max(300).optional().openapi({ param: { name: "cursor", in: "query" } }),
    }),
  },
  responses: {
    200: { description: "A page of attempts", content: json(z.object({ items: z.array(AttemptSchema), nextCursor: z.string().nullable() }).openapi("WebhookAttemptList")) },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});
const redeliver = createRoute({
  method: "post",
  path: "/v1/webhooks/{id}/redeliver",
  summary: "Send again one event, or every event made in a time range, that this webhook was to receive",
  security,
  request: {
    params: WebhookIdParam,
    body: {
      content: json(
        z
          .union([
            z.object({ eventId: z.string().regex(/^evt_[A-Za-z0-9_-]{1,64}$/, "eventId must look like evt_…") }).strict(),
            z
              .object({ since: z.iso.datetime({ offset: true }), until: z.iso.datetime({ offset: true }) })
              .strict()
              .refine((r) => Date.parse(r.since) < Date.parse(r.until), "since must be before until"),
          ])
          .openapi("WebhookRedeliverRequest"),
      ),
      required: true,
    },
  },
  middleware: [limitBody(BODY_LIMITS.json)] as const,
  responses: { 202: { description: "How many deliveries are due again", content: json(z.object({ redelivering: z.number().int() }).openapi("WebhookRedeliverResult")) }, ...errorResponses(400, 401, 403, 404, 413, 503) },
});

/** Webhooks (issue 18). API keys only (tokens are refused before these run); a scoped key sees and manages only its own. */
export function registerWebhookRoutes(app: App, { services }: AppOptions) {
  const metadata = <T>(call: () => Promise<T>) => guard("metadata store", call);
  app.openapi(create, async (c) => {
    const body = c.req.valid("json");
    const { webhook, secret } = await metadata(() => createWebhook(services, c.get("principal"), { url: body.url, eventTypes: body.eventTypes }));
    return c.json({ ...webhookView(webhook), secret }, 201);
  });
  app.openapi(list, async (c) => c.json({ items: (await metadata(() => listWebhooks(services, c.get("principal")))).map(webhookView) }, 200));
  app.openapi(get, async (c) => c.json(webhookView(await metadata(() => getVisibleWebhook(services, c.get("principal"), c.req.valid("param").id))), 200));
  app.openapi(remove, async (c) => {
    await metadata(() => deleteWebhook(services, c.get("principal"), c.req.valid("param").id));
    return c.body(null, 204);
  });
  app.openapi(rotate, async (c) => {
    // The body is optional (no body: the default overlap).
    const overlapSeconds = (c.req.valid("json") as { overlapSeconds?: number } | undefined)?.overlapSeconds;
    const { webhook, secret } = await metadata(() =>
      rotateWebhookSecret(services, c.get("principal"), c.req.valid("param").id, overlapSeconds === undefined ? undefined : overlapSeconds * 1000),
    );
    return c.json({ ...webhookView(webhook), secret }, 200);
  });
  app.openapi(test, async (c) => {
    const { eventId, result } = await metadata(() => testWebhook(services, c.get("principal"), c.req.valid("param").id));
    return c.json({ ok: result.ok, eventId, status: result.status, latencyMs: result.latencyMs, responseHead: result.responseHead, error: result.error }, 200);
  });
  app.openapi(resume, async (c) => c.json(webhookView(await metadata(() => resumeWebhook(services, c.get("principal"), c.req.valid("param").id))), 200));
  app.openapi(deliveries, async (c) => {
    const q = c.req.valid("query");
    const page = await metadata(() => listDeliveryAttempts(services, c.get("principal"), c.req.valid("param").id, { limit: q.limit, cursor: q.cursor }));
    return c.json({ items: page.items.map(attemptView), nextCursor: page.nextCursor }, 200);
  });
  app.openapi(redeliver, async (c) => {
    const body = c.req.valid("json");
    const selection = "eventId" in body ? { eventId: body.eventId } : { since: Date.parse(body.since), until: Date.parse(body.until) };
    const count = await metadata(() => redeliverEvents(services, c.get("principal"), c.req.valid("param").id, selection));
    return c.json({ redelivering: count }, 202);
  });
}
