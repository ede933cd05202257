/**
 * Lambda@Edge adapters for the CloudFront front of the staging bucket (src/domain/edge.ts):
 * - `originRequest`: claims the ticket before CloudFront sends the body to S3, and forwards
 *   the request with `If-None-Match: *` (storage refuses a second object) and the claim's
 *   lease (for the response), without Sluice's query string; or answers a JSON error itself;
 * - `originResponse`: spends or gives back the claim, by what S3 answered.
 */
import type { CloudFrontHeaders, CloudFrontRequest, CloudFrontRequestEvent, CloudFrontRequestResult, CloudFrontResponseEvent, CloudFrontResultResponse } from "aws-lambda";
import { claimAtEdge, finishAtEdge } from "../../domain/edge.js";
import { SluiceError } from "../../errors.js";
import type { Logger } from "../../internal/logger.js";
import type { TicketStore } from "../../tickets/ticket-store.js";

/** Carries the claim from the origin request to the origin response (S3 ignores it). */
export const LEASE_HEADER = "x-sluice-lease";

export function edgeHandlers(tickets: Promise<TicketStore>, logger: Logger) {
  return {
    originRequest: async (event: CloudFrontRequestEvent): Promise<CloudFrontRequestResult> => {
      const request = event.Records[0]!.cf.request;
      try {
        const length = header(request.headers, "content-length");
        const { lease } = await claimAtEdge(await tickets, {
          method: request.method,
          key: keyOf(request),
          contentType: header(request.headers, "content-type"),
          contentLength: length !== undefined && /^\d{1,16}$/.test(length) ? Number(length) : undefined,
          contentSha256: header(request.headers, "x-amz-content-sha256"),
        });
        request.querystring = "";
        request.headers["if-none-match"] = [{ key: "If-None-Match", value: "*" }];
        request.headers[LEASE_HEADER] = [{ key: "X-Sluice-Lease", value: lease }];
        return request;
      } catch (err) {
        return errorResponse(err, logger);
      }
    },

    originResponse: async (event: CloudFrontResponseEvent): Promise<CloudFrontResultResponse> => {
      const { request, response } = event.Records[0]!.cf;
      if (request.method !== "PUT") return response;
      try {
        const failure = await finishAtEdge(await tickets, logger, { key: keyOf(request), lease: header(request.headers, LEASE_HEADER), status: Number(response.status) });
        return failure ? errorResponse(failure, logger) : response;
      } catch (err) {
        return errorResponse(err, logger);
      }
    },
  };
}

function header(headers: CloudFrontHeaders, name: string): string | undefined {
  return headers[name]?.[0]?.value;
}

/** The object key: the URI without its slash, percent-decoded ("" when it cannot be). */
function keyOf(request: Pick<CloudFrontRequest, "uri">): string {
  try {
    return decodeURIComponent(request.uri.replace(/^\//, ""));
  } catch {
    return "";
  }
}

/** A response CloudFront sends as it is: Sluice's JSON error. Anything unexpected fails closed (503). */
function errorResponse(err: unknown, logger: Logger): CloudFrontResultResponse {
  const e = err instanceof SluiceError ? err : new SluiceError(503, "backend_unavailable", "The ticket store is unavailable.");
  if (!(err instanceof SluiceError) || e.status >= 500) logger.warn({ err }, "edge upload refused: a backend failed");
  return {
    status: String(e.status),
    headers: {
      "content-type": [{ key: "Content-Type", value: "application/json" }],
      "cache-control": [{ key: "Cache-Control", value: "no-store" }],
    },
    body: JSON.stringify({ error: { code: e.code, message: e.message } }),
  };
}
