import { createRoute, z } from "@hono/zod-openapi";
import { errorCodes } from "../../errors.js";
import type { App, AppOptions } from "../app.js";
import { answersWithin } from "../../internal/ping.js";

const READY_TIMEOUT_MS = 2000;

const health = createRoute({
  method: "get",
  path: "/healthz",
  summary: "The process is alive",
  responses: { 200: { description: "Alive", content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } } } },
});

const ReadinessSchema = z
  .object({
    status: z.enum(["ready", "unavailable"]),
    backends: z.record(z.string(), z.enum(["up", "down"])),
    error: z.object({ code: z.enum(errorCodes), message: z.string() }).optional(),
  })
  .openapi("Readiness");

const ready = createRoute({
  method: "get",
  path: "/readyz",
  summary: "Every configured backend answers",
  responses: {
    200: { description: "Ready", content: { "application/json": { schema: ReadinessSchema } } },
    503: { description: "A backend is down; it is named", content: { "application/json": { schema: ReadinessSchema } } },
  },
});

export function registerOperationRoutes(app: App, { services }: AppOptions) {
  app.openapi(health, (c) => c.json({ status: "ok" as const }, 200));

  app.openapi(ready, async (c) => {
    const backends = {
      "object store": services.objects,
      "ticket store": services.tickets,
      "metadata store": services.metadata,
      // Counted in a shared Redis, the limits are a backend too; in memory they cannot fail.
      ...(services.limits.shared && { "rate limiter": services.limits }),
    };
    const results = await Promise.all(
      Object.entries(backends).map(async ([name, backend]) => {
        const up = await answersWithin(backend, READY_TIMEOUT_MS);
        return [name, up ? "up" : "down"] as const;
      }),
    );
    const down = results.filter(([, s]) => s === "down").map(([name]) => name);
    const body = { status: down.length === 0 ? ("ready" as const) : ("unavailable" as const), backends: Object.fromEntries(results) };
    if (down.length === 0) return c.json(body, 200);
    return c.json({ ...body, error: { code: "backend_unavailable", message: `Unavailable: ${down.join(", ")}.` } }, 503);
  });

  app.get("/metrics", async (c) => {
    return c.body(await services.metrics.registry.metrics(), 200, { "content-type": services.metrics.registry.contentType });
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/metrics",
    summary: "Prometheus metrics",
    responses: { 200: { description: "Prometheus text format", content: { "text/plain": { schema: z.string() } } } },
  });
}
