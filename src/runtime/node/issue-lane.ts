import http, { type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { ApiKeyAuthenticator } from "../../domain/api-keys.js";
import type { Services } from "../../domain/services.js";
import { isBrowserToken } from "../../domain/tokens.js";
import { bearerOf } from "../../http/api-key-auth.js";
import { recordRequest } from "../../http/app.js";
import { BODY_LIMITS, bodyCutOff, parseJsonText } from "../../http/body-limit.js";
import { errorAnswer, type ErrorAnswer } from "../../http/errors.js";
import { sluiceError } from "../../errors.js";
import { answerIssue, clientAddressFrom } from "../../http/routes/uploads.js";

/**
 * The Host values @hono/node-server takes as they are (`reValidHost` in its url.ts); any
 * other it parses as a URL, and may refuse. The lane takes only these, so it never answers a
 * request the app would have refused for its Host.
 */
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;
const DIGITS = /^\d+$/;
/** As @hono/node-server decodes a body's text: UTF-8, a leading BOM dropped, bad bytes replaced. */
const utf8 = new TextDecoder();

/**
 * Node's fast lane for the issue route (`POST /v1/uploads`), the hottest route: the requests the
 * app would pass straight through its middleware are answered here, from Node's own request and
 * response, without building a Web Request, a Hono context and a Response (issue 19: without
 * that envelope an issuance costs 0.79x the CPU with memory tickets, 0.87x with Redis).
 * Everything else goes to the app.
 *
 * The route's work is the app's own (`answerIssue`, `errorAnswer`, `recordRequest`), so there is
 * one implementation with two envelopes; issue-lane.test.ts sends the same requests both
 * ways and compares the answers. The lane takes a request only when every middleware on the
 * app's path would have done nothing but pass it on:
 * - no `Origin` (CORS adds nothing to a POST without one);
 * - a `Content-Length` of at most the route's limit, and no `Transfer-Encoding` (`limitBody`);
 * - one `Authorization: Bearer` with an API key known without a lookup: a configured key, or
 *   one checked in the last few seconds (`requireApiKey`'s synchronous case). A token, an
 *   unknown or refused key, or a second Authorization header goes to the app;
 * - exactly `/v1/uploads` (no query) and a plain Host (the app's URL checks).
 * The body is read only once the lane has taken the request, so nothing is read twice.
 */
export function issueLane({ services, auth }: { services: Services; auth: ApiKeyAuthenticator }): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { logger } = services;
  return (req, res) => {
    if (req.method !== "POST" || req.url !== "/v1/uploads") return false;
    const headers = req.headers;
    if (headers.origin !== undefined || headers["transfer-encoding"] !== undefined) return false;
    const length = headers["content-length"];
    if (length === undefined || !DIGITS.test(length) || Number(length) > BODY_LIMITS.json) return false;
    if (headers.host === undefined || !PLAIN_HOST.test(headers.host) || !singleCredentialAndLength(req.rawHeaders)) return false;
    const key = bearerOf(headers.authorization);
    if (key === undefined || isBrowserToken(key)) return false;
    const principal = auth.cached(key)?.principal; // a hash and a map lookup; the app asks the same
    if (principal === undefined) return false;

    const started = performance.now();
    let answered = false;
    /** Answers once; never throws (the app's envelope catches the same way: a 500, or a dropped connection). */
    const answer = (status: number, body: unknown, extra?: Record<string, string>) => {
      if (answered) return;
      answered = true;
      try {
        const json = JSON.stringify(body);
        // A client gone away gets nothing written, but its request is counted as the app counts it.
        if (!res.destroyed) {
          res.writeHead(status, { "Content-Type": "application/json", ...extra, "Content-Length": Buffer.byteLength(json) });
          res.end(json);
        }
        recordRequest(services, "POST", "/v1/uploads", status, (performance.now() - started) / 1000);
      } catch (err) {
        logger.error({ err }, "could not answer an issuance");
        res.destroy();
      }
    };
    const refuse = (err: unknown) => {
      let refusal: ErrorAnswer;
      try {
        refusal = errorAnswer(err, logger);
      } catch {
        refusal = errorAnswer(sluiceError("internal_error", "Something went wrong on our side."), logger);
      }
      answer(refusal.status, refusal.body, refusal.headers);
    };
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    // A body cut off (the client went away, or the connection guard or Node's request timeout
    // closed it): answered as the app answers it (readJsonBody), for the metrics and logs.
    const cutOff = () => {
      if (!req.complete) refuse(bodyCutOff());
    };
    req.on("error", cutOff);
    req.on("close", cutOff);
    req.on("end", () => {
      try {
        const text = utf8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
        const forwarded = headers["x-forwarded-for"]; // Node joins repeats with ", ", as Web headers do
        const address = clientAddressFrom(Array.isArray(forwarded) ? forwarded.join(", ") : forwarded, req.socket.remoteAddress, services.config.trustProxy);
        answerIssue(services, principal, parseJsonText(text), { clientAddress: address }).then((issued) => answer(201, issued), refuse);
      } catch (err) {
        refuse(err);
      }
    });
    return true;
  };
}

/**
 * `http.createServer` with the lane in front of the app's request listener: what `npm start`
 * hands @hono/node-server's `serve` (whose option is typed as `http.createServer` itself).
 */
export function createServerWithLane(lane: (req: IncomingMessage, res: ServerResponse) => boolean): typeof http.createServer {
  const create = (options: http.ServerOptions, listener: RequestListener) =>
    http.createServer(options, (req, res) => {
      if (!lane(req, res)) void listener(req, res);
    });
  // `serve` always passes (options, listener); the cast covers createServer's other overloads.
  return create as typeof http.createServer;
}

/**
 * Whether Authorization and Content-Length each came at most once. Node keeps the first of
 * either; the app's Web headers would join repeats (`a, b`), which changes the answer.
 */
function singleCredentialAndLength(raw: string[]): boolean {
  let credentials = 0;
  let lengths = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 13 && name.toLowerCase() === "authorization") credentials++;
    else if (name.length === 14 && name.toLowerCase() === "content-length") lengths++;
  }
  return credentials <= 1 && lengths <= 1;
}
