import { createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { clampFeedWaitMs, readEventFeed, MAX_FEED_WAIT_SECONDS } from "../../domain/event-feed.js";
import { followUpload, UPLOAD_STREAM_MAX_MS, type UploadStreamMessage } from "../../domain/upload-stream.js";
import { EVENT_TYPES, webhookPayload, type EventType } from "../../events/types.js";
import { badRequest } from "../../errors.js";
import type { App, AppOptions } from "../app.js";
import { invalidRequest } from "../errors.js";
import { EventFeedSchema } from "../event-schemas.js";
import { IdParam, errorResponses, json, security } from "../schemas.js";
import { uploadView } from "../views.js";

/** Keep-alive comments at most this far apart, so that no proxy takes a quiet stream for a dead one. */
const KEEP_ALIVE_MS = 15_000;
/** What a client is told to wait before it reconnects (`retry:`), where the stream is live. */
const RECONNECT_MS = 1000;
/**
 * Where the runtime buffers a response (Lambda behind API Gateway), the stream is the current
 * state and this hint, so that an EventSource reconnects at a polling pace.
 */
const BUFFERED_RECONNECT_MS = 3000;

const feed = createRoute({
  method: "get",
  path: "/v1/events",
  summary: "The pull feed: events in commit order, paginated, with long polling",
  description:
    `For apps that cannot receive webhooks. Start without \`after\`, then pass each answer's \`cursor\` as \`after\`. A scoped key sees only the events of files under its prefix; browser tokens may not read the feed. With \`wait\`, an empty page is held until an event is written or the wait is over (at most ${MAX_FEED_WAIT_SECONDS} s, more is read as ${MAX_FEED_WAIT_SECONDS}; and under the server's idle timeout). Events are kept for \`SLUICE_EVENTS_RETENTION\`.`,
  security,
  request: {
    query: z.object({
      after: z.string().min(1).max(200).optional().openapi({ param: { name: "after", in: "query" }, description: "A `cursor` from an earlier answer; absent: from the oldest event kept." }),
      limit: z.coerce.number().int().min(1).max(1000).default(100).openapi({ param: { name: "limit", in: "query" } }),
      wait: z
        .string()
        .regex(/^\d{1,6}$/, "wait must be whole seconds")
        .optional()
        .openapi({ param: { name: "wait", in: "query" }, description: `Seconds to hold an empty page for new events (at most ${MAX_FEED_WAIT_SECONDS}).`, example: "20" }),
      types: z
        .string()
        .max(200)
        .optional()
        .openapi({ param: { name: "types", in: "query" }, description: `Only these types, comma-separated: ${EVENT_TYPES.join(", ")}.`, example: "upload.archived,upload.rejected" }),
    }),
  },
  responses: { 200: { description: "A page of events (empty when none came within the wait)", content: json(EventFeedSchema) }, ...errorResponses(400, 401, 403, 503) },
});

const uploadEvents = createRoute({
  method: "get",
  path: "/v1/uploads/{id}/events",
  summary: "Server-sent events for one upload: its state, then each of its events, until it settles",
  description: [
    "A `text/event-stream` (read it with fetch and `Authorization`, as EventSource cannot send that header; a browser upload token may follow its own uploads).",
    "First `event: state` with the upload as `GET /v1/uploads/{id}` answers it; then each new event of the upload (`id:` the event's id, `event:` its type, `data:` the event as webhooks deliver it), each followed by the state it left.",
    "With `Last-Event-ID`, the events after that one are sent again first. Comments keep the connection alive every 15 s.",
    `The stream ends after a settled state (archived, rejected, failed, expired, cancelled), or after ${UPLOAD_STREAM_MAX_MS / 60_000} minutes (reconnect with \`Last-Event-ID\`).`,
    "On AWS Lambda (API Gateway buffers answers) the stream is the current state and a `retry:` hint, then ends.",
  ].join(" "),
  security,
  request: {
    params: IdParam("upl"),
    headers: z.object({ "last-event-id": z.string().max(200).optional().openapi({ description: "The id of the last event received: the events after it are sent again." }) }),
  },
  responses: {
    200: { description: "The stream", content: { "text/event-stream": { schema: z.string().openapi({ example: 'event: state\ndata: {"id":"upl_…","state":"processing",…}\n\n' }) } } },
    ...errorResponses(400, 401, 404, 503),
  },
});

/** `?types=a,b`: each one a known event type. */
function parseTypes(list: string | undefined): EventType[] | undefined {
  if (list === undefined || list === "") return undefined;
  const types = list.split(",").map((t) => t.trim());
  const unknown = types.find((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (unknown !== undefined) throw badRequest("invalid_request", `types: ${JSON.stringify(unknown)} is not an event type (${EVENT_TYPES.join(", ")}).`);
  return types as EventType[];
}

/** A signal that aborts when the client goes away: the request's own (Node, Workers) or the stream's cancel. */
function clientGone(request: Request): AbortController {
  const gone = new AbortController();
  request.signal.addEventListener("abort", () => gone.abort(), { once: true });
  return gone;
}

export function registerFeedRoutes(app: App, { services, streaming = true }: AppOptions) {
  app.openapi(feed, async (c) => {
    const q = c.req.valid("query");
    const gone = clientGone(c.req.raw);
    const page = await readEventFeed(services, c.get("principal"), {
      after: q.after,
      limit: q.limit,
      types: parseTypes(q.types),
      waitMs: q.wait === undefined ? 0 : clampFeedWaitMs(Number(q.wait), services.config.bodyIdleTimeoutMs),
      signal: gone.signal,
    });
    return c.json({ events: page.events.map(webhookPayload), cursor: page.cursor }, 200);
  });

  // Registered for the document; served by hand, as the answer is a stream, not JSON. The scope
  // check (a scoped key's prefix, a token's own uploads) is the middleware on /v1/uploads/:id/*.
  app.openAPIRegistry.registerPath(uploadEvents);
  app.get("/v1/uploads/:id/events", async (c) => {
    const param = IdParam("upl").safeParse({ id: c.req.param("id") });
    if (!param.success) throw invalidRequest(param.error);
    const lastEventId = c.req.header("last-event-id")?.slice(0, 200) || undefined;
    const gone = clientGone(c.req.raw);
    const messages = followUpload(services, param.data.id, { lastEventId, signal: gone.signal, ...(!streaming && { maxMs: 0 }) });
    // The first message (the state) before the stream opens: an unknown upload or a backend
    // down is a JSON error with its status, not a stream that ends at once.
    const first = await messages.next();
    if (c.req.method === "HEAD") {
      // Hono answers HEAD with the GET handler and drops the body unread: a stream would never end.
      await messages.return(undefined);
      return c.body(null, 200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    }
    if (!streaming) {
      // The whole answer at once, as a buffering runtime would send it anyway, without the
      // chunked-stream headers a buffered answer must not carry.
      let text = first.done ? "" : formatMessage({ ...messageOf(first.value), retry: BUFFERED_RECONNECT_MS });
      for await (const message of messages) text += formatMessage(messageOf(message));
      return c.body(text, 200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    }
    const keepAliveMs = Math.min(KEEP_ALIVE_MS, services.config.bodyIdleTimeoutMs / 2);
    // nginx and its kin buffer what they proxy unless told not to.
    c.header("x-accel-buffering", "no");
    return streamSSE(
      c,
      async (stream) => {
        stream.onAbort(() => gone.abort());
        // The generator ends itself at UPLOAD_STREAM_MAX_MS; a stream whose reader stopped reading
        // without cancelling it (a write that never completes) is cut off soon after, so that no
        // timer and no wait outlives it.
        const cutOffAt = Date.now() + UPLOAD_STREAM_MAX_MS + 2 * keepAliveMs;
        const keepAlive = setInterval(() => {
          if (Date.now() < cutOffAt) return void stream.write(": keep-alive\n\n");
          gone.abort();
          stream.abort();
        }, keepAliveMs);
        try {
          if (!first.done) await stream.writeSSE({ ...messageOf(first.value), retry: RECONNECT_MS });
          for await (const message of messages) await stream.writeSSE(messageOf(message));
        } finally {
          clearInterval(keepAlive);
          gone.abort(); // ends the generator's wait if the stream ended first
        }
      },
      // Hono then sends `event: error` with the message (a backend's name, never a secret), and
      // the client reconnects.
      (err) => {
        services.logger.warn({ err, uploadId: param.data.id }, "upload event stream failed");
        return Promise.resolve();
      },
    );
  });
}

interface SseMessage {
  event: string;
  data: string;
  id?: string;
  retry?: number;
}

/** One message as `text/event-stream` spells it (the same fields, in the same order, as Hono's `writeSSE`); data is one line of JSON. */
const formatMessage = (m: SseMessage) => `event: ${m.event}\ndata: ${m.data}\n${m.id === undefined ? "" : `id: ${m.id}\n`}${m.retry === undefined ? "" : `retry: ${m.retry}\n`}\n`;

function messageOf(message: UploadStreamMessage): SseMessage {
  if (message.kind === "state") return { event: "state", data: JSON.stringify(uploadView(message.status)) };
  return { event: message.event.type, id: message.event.id, data: JSON.stringify(webhookPayload(message.event)) };
}
