import { createRoute, z } from "@hono/zod-openapi";
import { attachmentDisposition } from "../../domain/filenames.js";
import { DOWNLOAD_CACHE_CONTROL, createDownload, deleteFile, describeDownload, downloadContentType, getFile, listFiles, openDownload } from "../../domain/files.js";
import { UPLOAD_STATES, type UploadRecord } from "../../metadata/metadata-store.js";
import type { App, AppOptions } from "../app.js";
import { DownloadSchema, FileListSchema, FileSchema, IdParam, errorResponses, json, security } from "../schemas.js";
import { fileView } from "../views.js";


const list = createRoute({
  method: "get",
  path: "/v1/files",
  summary: "Files, newest first",
  security,
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).default(50).openapi({ param: { name: "limit", in: "query" } }),
      cursor: z.string().max(200).optional().openapi({ param: { name: "cursor", in: "query" } }),
      state: z.enum(UPLOAD_STATES).optional().openapi({ param: { name: "state", in: "query" } }),
    }),
  },
  responses: { 200: { description: "A page of files", content: json(FileListSchema) }, ...errorResponses(400, 401, 503) },
});

const get = createRoute({
  method: "get",
  path: "/v1/files/{id}",
  summary: "A file's metadata and state",
  security,
  request: { params: IdParam("fil") },
  responses: { 200: { description: "The file", content: json(FileSchema) }, ...errorResponses(400, 401, 404, 503) },
});

const remove = createRoute({
  method: "delete",
  path: "/v1/files/{id}",
  summary: "Delete a file",
  security,
  request: { params: IdParam("fil") },
  responses: { 204: { description: "Deleted" }, ...errorResponses(400, 401, 404, 409, 503) },
});

const download = createRoute({
  method: "get",
  path: "/v1/files/{id}/download",
  summary: "A short-lived download URL (one-time with once=true)",
  security,
  request: {
    params: IdParam("fil"),
    query: z.object({
      once: z.enum(["true", "false"]).default("false").openapi({ param: { name: "once", in: "query" } }),
      expiresIn: z.coerce
        .number()
        .int()
        .min(1)
        .max(Number.MAX_SAFE_INTEGER)
        .optional()
        .openapi({ param: { name: "expiresIn", in: "query" }, description: "Seconds. Over `SLUICE_URL_TTL_MAX` it is clamped to it, not refused; `expiresAt` in the answer is the expiry granted." }),
    }),
  },
  responses: { 200: { description: "The URL", content: json(DownloadSchema) }, ...errorResponses(400, 401, 404, 409, 503) },
});

/** A signed download URL's query, for GET and HEAD alike. */
const contentQuery = z.object({
  expires: z.string().openapi({ param: { name: "expires", in: "query" } }),
  ticket: z.string().optional().openapi({ param: { name: "ticket", in: "query" } }),
  by: z.string().optional().openapi({ param: { name: "by", in: "query", description: "The API key that asked for the URL; revoking it ends the URL." } }),
  signature: z.string().openapi({ param: { name: "signature", in: "query" } }),
});

export function registerFileRoutes(app: App, { services }: AppOptions) {
  app.openapi(list, async (c) => {
    const q = c.req.valid("query");
    const keyPrefix = c.get("principal").scope?.keyPrefix;
    const page = await listFiles(services, { limit: q.limit, ...(q.cursor && { cursor: q.cursor }), ...(q.state && { state: q.state }), keyPrefix });
    return c.json({ items: page.items.map(fileView), nextCursor: page.nextCursor }, 200);
  });
  app.openapi(get, async (c) => c.json(fileView(await getFile(services, c.req.valid("param").id, c.get("principal").scope?.keyPrefix)), 200));
  app.openapi(remove, async (c) => {
    await deleteFile(services, c.req.valid("param").id, c.get("principal").scope?.keyPrefix);
    return c.body(null, 204);
  });
  app.openapi(download, async (c) => {
    const q = c.req.valid("query");
    const principal = c.get("principal");
    const d = await createDownload(services, c.req.valid("param").id, { once: q.once === "true", expiresIn: q.expiresIn, keyPrefix: principal.scope?.keyPrefix, requestedBy: principal.keyId });
    return c.json({ url: d.url, expiresAt: new Date(d.expiresAt).toISOString() }, 200);
  });
}

/** The signed download URLs that `/download` hands out: no API key, the URL's signature instead. */
export function registerDownloadRoutes(app: App, { services }: AppOptions) {
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/v1/files/{id}/content",
    summary: "The file's bytes (the URL from /download; no API key, the URL is signed)",
    request: {
      params: z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) }),
      query: contentQuery,
    },
    responses: {
      200: { description: "The bytes, as an attachment", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
      ...errorResponses(403, 404, 409, 410, 503),
    },
  });
  app.openAPIRegistry.registerPath({
    method: "head",
    path: "/v1/files/{id}/content",
    summary: "The download's headers, without its bytes: a one-time URL is not spent and stays usable",
    request: {
      params: z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) }),
      query: contentQuery,
    },
    responses: { 200: { description: "The headers a GET would send" }, ...errorResponses(403, 404, 409, 410, 503) },
  });
  app.get("/v1/files/:id/content", async (c) => {
    const request = {
      fileId: c.req.param("id"),
      expires: c.req.query("expires"),
      ticket: c.req.query("ticket"),
      by: c.req.query("by"),
      signature: c.req.query("signature"),
    };
    // Hono answers HEAD with this GET route (and drops the body). A HEAD must neither spend a
    // one-time URL nor open the object, whose body would never be read or closed.
    if (c.req.method === "HEAD") return c.body(null, 200, downloadHeaders(await describeDownload(services, request)));
    const { record, body } = await openDownload(services, request);
    return c.body(body, 200, downloadHeaders(record));
  });
}

function downloadHeaders(record: UploadRecord): Record<string, string> {
  return {
    "content-type": downloadContentType(record),
    "content-length": String(record.size),
    "content-disposition": attachmentDisposition(record.filename),
    "x-content-type-options": "nosniff",
    "content-security-policy": "sandbox; default-src 'none'",
    "cache-control": DOWNLOAD_CACHE_CONTROL,
  };
}
