import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { receiveGatewayForm, receiveGatewayUpload } from "../../domain/gateway.js";
import { clampVerdictWait, refuseRejected, waitForVerdict } from "../../domain/verdict.js";
import { receiveGatewayPart } from "../../domain/multipart.js";
import { SluiceError } from "../../errors.js";
import type { App, AppOptions } from "../app.js";
import { errorResponse, invalidRequest } from "../errors.js";
import { GatewayPartResultSchema, GatewayResultSchema, VerdictWaitQuery, errorResponses } from "../schemas.js";

const signedQuery = z.object({
  expires: z.string().openapi({ param: { name: "expires", in: "query" }, description: "Unix seconds" }),
  signature: z.string().openapi({ param: { name: "signature", in: "query" } }),
});

export function registerGatewayRoutes(app: App, options: AppOptions) {
  const { services } = options;
  /**
   * A refused body may not have been read to its end. It is not closed on at once: with bytes
   * unread, closing resets the connection and a client still sending loses the answer (its
   * 409 or 413) to EPIPE. The runtime drains the rest for a few seconds and then closes (on
   * Node: guardConnections). Only a body that stopped arriving (408) is closed on at once.
   */
  const refusedUpload = (c: Context, err: unknown) => {
    const response = errorResponse(c, err, services.logger);
    if (err instanceof SluiceError && err.status === 408) response.headers.set("connection", "close");
    return response;
  };
  // The body is raw bytes streamed to storage, so this route is registered by hand: the
  // OpenAPI validators would want to parse it.
  app.openAPIRegistry.registerPath({
    method: "put",
    path: "/v1/uploads/{id}/content",
    summary: "Upload the bytes through Sluice (the URL from POST /v1/uploads; no API key, the URL is signed)",
    request: {
      params: z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) }),
      query: signedQuery,
      body: { content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } }, required: true },
    },
    responses: {
      200: { description: "Stored in staging; processing has started. The ETag header is S3's: the quoted hex MD5 of the bytes", content: { "application/json": { schema: GatewayResultSchema } } },
      ...errorResponses(400, 403, 408, 409, 410, 413, 503, 507),
    },
  });

  app.put("/v1/uploads/:id/content", async (c) => {
    const length = c.req.header("content-length");
    try {
      const result = await receiveGatewayUpload(services, {
        id: c.req.param("id"),
        expires: c.req.query("expires"),
        signature: c.req.query("signature"),
        contentType: c.req.header("content-type"),
        contentLength: length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined,
        body: options.requestBody ? options.requestBody(c) : c.req.raw.body,
        signal: c.req.raw.signal,
      });
      return c.json({ id: result.id, state: "uploaded" as const, size: result.size, sha256: result.sha256 }, 200, { etag: result.etag });
    } catch (err) {
      return refusedUpload(c, err);
    }
  });

  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/v1/uploads/{id}/form",
    summary: "Upload the bytes through Sluice as an S3 POST-policy form, the file last (the URL from GET /s3/params in gateway mode; signed, no API key); with `wait`, answers once the verdict is in",
    request: {
      params: z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) }),
      query: signedQuery.extend(VerdictWaitQuery.shape),
      body: { content: { "multipart/form-data": { schema: z.object({ key: z.string(), file: z.string().openapi({ format: "binary" }) }) } }, required: true },
    },
    responses: {
      200: { description: "Stored (and, with `wait`, archived, or still being processed)", content: { "application/json": { schema: GatewayResultSchema } } },
      ...errorResponses(400, 403, 408, 409, 410, 413, 422, 503, 507),
    },
  });

  app.post("/v1/uploads/:id/form", async (c) => {
    const length = c.req.header("content-length");
    try {
      const wait = VerdictWaitQuery.safeParse({ wait: c.req.query("wait") });
      if (!wait.success) throw invalidRequest(wait.error);
      const result = await receiveGatewayForm(services, {
        id: c.req.param("id"),
        expires: c.req.query("expires"),
        signature: c.req.query("signature"),
        contentType: c.req.header("content-type"),
        contentLength: length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined,
        body: options.requestBody ? options.requestBody(c) : c.req.raw.body,
        signal: c.req.raw.signal,
      });
      const seconds = clampVerdictWait(Number(wait.data.wait ?? 0));
      if (seconds === 0) return c.json({ id: result.id, state: "uploaded" as const, size: result.size, sha256: result.sha256 }, 200);
      const verdict = refuseRejected(await waitForVerdict(services, result.id, { timeoutMs: seconds * 1000 }));
      return c.json({ id: result.id, state: verdict.state, size: result.size, sha256: result.sha256 }, 200);
    } catch (err) {
      return refusedUpload(c, err);
    }
  });

  app.openAPIRegistry.registerPath({
    method: "put",
    path: "/v1/uploads/{id}/parts/{partNumber}",
    summary: "Upload one part of a multipart upload through Sluice (a URL from POST /v1/uploads/{id}/parts; signed, no API key)",
    request: {
      params: z.object({
        id: z.string().openapi({ param: { name: "id", in: "path" } }),
        partNumber: z.string().openapi({ param: { name: "partNumber", in: "path" } }),
      }),
      query: signedQuery,
      body: { content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } }, required: true },
    },
    responses: {
      200: { description: "The part is stored; its ETag (S3's: the quoted hex MD5 of the part's bytes) is in the body and the ETag header", content: { "application/json": { schema: GatewayPartResultSchema } } },
      ...errorResponses(400, 403, 408, 409, 410, 413, 503, 507),
    },
  });

  app.put("/v1/uploads/:id/parts/:partNumber{[0-9]+}", async (c) => {
    const length = c.req.header("content-length");
    try {
      const result = await receiveGatewayPart(services, {
        id: c.req.param("id"),
        partNumber: Number(c.req.param("partNumber")),
        expires: c.req.query("expires"),
        signature: c.req.query("signature"),
        contentLength: length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined,
        body: options.requestBody ? options.requestBody(c) : c.req.raw.body,
        signal: c.req.raw.signal,
      });
      return c.json(result, 200, { etag: result.etag });
    } catch (err) {
      return refusedUpload(c, err);
    }
  });
}
