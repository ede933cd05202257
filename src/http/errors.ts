import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { SluiceError } from "../errors.js";
import type { Logger } from "../internal/logger.js";

/** The one place errors become HTTP responses: `{error: {code, message}}` with the right status. */
export function errorResponse(c: Context, err: unknown, logger: Logger): Response {
  if (err instanceof SluiceError) {
    if (err.status === 503) logger.warn({ err: err.cause ?? err, code: err.code }, err.message);
    return c.json({ error: { code: err.code, message: err.message } }, err.status, err.headers);
  }
  if (err instanceof HTTPException) {
    // Raised by Hono itself: malformed JSON, a body over the limit, a wrong content type.
    const status = err.status;
    const code =
      status === 400 ? "invalid_json" : status === 413 ? "too_large" : status === 415 ? "unsupported_media_type" : "http_error";
    const message =
      status === 400
        ? "The request body is not valid JSON."
        : status === 415
          ? "Send the request body as application/json."
          : err.message || "Request refused.";
    return c.json({ error: { code, message } }, status);
  }
  logger.error({ err }, "unhandled error");
  return c.json({ error: { code: "internal_error", message: "Something went wrong on our side." } }, 500);
}

/** A request that failed its schema: 400 naming the first problem and where it is. */
export function invalidRequest(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): SluiceError {
  const issue = error.issues[0];
  const where = issue?.path.length ? `${issue.path.map(String).join(".")}: ` : "";
  return new SluiceError(400, "invalid_request", `${where}${issue?.message ?? "invalid request"}`);
}
