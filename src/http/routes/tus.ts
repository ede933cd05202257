/**
 * tus 1.0.0 at /v1/tus/ (so a tus client's `endpoint` is `<sluice>/v1/tus/`). Creation is in
 * the API-key group (a key or a token); an upload URL is a capability URL in the signed group
 * (HEAD, PATCH, DELETE need no key: a browser given an `uploadUrl` holds no credential).
 * The protocol's own rules (Tus-Resumable on every answer but OPTIONS, 412 for another
 * version) are one middleware, `tusProtocol`, mounted on the whole prefix before both groups.
 */
import { z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { issueUpload } from "../../domain/issue.js";
import { concatenateTusUploads, createTusPartial } from "../../domain/tus-concat.js";
import type { Ticket } from "../../tickets/ticket-store.js";
import {
  TUS_CHECKSUM_ALGORITHMS,
  TUS_EXTENSIONS,
  TUS_VERSION,
  appendToTusUpload,
  inspectTusUpload,
  receiveTusChunk,
  terminateTusUpload,
  type TusChunk,
  type TusUploadState,
} from "../../domain/tus.js";
import { SluiceError, badRequest, sluiceError } from "../../errors.js";
import type { App, AppEnv, AppOptions } from "../app.js";
import { errorResponse, invalidRequest } from "../errors.js";
import { UploadRequestSchema, errorResponses, security } from "../schemas.js";
import { clientAddress } from "./uploads.js";

const TUS_HEADERS = {
  "tus-version": TUS_VERSION,
  "tus-extension": TUS_EXTENSIONS.join(","),
  "tus-checksum-algorithm": TUS_CHECKSUM_ALGORITHMS.join(","),
};

/**
 * Every tus answer but OPTIONS carries `Tus-Resumable: 1.0.0`, errors included (set after the
 * route answered, whoever answered); a request of another version (or none) is 412.
 */
export const tusProtocol: MiddlewareHandler = async (c, next) => {
  if (c.req.method === "OPTIONS") return next();
  const version = c.req.header("tus-resumable");
  if (version !== TUS_VERSION) {
    const refusal = sluiceError("tus_version_unsupported", `Send Tus-Resumable: ${TUS_VERSION}${version === undefined ? "" : `, not ${version}`}.`, { "tus-version": TUS_VERSION });
    return c.json({ error: { code: refusal.code, message: refusal.message } }, 412, { "tus-version": TUS_VERSION, "tus-resumable": TUS_VERSION });
  }
  await next();
  c.res.headers.set("tus-resumable", TUS_VERSION);
};

/** `Upload-Metadata: key base64,key2 base64`, decoded as UTF-8; a value may be absent. */
export function parseUploadMetadata(header: string | undefined): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (header === undefined || header.trim() === "") return metadata;
  for (const pair of header.split(",")) {
    const match = /^\s*([^\s,]+)(?:\s+([A-Za-z0-9+/]*={0,2}))?\s*$/.exec(pair);
    if (!match) throw badRequest("invalid_tus_request", "Upload-Metadata must be comma-separated `key base64value` pairs.");
    const key = match[1]!;
    if (Object.hasOwn(metadata, key)) throw badRequest("invalid_tus_request", `Upload-Metadata names ${key} twice.`);
    metadata[key] = Buffer.from(match[2] ?? "", "base64").toString("utf8");
  }
  return metadata;
}

const encodeMetadata = (metadata: Record<string, string>) =>
  Object.entries(metadata)
    .map(([k, v]) => `${k} ${Buffer.from(v, "utf8").toString("base64")}`)
    .join(",");

/** Headers that tell a tus client where an upload stands. */
function stateHeaders(state: Pick<TusUploadState, "offset" | "expiresAt">): Record<string, string> {
  return { "upload-offset": String(state.offset), ...(state.expiresAt !== undefined && { "upload-expires": new Date(state.expiresAt).toUTCString() }) };
}

const lengthOf = (c: Context) => {
  const length = c.req.header("content-length");
  return length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
};

/** Names an upload's file and type come under in Upload-Metadata (tus-js-client's and Uppy's); the rest is the app's metadata. */
const FILENAME_KEYS = ["filename", "name"];
const FILETYPE_KEYS = ["filetype", "type"];

/** The file's name and type, and the app's metadata, from Upload-Metadata. */
function fileOf(metadata: Record<string, string>): { filename: string; contentType: string; metadata?: Record<string, string> } {
  const pick = (keys: string[]) => keys.map((k) => metadata[k]).find((v) => v !== undefined && v !== "");
  const appMetadata = Object.fromEntries(Object.entries(metadata).filter(([k]) => !FILENAME_KEYS.includes(k) && !FILETYPE_KEYS.includes(k)));
  return { filename: pick(FILENAME_KEYS) ?? "upload", contentType: pick(FILETYPE_KEYS) ?? "application/octet-stream", ...(Object.keys(appMetadata).length > 0 && { metadata: appMetadata }) };
}

export function registerTusCreationRoutes(app: App, options: AppOptions) {
  const { services, peerAddress } = options;
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/v1/tus/",
    summary: "tus 1.0.0 creation (and creation-with-upload): a one-time upload, answered 201 with its upload URL in Location",
    description:
      "Headers: `Tus-Resumable: 1.0.0`, `Upload-Length` (checked against the limits before any byte is taken: 413 over the maximum), `Upload-Metadata` (`filename` and `filetype` name the file and its type; other keys are the upload's metadata). A body sent as `application/offset+octet-stream` is the upload's first bytes. The Location is a signed URL for HEAD, PATCH and DELETE, needing no key. Concatenation: `Upload-Concat: partial` (with Upload-Length) creates a partial upload that only holds bytes; `Upload-Concat: final;<url> <url>…` (with the file's Upload-Metadata) makes the one-time upload from complete partials of the same caller, checked against the limits before any byte moves, and answers once it is sealed (422 if processing rejects the file within the wait).",
    security,
    request: { body: { content: { "application/offset+octet-stream": { schema: z.string().openapi({ format: "binary" }) } }, required: false } },
    responses: { 201: { description: "Created: Location, Upload-Expires (and Upload-Offset with a body)" }, ...errorResponses(400, 401, 412, 413, 415, 422, 429, 460, 503) },
  });
  const create = async (c: Context<AppEnv>) => {
    if (c.req.header("upload-defer-length") !== undefined) {
      throw badRequest("invalid_tus_request", "Upload-Defer-Length is not supported: Sluice checks the size against its limits before any byte is taken; send Upload-Length.");
    }
    const concat = c.req.header("upload-concat")?.trim();
    const metadata = parseUploadMetadata(c.req.header("upload-metadata"));
    if (concat?.startsWith("final;")) return createFinal(c, concat.slice("final;".length), metadata);
    if (concat !== undefined && concat !== "partial") throw badRequest("invalid_tus_request", "Upload-Concat must be `partial` or `final;<url> <url>…`.");
    const length = c.req.header("upload-length");
    if (length === undefined || !/^\d{1,16}$/.test(length)) throw badRequest("invalid_tus_request", "Upload-Length must be the upload's size in bytes.");
    if (concat === "partial") {
      const partial = await createTusPartial(services, c.get("principal"), Number(length));
      return createdWithUpload(c, partial.ticket, partial.url);
    }
    const parsed = UploadRequestSchema.safeParse({ ...fileOf(metadata), size: Number(length), method: "tus" });
    if (!parsed.success) throw invalidRequest(parsed.error);
    const { ticket, upload } = await issueUpload(services, c.get("principal"), parsed.data, { clientAddress: clientAddress(c, services.config.trustProxy, peerAddress) });
    if (!upload) throw new Error("the tus route gave no upload URL"); // a tus route always does
    return createdWithUpload(c, ticket, upload.url);
  };

  /** 201 for a new upload; with creation-with-upload, its first bytes taken as a PATCH at offset 0 would be. */
  const createdWithUpload = async (c: Context<AppEnv>, ticket: Ticket, url: string) => {
    const created = { location: url, "upload-expires": new Date(ticket.expiresAt).toUTCString() };
    const contentLength = lengthOf(c);
    const withUpload = c.req.header("content-type") !== undefined && (contentLength === undefined ? c.req.raw.body !== null : contentLength > 0);
    if (!withUpload) return c.body(null, 201, created);
    try {
      const state = await appendToTusUpload(services, ticket.id, chunkOf(c, options, "0"));
      return c.body(null, 201, { ...created, ...stateHeaders(state) });
    } catch (err) {
      // The upload exists: its URL goes with the refusal, so that the client may resume it.
      const response = errorResponse(c, err, services.logger);
      response.headers.set("location", url);
      return response;
    }
  };

  /** Concatenation's final upload: the partials' URLs (absolute, or paths on this server), then the file's name and type. */
  const createFinal = async (c: Context<AppEnv>, urls: string, metadata: Record<string, string>) => {
    const partials = urls
      .trim()
      .split(/\s+/)
      .map((u) => {
        let parsed: URL;
        try {
          parsed = new URL(u, services.config.publicUrl);
        } catch {
          throw badRequest("invalid_tus_request", "Upload-Concat: final names something that is not a URL.");
        }
        const id = /^\/v1\/tus\/([^/]+)$/.exec(parsed.pathname)?.[1];
        if (!id) throw badRequest("invalid_tus_request", "Upload-Concat: final names a URL that is not a tus upload of this server.");
        return { id, expires: parsed.searchParams.get("expires") ?? undefined, signature: parsed.searchParams.get("signature") ?? undefined };
      });
    const parsed = UploadRequestSchema.safeParse({ ...fileOf(metadata), size: 0 });
    if (!parsed.success) throw invalidRequest(parsed.error);
    const { size: _size, ...request } = parsed.data;
    const { ticket, url } = await concatenateTusUploads(services, c.get("principal"), request, partials, { clientAddress: clientAddress(c, services.config.trustProxy, peerAddress) });
    return c.body(null, 201, { location: url, "upload-offset": String(ticket.size) });
  };
  app.post("/v1/tus/", create);
  app.post("/v1/tus", create);
}

function chunkOf(c: Context, options: AppOptions, offset?: string): TusChunk {
  return {
    offset: offset ?? c.req.header("upload-offset"),
    contentType: c.req.header("content-type"),
    contentLength: lengthOf(c),
    checksum: c.req.header("upload-checksum"),
    body: options.requestBody ? options.requestBody(c) : c.req.raw.body,
    signal: c.req.raw.signal,
  };
}

export function registerTusUploadRoutes(app: App, options: AppOptions) {
  const { services } = options;
  const options204 = (c: Context) => c.body(null, 204, { ...TUS_HEADERS, "tus-max-size": String(services.config.maxSize) });
  app.options("/v1/tus/", options204);
  app.options("/v1/tus", options204);
  app.options("/v1/tus/:id", options204);

  const urlOf = (c: Context) => ({ id: c.req.param("id") ?? "", expires: c.req.query("expires"), signature: c.req.query("signature") });
  /** A refusal; on HEAD (no body) its code and message go in headers. 408 closes the connection, as on the gateway. */
  const refused = (c: Context, err: unknown, head = false) => {
    const response = errorResponse(c, err, services.logger);
    if (err instanceof SluiceError && err.status === 408) response.headers.set("connection", "close");
    if (head && err instanceof SluiceError) {
      response.headers.set("sluice-error-code", err.code);
      response.headers.set("sluice-error-message", err.message.replace(/[^\x20-\x7e]/g, "?"));
    }
    return response;
  };

  const signedQuery = z.object({
    expires: z.string().openapi({ param: { name: "expires", in: "query" } }),
    signature: z.string().openapi({ param: { name: "signature", in: "query" } }),
  });
  const params = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) });
  for (const [method, summary, statuses] of [
    ["head", "tus: where the upload stands (Upload-Offset, Upload-Length, Upload-Metadata); spends nothing. A rejected file answers 410", [403, 404, 410, 412]],
    ["patch", "tus: the next bytes at Upload-Offset (application/offset+octet-stream; Upload-Checksum optional). The one that delivers the last byte seals the upload and waits (bounded) for the verdict: 422 if the file is rejected", [400, 403, 408, 409, 410, 412, 413, 415, 422, 460, 503]],
    ["delete", "tus termination: cancels the upload; its URL then gives 410", [403, 404, 409, 410, 412, 503]],
  ] as const) {
    app.openAPIRegistry.registerPath({
      method,
      path: "/v1/tus/{id}",
      summary,
      request: { params, query: signedQuery },
      responses: { [method === "head" ? 200 : 204]: { description: "See the tus 1.0.0 protocol" }, ...errorResponses(...statuses) },
    });
  }

  // Hono answers HEAD with the GET route (its body dropped); a GET itself is not tus.
  app.get("/v1/tus/:id", async (c) => {
    if (c.req.method !== "HEAD") throw sluiceError("method_not_allowed", "A tus upload URL takes HEAD, PATCH and DELETE.");
    try {
      const state = await inspectTusUpload(services, urlOf(c));
      return c.body(null, 200, {
        ...stateHeaders(state),
        "upload-length": String(state.length),
        "upload-metadata": encodeMetadata(state.metadata),
        "cache-control": "no-store",
      });
    } catch (err) {
      const response = refused(c, err, true);
      response.headers.set("cache-control", "no-store");
      return response;
    }
  });

  const patch = async (c: Context) => {
    try {
      const state = await receiveTusChunk(services, urlOf(c), chunkOf(c, options));
      return c.body(null, 204, stateHeaders(state));
    } catch (err) {
      return refused(c, err);
    }
  };
  const terminate = async (c: Context) => {
    try {
      await terminateTusUpload(services, urlOf(c));
      return c.body(null, 204);
    } catch (err) {
      return refused(c, err);
    }
  };
  app.patch("/v1/tus/:id", patch);
  app.delete("/v1/tus/:id", terminate);
  // X-HTTP-Method-Override, for clients (and proxies) that cannot send PATCH or DELETE.
  app.post("/v1/tus/:id", (c) => {
    const override = c.req.header("x-http-method-override")?.toUpperCase();
    if (override === "PATCH") return patch(c);
    if (override === "DELETE") return terminate(c);
    throw sluiceError("method_not_allowed", "A tus upload URL takes HEAD, PATCH and DELETE (a POST only with X-HTTP-Method-Override: PATCH or DELETE).");
  });
}
