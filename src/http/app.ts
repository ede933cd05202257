import { OpenAPIHono } from "@hono/zod-openapi";
import type { RateLimiterAbstract } from "rate-limiter-flexible";
import type { ApiKeyAuthenticator } from "../domain/api-keys.js";
import type { Services } from "../domain/services.js";
import { guard, type Principal } from "../domain/uploads.js";
import { unauthorized } from "../errors.js";
import { errorResponse, invalidRequest } from "./errors.js";
import { registerFileRoutes } from "./routes/files.js";
import { registerGatewayRoutes } from "./routes/gateway.js";
import { registerOperationRoutes } from "./routes/operations.js";
import { registerUploadRoutes } from "./routes/uploads.js";
import { registerWebRoutes } from "./routes/web.js";

export interface AppEnv {
  Variables: { principal: Principal };
}
export type App = OpenAPIHono<AppEnv>;

export interface AppOptions {
  services: Services;
  auth: ApiKeyAuthenticator;
  /** Limits `POST /v1/uploads` per API key; absent means no limit. */
  uploadRateLimiter: RateLimiterAbstract | undefined;
  /** Directory holding the built web page (`index.html`, `app.js`); absent serves no page. */
  webRoot: string | undefined;
}

/** Routes reached with their own signature instead of an API key. */
const SIGNED_ROUTES = /^\/v1\/(uploads\/upl_[^/]+|files\/fil_[^/]+)\/content$/;

/**
 * The HTTP API, written against Web-standard Request/Response so that the same app runs on
 * Node, AWS Lambda and Cloudflare Workers. Routes parse, authorize, call one domain function
 * and shape the response.
 */
export function createApp(options: AppOptions): App {
  const { services } = options;
  const { logger, metrics } = services;
  const app: App = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw invalidRequest(result.error);
    },
  });

  app.onError((err, c) => errorResponse(c, err, logger));
  app.notFound((c) => c.json({ error: { code: "not_found", message: `No route for ${c.req.method} ${c.req.path}.` } }, 404));

  // Latency by route pattern (never the raw URL: upload URLs carry signatures).
  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = c.req.routePath === "/*" ? "unmatched" : c.req.routePath;
    metrics.observeHttp(c.req.method, route, c.res.status, seconds);
    if (c.res.status >= 500 || logger.isLevelEnabled("debug")) {
      logger[c.res.status >= 500 ? "warn" : "debug"]({ method: c.req.method, route, status: c.res.status, ms: Math.round(seconds * 1000) }, "request");
    }
  });

  app.use("/v1/*", async (c, next) => {
    if (SIGNED_ROUTES.test(c.req.path)) return next();
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw unauthorized("Send an API key as Authorization: Bearer <key>.");
    const key = match[1];
    const known = options.auth.cached(key);
    const principal = known !== undefined ? known.principal : await guard("metadata store", () => options.auth.authenticate(key));
    if (!principal) throw unauthorized("The API key is not valid.");
    c.set("principal", principal);
    return next();
  });

  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description: "An API key (`sk_…`).",
  });

  registerUploadRoutes(app, options);
  registerGatewayRoutes(app, options);
  registerFileRoutes(app, options);
  registerOperationRoutes(app, options);
  registerWebRoutes(app, options);

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Sluice",
      version: "0.1.0",
      description: "One-time upload URLs on S3-compatible object storage.",
    },
    servers: [{ url: services.config.publicUrl }],
  });
  return app;
}
