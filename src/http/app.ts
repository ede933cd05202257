import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { routePath } from "hono/route";
import type { ApiKeyAuthenticator } from "../domain/api-keys.js";
import type { Services } from "../domain/services.js";
import { guard, type Principal } from "../domain/uploads.js";
import { SluiceError, sluiceError, unauthorized } from "../errors.js";
import { errorJson, errorResponse, invalidRequest } from "./errors.js";
import { registerEventRoutes } from "./routes/events.js";
import { registerFileRoutes } from "./routes/files.js";
import { registerGatewayRoutes } from "./routes/gateway.js";
import { registerKeyRoutes } from "./routes/keys.js";
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
  /**
   * The client's address as the runtime sees it (the socket's peer on Node), for per-address
   * rate limits. Forwarded-for headers are read on top of it per SLUICE_TRUST_PROXY.
   */
  peerAddress?: ((c: Context) => string | undefined) | undefined;
  /** Authenticates storage events (`POST /v1/events/s3`). */
  eventsSecret: string;
  /**
   * Reads a request's body as a stream. The default is the Web Request's own; a runtime may
   * offer a cheaper one (Node's avoids a copy of every chunk).
   */
  requestBody?: ((c: Context) => ReadableStream<Uint8Array> | null) | undefined;
  /** Directory holding the built web page (`index.html`, `app.js`); absent serves no page. */
  webRoot: string | undefined;
}

/** The status an error will be answered with, for metrics recorded before onError runs. */
const errorStatus = (err: unknown) => (err instanceof SluiceError || err instanceof HTTPException ? err.status : 500);

/** Routes reached with their own signature or secret instead of an API key. */
const SIGNED_ROUTES = /^\/v1\/((uploads\/upl_[^/]+|files\/fil_[^/]+)\/content|uploads\/upl_[^/]+\/parts\/\d+|events\/s3)$/;

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
  app.notFound((c) => errorJson(c, sluiceError("not_found", `No route for ${c.req.method} ${c.req.path}.`)));

  // One middleware for every request: API-key auth on /v1/* (except the signed URLs), then
  // latency by route pattern (never the raw URL: upload URLs carry signatures). One rather
  // than two, because each async middleware layer is measurable on the issue route.
  app.use("*", async (c, next) => {
    const started = performance.now();
    let failure: unknown;
    try {
      if (c.req.path.startsWith("/v1/") && !SIGNED_ROUTES.test(c.req.path)) {
        const principal = authenticate(c.req.header("authorization"));
        // Known keys are answered without a promise: an await per request is measurable here.
        c.set("principal", principal instanceof Promise ? await principal : principal);
      }
      await next();
    } catch (err) {
      failure = err; // answered by onError once this rethrows
      throw err;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const status = failure === undefined ? c.res.status : errorStatus(failure);
      // The route's own pattern, even when auth refused the request before its handler ran.
      // eslint-disable-next-line @typescript-eslint/no-unsafe-argument -- Hono types a middleware's input as any
      const matched = routePath(c, -1);
      const route = matched === "/*" ? "unmatched" : matched;
      metrics.observeHttp(c.req.method, route, status, seconds);
      if (status >= 500 || logger.isLevelEnabled("debug")) {
        logger[status >= 500 ? "warn" : "debug"]({ method: c.req.method, route, status, ms: Math.round(seconds * 1000) }, "request");
      }
    }
  });

  function authenticate(header: string | undefined): Principal | Promise<Principal> {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
    if (!match?.[1]) throw unauthorized("Send an API key as Authorization: Bearer <key>.");
    const key = match[1];
    const valid = (principal: Principal | undefined) => {
      if (!principal) throw unauthorized("The API key is not valid.");
      return principal;
    };
    const known = options.auth.cached(key);
    if (known !== undefined) return valid(known.principal);
    return guard("metadata store", () => options.auth.authenticate(key)).then(valid);
  }

  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description: "An API key (`sk_…`).",
  });

  registerUploadRoutes(app, options);
  registerGatewayRoutes(app, options);
  registerFileRoutes(app, options);
  registerKeyRoutes(app, options);
  registerEventRoutes(app, options);
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
