import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { matchedRoutes } from "hono/route";
import type { ApiKeyAuthenticator } from "../domain/api-keys.js";
import type { Services } from "../domain/services.js";
import type { Principal } from "../domain/principal.js";
import type { UploadStatus } from "../domain/upload-status.js";
import { SluiceError, sluiceError } from "../errors.js";
import { requireApiKey } from "./api-key-auth.js";
import { allowCrossOrigin } from "./cors.js";
import { errorJson, errorResponse, invalidRequest } from "./errors.js";
import { registerCompanionRoutes } from "./routes/companion.js";
import { registerEventRoutes, type EventsEnv } from "./routes/events.js";
import { registerFeedRoutes } from "./routes/feed.js";
import { registerDownloadRoutes, registerFileRoutes } from "./routes/files.js";
import { registerGatewayRoutes } from "./routes/gateway.js";
import { registerKeyRoutes } from "./routes/keys.js";
import { registerLimitRoutes } from "./routes/limits.js";
import { registerOperationRoutes } from "./routes/operations.js";
import { registerTokenRoutes } from "./routes/tokens.js";
import { registerTusCreationRoutes, registerTusUploadRoutes, tusProtocol } from "./routes/tus.js";
import { registerUploadRoutes } from "./routes/uploads.js";
import { registerWebRoutes } from "./routes/web.js";
import { registerWebhookRoutes } from "./routes/webhooks.js";

export interface AppEnv {
  Variables: {
    /** Set by the API-key check on every route of the API-key group. */
    principal: Principal;
    /** An upload already read by the key-scope check, so that its route need not read it again. */
    upload?: UploadStatus;
  };
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
  /**
   * Whether an answer may stream to the client as it is written (server-sent events). False
   * where the runtime buffers answers (Lambda behind API Gateway). Default true.
   */
  streaming?: boolean | undefined;
  /** Directory holding the built web page (`index.html`, `app.js`); absent serves no page. */
  webRoot: string | undefined;
}

/**
 * One request's latency, by route pattern (never the raw URL: upload URLs carry signatures),
 * and its log line at debug level (warn for a 5xx). The app's middleware records every request
 * it answers; Node's issue lane (runtime/node/issue-lane.ts) records those it answers itself.
 */
export function recordRequest({ metrics, logger }: Pick<Services, "metrics" | "logger">, method: string, route: string, status: number, seconds: number): void {
  metrics.observeHttp(method, route, status, seconds);
  if (status >= 500 || logger.isLevelEnabled("debug")) {
    logger[status >= 500 ? "warn" : "debug"]({ method, route, status, ms: Math.round(seconds * 1000) }, "request");
  }
}

/** The status an error will be answered with, for metrics recorded before onError runs. */
const errorStatus = (err: unknown) => (err instanceof SluiceError || err instanceof HTTPException ? err.status : 500);

/** Every sub-app validates requests the same way: a schema failure is a 400 naming the field. */
const defaultHook = (result: { success: boolean; error?: unknown }) => {
  if (!result.success) throw invalidRequest(result.error as Parameters<typeof invalidRequest>[0]);
};

/** An app for one group of routes, merged into the whole with `app.route("/", group)`. */
export const newRouteGroup = <E extends AppEnv = AppEnv>() => new OpenAPIHono<E>({ defaultHook });

/**
 * The HTTP API, written against Web-standard Request/Response so that the same app runs on
 * Node, AWS Lambda and Cloudflare Workers. Routes parse, authorize, call one domain function
 * and shape the response.
 *
 * Routes are grouped by how their caller proves itself, and each group brings its own check:
 * - public: health, readiness, metrics, the limits (`GET /v1/limits`), the OpenAPI document
 *   and the web page; no proof;
 * - signed URL: the gateway's PUTs, downloads and tus upload URLs; the URL's signature, checked by the domain
 *   as the first step of each (it alone knows what each URL signs, and the Lambda@Edge
 *   handler reaches the same functions without this app);
 * - events secret: storage events; the secret, checked before the event is read;
 * - API key: everything else under /v1/, including paths no route has (401 before 404, so that
 *   an unauthenticated caller learns nothing of the routes).
 * The groups are mounted in that order: a route answers without calling on, so the API-key
 * check, mounted on /v1/* last, runs only where no earlier group had the route.
 */
export function createApp(options: AppOptions): App {
  const { services } = options;
  const { logger } = services;
  const app: App = new OpenAPIHono<AppEnv>({ defaultHook });

  // First of all: a preflight is answered before any check of a key or signature, and every
  // answer below, errors included, carries the CORS headers an allowed origin needs to read it.
  app.use("*", allowCrossOrigin(services.config.corsOrigins));
  app.onError((err, c) => errorResponse(c, err, logger));
  app.notFound((c) => errorJson(c, sluiceError("not_found", `No route for ${c.req.method} ${c.req.path}.`)));

  // Latency by route pattern (recordRequest).
  app.use("*", async (c, next) => {
    const started = performance.now();
    let failure: unknown;
    try {
      await next();
    } catch (err) {
      failure = err; // answered by onError once this rethrows
      throw err;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const status = failure === undefined ? c.res.status : errorStatus(failure);
      // The pattern of the route that answers (the first one for this method: groups mounted
      // later only see what no earlier one answered), even when auth refused the request
      // before its handler ran. Middleware is registered for every method.
      // eslint-disable-next-line @typescript-eslint/no-unsafe-argument -- Hono types a middleware's input as any
      const route = matchedRoutes(c).find((r) => r.method !== "ALL")?.path ?? "unmatched";
      recordRequest(services, c.req.method, route, status, seconds);
    }
  });

  // tus's own rules hold for every answer under its prefix, from any group (and for a 401).
  app.use("/v1/tus/*", tusProtocol);

  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description: "An API key (`sk_…`), or a browser upload token (`sut_…`, from POST /v1/tokens) on the routes tokens may use.",
  });

  const open = newRouteGroup();
  registerOperationRoutes(open, options);
  registerLimitRoutes(open, options);
  registerWebRoutes(open, options);
  app.route("/", open);

  const signed = newRouteGroup();
  registerGatewayRoutes(signed, options);
  registerDownloadRoutes(signed, options);
  registerTusUploadRoutes(signed, options);
  app.route("/", signed);

  const storage = newRouteGroup<EventsEnv>();
  registerEventRoutes(storage, options);
  app.route("/", storage);

  const keyed = newRouteGroup();
  keyed.use("/v1/*", requireApiKey(options.auth));
  registerUploadRoutes(keyed, options);
  // After the upload routes: their scope check on /v1/uploads/:id/* covers the upload's stream.
  registerFeedRoutes(keyed, options);
  registerTusCreationRoutes(keyed, options);
  registerFileRoutes(keyed, options);
  registerKeyRoutes(keyed, options);
  registerTokenRoutes(keyed, options);
  registerWebhookRoutes(keyed, options);
  app.route("/", keyed);

  // Uppy Companion's S3 routes, outside /v1/ (Uppy appends /s3/… to its endpoint), with the
  // API-key check (a key or a token) mounted on them.
  const companion = newRouteGroup();
  registerCompanionRoutes(companion, options);
  app.route("/", companion);

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
