import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { findCompanionUpload, issueCompanionForm, startCompanionMultipart, type CompanionFile } from "../../domain/companion.js";
import { cancelUpload } from "../../domain/cancel.js";
import { completeUpload } from "../../domain/complete.js";
import { MAX_PART_URLS, partUrls, uploadedParts } from "../../domain/multipart.js";
import { MAX_PARTS } from "../../domain/part-plans.js";
import { MAX_VERDICT_WAIT_SECONDS, refuseRejected, waitForVerdict } from "../../domain/verdict.js";
import { badRequest, forbidden, sluiceError, unauthorized } from "../../errors.js";
import { requireApiKey } from "../api-key-auth.js";
import type { App, AppEnv, AppOptions } from "../app.js";
import { BODY_LIMITS, limitBody, readJsonBody } from "../body-limit.js";
import { invalidRequest } from "../errors.js";
import { MetadataSchema, errorResponses, json, security } from "../schemas.js";
import { clientAddress } from "./uploads.js";

/**
 * Where Companion's routes are mounted. Uppy appends `/s3/…` to its `companionEndpoint`:
 * - `/s3`: the endpoint is Sluice itself, and the credential is sent as
 *   `Authorization: Bearer …` (Companion clients that take request headers);
 * - `/companion/{credential}/s3`: the endpoint is `<sluice>/companion/<token>`, for
 *   `@uppy/aws-s3` 6.x, whose Companion client sends no headers of the app's at all. A
 *   credential in a URL ends up in proxies' access logs, so this form takes scoped credentials
 *   only (a browser token); never a full key. Sluice itself logs route patterns, not URLs.
 */
const BASES = ["/s3", "/companion/:credential/s3"] as const;

/** Companion's file description: the name and type Uppy sends, and its metadata. */
const CompanionFileSchema = z.object({
  filename: z.string().min(1).max(1024),
  type: z
    .string()
    .max(255)
    .regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;.*)?$/, "type must be a media type such as image/png")
    .optional(),
  metadata: MetadataSchema.optional(),
});

const CompleteSchema = z.object({
  parts: z
    .array(z.object({ PartNumber: z.number().int().min(1).max(MAX_PARTS), ETag: z.string().min(1).max(256) }))
    .min(1)
    .max(MAX_PARTS),
});

/**
 * Uppy sends every metadata field of a file (name, type, relativePath, the app's own), some of
 * them null or numbers: strings and numbers are kept as strings, anything else is left out.
 */
function metadataOf(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null) return {};
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") kept[k] = String(v);
  }
  return kept;
}

function companionFile(input: { filename: unknown; type: unknown; metadata: Record<string, string> }): CompanionFile {
  const parsed = CompanionFileSchema.safeParse(input);
  if (!parsed.success) throw invalidRequest(parsed.error);
  return { filename: parsed.data.filename, contentType: parsed.data.type || "application/octet-stream", metadata: parsed.data.metadata ?? {} };
}

/** `metadata[k]=v` query parameters, as Uppy sends them to `/s3/params`. */
function metadataOfQuery(c: Context): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of new URL(c.req.url).searchParams) {
    const k = /^metadata\[(.+)\]$/.exec(name)?.[1];
    if (k !== undefined) kept[k] = value;
  }
  return kept;
}

const secondsUntil = (at: number, now: number) => Math.max(0, Math.floor((at - now) / 1000));

export function registerCompanionRoutes(app: App, options: AppOptions) {
  const { services, peerAddress } = options;
  const s = services;
  app.use("/s3/*", requireApiKey(options.auth));
  app.use("/companion/:credential/s3/*", requireApiKey(options.auth, (c) => c.req.param("credential")), async (c, next) => {
    if (!c.get("principal").scope) throw unauthorized("A full API key may not be sent in a URL; send a browser token (or a scoped key) instead.");
    await next();
  });
  const address = (c: Context) => clientAddress(c, s.config.trustProxy, peerAddress);
  const uploadOf = (c: Context<AppEnv>) => findCompanionUpload(s, c.get("principal"), { uploadId: c.req.param("uploadId") ?? "", key: c.req.query("key") });

  for (const base of BASES) {
    app.get(`${base}/params`, async (c) => {
      const file = companionFile({ filename: c.req.query("filename"), type: c.req.query("type"), metadata: metadataOfQuery(c) });
      const form = await issueCompanionForm(s, c.get("principal"), file, { clientAddress: address(c) });
      return c.json({ method: form.method, url: form.url, fields: form.fields, headers: {}, expires: secondsUntil(form.expiresAt, s.now()) }, 200);
    });

    app.post(`${base}/multipart`, limitBody(BODY_LIMITS.json), async (c) => {
      const body = await readJsonBody(c);
      if (!body.json || typeof body.value !== "object" || body.value === null) throw badRequest("invalid_json", "The request body is not valid JSON.");
      const value = body.value as Record<string, unknown>;
      const file = companionFile({ filename: value.filename, type: value.type, metadata: metadataOf(value.metadata) });
      const started = await startCompanionMultipart(s, c.get("principal"), file, { clientAddress: address(c) });
      return c.json({ key: started.key, uploadId: started.id, bucket: started.bucket }, 200);
    });

    // One route for `/batch` and `/<part number>`: Hono's RegExpRouter cannot tell a static
    // segment from a parameter at the same place, and one such pair made the whole app fall
    // back to its slower TrieRouter (issue 19). Anything else there is a 404, as before.
    app.get(`${base}/multipart/:uploadId/:part`, async (c) => {
      const part = c.req.param("part");
      if (part === "batch") {
        const upload = await uploadOf(c);
        const numbers = (c.req.query("partNumbers") ?? "").split(",").filter((n) => n !== "");
        if (numbers.length === 0 || numbers.length > MAX_PART_URLS || !numbers.every((n) => /^\d{1,5}$/.test(n))) {
          throw sluiceError("invalid_request", `partNumbers: from 1 to ${MAX_PART_URLS} part numbers, separated by commas.`);
        }
        const signed = await partUrls(s, upload.id, numbers.map(Number));
        return c.json({ presignedUrls: Object.fromEntries(signed.map((p) => [String(p.partNumber), p.url])) }, 200);
      }
      if (!/^\d{1,5}$/.test(part)) return c.notFound();
      const upload = await uploadOf(c);
      const [signed] = await partUrls(s, upload.id, [Number(part)]);
      return c.json({ url: signed!.url, expires: secondsUntil(signed!.expiresAt, s.now()) }, 200);
    });

    app.get(`${base}/multipart/:uploadId`, async (c) => {
      const upload = await uploadOf(c);
      const parts = await uploadedParts(s, upload.id);
      return c.json(parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag, Size: p.size })), 200);
    });

    // Completes, then waits for the verdict: Uppy has no other call after this one, and a
    // refusal here (422 with the reason) is how it comes to show a rejected file as failed.
    app.post(`${base}/multipart/:uploadId/complete`, limitBody(BODY_LIMITS.completion), async (c) => {
      const upload = await uploadOf(c);
      const body = await readJsonBody(c);
      if (!body.json) throw badRequest("invalid_json", "The request body is not valid JSON.");
      const parsed = CompleteSchema.safeParse(body.value);
      if (!parsed.success) throw invalidRequest(parsed.error);
      const completed = await completeUpload(s, upload.id, { parts: parsed.data.parts.map((p) => ({ partNumber: p.PartNumber, etag: p.ETag })) });
      const verdict = refuseRejected(await waitForVerdict(s, upload.id, { timeoutMs: MAX_VERDICT_WAIT_SECONDS * 1000, known: completed }));
      return c.json({ location: `${s.config.publicUrl}/v1/uploads/${verdict.id}`, key: verdict.key, bucket: s.config.buckets.staging, state: verdict.state }, 200);
    });

    app.delete(`${base}/multipart/:uploadId`, async (c) => {
      const upload = await uploadOf(c);
      await cancelUpload(s, upload.id);
      return c.json({}, 200);
    });

    // Companion's STS mode hands the browser credentials for the whole bucket, under keys the
    // browser picks: no one-time use, no ticket. Sluice's scoped credentials are per upload
    // (`"method": "credentials"` on POST /v1/uploads).
    app.get(`${base}/sts`, () => {
      throw forbidden("bucket_credentials", "Sluice never hands out credentials for a whole bucket; use the signed routes (params, multipart), or ask POST /v1/uploads for \"method\": \"credentials\", scoped to one upload.");
    });
  }
  registerCompanionDocs(app);
}

/** The `/s3` routes in the OpenAPI document, with Companion's shapes (the path-credential form is the same routes). */
function registerCompanionDocs(app: App) {
  const tags = ["Companion (Uppy)"];
  const uploadId = z.string().openapi({ param: { name: "uploadId", in: "path" }, description: "Sluice's upload id (`upl_…`), as `POST /s3/multipart` gave it." });
  const key = z.string().openapi({ param: { name: "key", in: "query" }, description: "The object key `POST /s3/multipart` gave; it must be the upload's." });
  const any = (description: string) => ({ description, content: json(z.object({}).passthrough()) });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/s3/params",
    tags,
    security,
    summary: "Companion: a POST form for a whole file (size unknown: bound by the limit); in gateway mode the form goes to Sluice and answers once the verdict is in",
    request: {
      query: z.object({
        filename: z.string().openapi({ param: { name: "filename", in: "query" } }),
        type: z.string().optional().openapi({ param: { name: "type", in: "query" } }),
      }),
    },
    responses: { 200: any("`{method: \"POST\", url, fields, headers, expires}`"), ...errorResponses(400, 401, 413, 415, 422, 429, 503) },
  });
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/s3/multipart",
    tags,
    security,
    summary: "Companion: start a multipart upload (size unknown: bound by the limit, parts signed on demand)",
    request: { body: { content: json(z.object({ filename: z.string(), type: z.string().optional(), metadata: z.record(z.string(), z.unknown()).optional() })), required: true } },
    responses: { 200: any("`{key, uploadId, bucket}`"), ...errorResponses(400, 401, 413, 415, 422, 429, 503) },
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/s3/multipart/{uploadId}",
    tags,
    security,
    summary: "Companion: the parts stored so far",
    request: { params: z.object({ uploadId }), query: z.object({ key }) },
    responses: { 200: { description: "`[{PartNumber, ETag, Size}]`", content: json(z.array(z.object({ PartNumber: z.number(), ETag: z.string(), Size: z.number() }))) }, ...errorResponses(401, 404, 409, 410, 503) },
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/s3/multipart/{uploadId}/{partNumber}",
    tags,
    security,
    summary: "Companion: a signed URL for one part (1 to 10,000; its length is the client's, checked at completion)",
    request: { params: z.object({ uploadId, partNumber: z.string().openapi({ param: { name: "partNumber", in: "path" } }) }), query: z.object({ key }) },
    responses: { 200: any("`{url, expires}`"), ...errorResponses(400, 401, 404, 409, 410, 503) },
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/s3/multipart/{uploadId}/batch",
    tags,
    security,
    summary: "Companion: signed URLs for several parts",
    request: { params: z.object({ uploadId }), query: z.object({ key, partNumbers: z.string().openapi({ param: { name: "partNumbers", in: "query" }, example: "1,2,3" }) }) },
    responses: { 200: any("`{presignedUrls: {\"1\": url}}`"), ...errorResponses(400, 401, 404, 409, 410, 503) },
  });
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/s3/multipart/{uploadId}/complete",
    tags,
    security,
    summary: "Companion: assemble the parts, check the real size against the limit, and wait (up to 30 s) for the verdict: 422 file_rejected with the reason",
    request: { params: z.object({ uploadId }), query: z.object({ key }), body: { content: json(CompleteSchema), required: true } },
    responses: { 200: any("`{location, key, bucket, state}`"), ...errorResponses(400, 401, 404, 409, 410, 413, 422, 503, 507) },
  });
  app.openAPIRegistry.registerPath({
    method: "delete",
    path: "/s3/multipart/{uploadId}",
    tags,
    security,
    summary: "Companion: abort the upload (Sluice cancels it; its parts go)",
    request: { params: z.object({ uploadId }), query: z.object({ key }) },
    responses: { 200: any("`{}`"), ...errorResponses(401, 404, 409, 410, 503) },
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/s3/sts",
    tags,
    security,
    summary: "Companion: bucket-wide STS credentials; always refused (403 bucket_credentials): Sluice's credentials are per upload",
    responses: { ...errorResponses(401, 403) },
  });
}
