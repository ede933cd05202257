import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { SluiceError, sluiceError, type ErrorCode } from "../errors.js";
import type { Logger } from "../internal/logger.js";

/** Hono's own refusals (malformed JSON, a wrong content type), in the registry's words. */
const frameworkRefusal = (status: number): { code: ErrorCode; message?: string } =>
  status === 400
    ? { code: "invalid_json", message: "The request body is not valid JSON." }
    : status === 413
      ? { code: "too_large" }
      : status === 415
        ? { code: "unsupported_media_type", message: "Send the request body as application/json." }
        : { code: "http_error" };

/** An error as the API answers it: its status, `{error: {code, message}}`, and any headers it carries (Retry-After). */
export interface ErrorAnswer {
  status: number;
  body: { error: { code: string; message: string } };
  headers?: Record<string, string> | undefined;
}

/**
 * The one place errors become answers: `{error: {code, message}}` with the right status. Used
 * by `errorResponse` and by Node's issue lane (runtime/node/issue-lane.ts), which answers
 * without a Hono context.
 */
export function errorAnswer(err: unknown, logger: Logger): ErrorAnswer {
  if (err instanceof SluiceError) {
    if (err.status === 503) logger.warn({ err: err.cause ?? err, code: err.code }, err.message);
    return answerOf(err);
  }
  if (err instanceof HTTPException) {
    // Raised by Hono itself. Its status is kept as it is, even where the registry's differs
    // (`http_error` stands for any status Hono picks).
    const { code, message } = frameworkRefusal(err.status);
    return { status: err.status, body: { error: { code, message: message ?? (err.message || "Request refused.") } } };
  }
  logger.error({ err }, "unhandled error");
  return answerOf(sluiceError("internal_error", "Something went wrong on our side."));
}

const answerOf = (err: SluiceError): ErrorAnswer => ({ status: err.status, body: { error: { code: err.code, message: err.message } }, headers: err.headers });

/** An error as a Response (`app.onError`, and the routes that answer an error themselves). */
export function errorResponse(c: Context, err: unknown, logger: Logger): Response {
  const { status, body, headers } = errorAnswer(err, logger);
  // tus's 460 (checksum mismatch) is no status Hono names; a Response takes any 200-599.
  return c.json(body, status as ContentfulStatusCode, headers);
}

/** An error answered directly, without being thrown (a handler that must not go through onError). */
export const errorJson = (c: Context, err: SluiceError): Response =>
  // tus's 460 (checksum mismatch) is no status Hono names; a Response takes any 200-599.
  c.json(answerOf(err).body, err.status as ContentfulStatusCode, err.headers);

/** A request that failed its schema: 400 naming the first problem and where it is. */
export function invalidRequest(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): SluiceError {
  const issue = error.issues[0];
  const where = issue?.path.length ? `${issue.path.map(String).join(".")}: ` : "";
  return sluiceError("invalid_request", `${where}${issue?.message ?? "invalid request"}`);
}
