import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { completeUpload } from "../../domain/complete.js";
import { isConfinedCaller, requireWithinKeyPrefix } from "../../domain/scopes.js";
import { cancelUpload } from "../../domain/cancel.js";
import { issueUpload } from "../../domain/issue.js";
import { getUploadStatus } from "../../domain/upload-status.js";
import { retryFailedUpload } from "../../domain/retry.js";
import { clampVerdictWait, refuseRejected, waitForVerdict } from "../../domain/verdict.js";
import { badRequest } from "../../errors.js";
import { BODY_LIMITS, limitBody, readJsonBody, type JsonBody } from "../body-limit.js";
import { invalidRequest } from "../errors.js";
import type { App, AppOptions } from "../app.js";
import { partUrls, uploadedParts } from "../../domain/multipart.js";
import {
  CompleteRequestSchema,
  IdParam,
  IssuedUploadSchema,
  PartUrlsRequestSchema,
  PartUrlsSchema,
  StoredPartsSchema,
  UploadRequestSchema,
  UploadSchema,
  VerdictWaitQuery,
  errorResponses,
  json,
  security,
} from "../schemas.js";
import { uploadView } from "../views.js";
import type { Services } from "../../domain/services.js";
import type { Principal } from "../../domain/principal.js";


const issue = createRoute({
  method: "post",
  path: "/v1/uploads",
  summary: "Ask for a one-time upload URL",
  security,
  request: { body: { content: json(UploadRequestSchema), required: true } },
  responses: {
    201: { description: "Upload instructions", content: json(IssuedUploadSchema) },
    ...errorResponses(400, 401, 413, 415, 422, 429, 503, 507),
  },
});

type ErrorStatuses = Parameters<typeof errorResponses>;

/** A route on one upload (`/v1/uploads/{id}…`) that answers with the upload's state. */
const onUpload = <M extends "get" | "post" | "delete", P extends string>(method: M, path: P, summary: string, ...errors: ErrorStatuses) =>
  createRoute({
    method,
    path,
    summary,
    security,
    request: { params: IdParam("upl") },
    responses: { 200: { description: "The upload", content: json(UploadSchema) }, ...errorResponses(400, 401, 404, 503, ...errors) },
  });

const status = onUpload("get", "/v1/uploads/{id}", "An upload's state");
const cancel = onUpload("delete", "/v1/uploads/{id}", "Cancel an upload whose bytes have not arrived; its URL then gives 410", 409, 410);
const complete = createRoute({
  method: "post",
  path: "/v1/uploads/{id}/complete",
  summary: "Say the bytes are uploaded (idempotent); Sluice checks the object, assembles a multipart upload's parts, and starts processing",
  security,
  request: { params: IdParam("upl"), query: VerdictWaitQuery, body: { content: json(CompleteRequestSchema), required: false } },
  responses: { 200: { description: "The upload (archived, when `wait` was given and the verdict came in time)", content: json(UploadSchema) }, ...errorResponses(400, 401, 404, 409, 410, 413, 422, 503, 507) },
});
const signParts = createRoute({
  method: "post",
  path: "/v1/uploads/{id}/parts",
  summary: "Signed URLs for parts of a multipart upload (short-lived; ask again when they expire)",
  security,
  request: { params: IdParam("upl"), body: { content: json(PartUrlsRequestSchema), required: true } },
  middleware: [limitBody(BODY_LIMITS.json)] as const,
  responses: { 200: { description: "One URL per part", content: json(PartUrlsSchema) }, ...errorResponses(400, 401, 404, 409, 410, 413, 503) },
});
const listParts = createRoute({
  method: "get",
  path: "/v1/uploads/{id}/parts",
  summary: "The parts storage already holds, so that a client can resume",
  security,
  request: { params: IdParam("upl") },
  responses: { 200: { description: "Stored parts", content: json(StoredPartsSchema) }, ...errorResponses(400, 401, 404, 409, 410, 503) },
});
const retry = onUpload("post", "/v1/uploads/{id}/retry", "Process a failed upload again (operators)", 409);

/**
 * The client's address: the socket's peer, or, behind `trustProxy` proxies that each append
 * the address they saw to X-Forwarded-For, the entry the outermost trusted proxy appended.
 * Entries left of it are the client's to write, so they are never believed.
 */
export function clientAddress(c: Context, trustProxy: number, peerAddress: AppOptions["peerAddress"]): string | undefined {
  return clientAddressFrom(trustProxy === 0 ? undefined : c.req.header("x-forwarded-for"), peerAddress?.(c), trustProxy);
}

/** `clientAddress` from the header's value and the peer (Node's issue lane has no Hono context). */
export function clientAddressFrom(forwardedFor: string | undefined, peer: string | undefined, trustProxy: number): string | undefined {
  if (trustProxy === 0) return peer;
  const forwarded = (forwardedFor ?? "").split(",").map((a) => a.trim()).filter((a) => a.length > 0);
  return forwarded[forwarded.length - trustProxy] ?? forwarded[0] ?? peer;
}

/**
 * The issue route's work once its caller is known and its body read: the body's JSON, checked
 * against the schema, issued; the 201 answer's body, or a SluiceError thrown. The route below
 * calls it, and so does Node's issue lane (runtime/node/issue-lane.ts), which answers the same
 * requests without building a Web Request and Response: one implementation, two envelopes.
 */
export async function answerIssue(services: Services, principal: Principal, body: JsonBody, options: { clientAddress: string | undefined }) {
  if (!body.json) throw badRequest("invalid_json", "The request body is not valid JSON.");
  const parsed = UploadRequestSchema.safeParse(body.value);
  if (!parsed.success) throw invalidRequest(parsed.error);
  const { ticket, upload, multipart, credentials } = await issueUpload(services, principal, parsed.data, options);
  const expiresAt = new Date(ticket.expiresAt).toISOString();
  // Literal objects, not spreads of a shared base: measurably cheaper on this route.
  if (upload) return { id: ticket.id, state: "issued" as const, key: ticket.key, expiresAt, upload };
  if (multipart) return { id: ticket.id, state: "issued" as const, key: ticket.key, expiresAt, multipart };
  return { id: ticket.id, state: "issued" as const, key: ticket.key, expiresAt, credentials: { ...credentials, expiresAt: new Date(credentials.expiresAt).toISOString() } };
}

export function registerUploadRoutes(app: App, { services, peerAddress }: AppOptions) {
  // The hottest route: the same schema, parsed directly rather than through the OpenAPI
  // validator middleware (measured: that middleware costs ~10% of this route's throughput).
  app.openAPIRegistry.registerPath(issue);
  app.post("/v1/uploads", limitBody(BODY_LIMITS.json), async (c) => {
    const body = await readJsonBody(c);
    return c.json(await answerIssue(services, c.get("principal"), body, { clientAddress: clientAddress(c, services.config.trustProxy, peerAddress) }), 201);
  });
  // One scope check for every route on one upload (`/v1/uploads/:id` and below): a scoped key
  // or a browser token reads the upload first, and the status route answers with what was read.
  app.use("/v1/uploads/:id/*", async (c, next) => {
    const principal = c.get("principal");
    if (isConfinedCaller(principal)) c.set("upload", requireWithinKeyPrefix(principal, await getUploadStatus(services, c.req.param("id"))));
    await next();
  });
  app.openapi(status, async (c) => c.json(uploadView(c.get("upload") ?? (await getUploadStatus(services, c.req.valid("param").id))), 200));
  app.openapi(cancel, async (c) => c.json(uploadView(await cancelUpload(services, c.req.valid("param").id)), 200));
  // The body is optional (a single upload needs none), so it is parsed here rather than by the validator.
  app.openAPIRegistry.registerPath(complete);
  app.post("/v1/uploads/:id/complete", limitBody(BODY_LIMITS.completion), async (c) => {
    const param = IdParam("upl").safeParse({ id: c.req.param("id") });
    if (!param.success) throw invalidRequest(param.error);
    const body = await readJsonBody(c, { emptyAs: {} });
    if (!body.json) throw badRequest("invalid_json", "The request body is not valid JSON.");
    const parsed = CompleteRequestSchema.safeParse(body.value);
    if (!parsed.success) throw invalidRequest(parsed.error);
    const wait = VerdictWaitQuery.safeParse({ wait: c.req.query("wait") });
    if (!wait.success) throw invalidRequest(wait.error);
    const completed = await completeUpload(services, param.data.id, parsed.data);
    if (!wait.data.wait || Number(wait.data.wait) === 0) return c.json(uploadView(completed), 200);
    const verdict = await waitForVerdict(services, completed.id, { timeoutMs: clampVerdictWait(Number(wait.data.wait)) * 1000, known: completed });
    return c.json(uploadView(refuseRejected(verdict)), 200);
  });
  app.openapi(signParts, async (c) => c.json({ parts: (await partUrls(services, c.req.valid("param").id, c.req.valid("json").partNumbers)).map((p) => ({ ...p, expiresAt: new Date(p.expiresAt).toISOString() })) }, 200));
  app.openapi(listParts, async (c) => c.json({ parts: await uploadedParts(services, c.req.valid("param").id) }, 200));
  app.openapi(retry, async (c) => c.json(uploadView(await retryFailedUpload(services, c.req.valid("param").id)), 200));
}
