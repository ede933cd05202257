/** The process: where it listens, its connection limits, its keys and secrets, its logs. */
import { z } from "zod";
import { documented, httpUrl, list, secret, wholeNumber } from "./fields.js";

export const serverFields = {
  PORT: documented(wholeNumber("a TCP port", 0, 65535).default(8080), {
    description: "the port the HTTP server listens on",
  }),
  HOST: documented(z.string().min(1).default("127.0.0.1"), {
    description: "the address the HTTP server listens on",
  }),
  SLUICE_PUBLIC_URL: documented(httpUrl().optional(), {
    description: "base URL written into upload and download URLs",
    default: "`http://HOST:PORT`",
  }),
  SLUICE_DATA_DIR: documented(z.string().min(1).default("./data"), {
    description: "files (`objects/<bucket>/…`) and the SQLite database",
  }),
  SLUICE_API_KEYS: documented(list().default([]), {
    description: "comma-separated keys to accept. With none set and none stored, the first start creates one, stores its hash and prints it once",
  }),
  SLUICE_SIGNING_SECRET: documented(secret("SLUICE_SIGNING_SECRET").optional(), {
    description: "HMAC key for upload and download URLs, at least 16 characters",
    default: "*(made on first start, kept in the database)*",
  }),
  SLUICE_EVENTS_SECRET: documented(secret("SLUICE_EVENTS_SECRET").optional(), {
    description:
      "authenticates `POST /v1/events/s3`: as a bearer token, as the Basic password, as an `X-Sluice-Signature: sha256=<hex HMAC of the body>` header, or as every record's `opaqueData` (Ceph RGW; `sluice setup` sets it). At least 16 characters",
    default: "*(made on first start, kept in the database)*",
  }),
  SLUICE_BODY_IDLE_TIMEOUT: documented(wholeNumber("seconds", 1, 3600).default(60), {
    description:
      "seconds a gateway upload (single PUT or part) may go without a byte while Sluice waits for one (nginx's `client_body_timeout`); then it is dropped with `408 body_timeout`, nothing is kept, and its URL can be retried at once. A claim is renewed only while bytes flow. On Node, any other request whose connection moves no byte either way for this long (a trickled JSON body, a response nobody reads) is closed",
  }),
  SLUICE_HEADERS_TIMEOUT: documented(wholeNumber("seconds", 1, 3600).default(60), {
    description:
      "seconds a connection has to send a complete request's headers, counted from when it opens or its previous request ended; then it is closed (a `408`). Covers connections that send nothing or half a request line",
  }),
  SLUICE_KEEP_ALIVE_TIMEOUT: documented(wholeNumber("seconds", 1, 3600).default(65), {
    description: "seconds an idle keep-alive connection is kept between requests (above a load balancer's usual 60 s, so that the balancer closes first)",
  }),
  SLUICE_REQUEST_TIMEOUT: documented(wholeNumber("seconds", 0, 7 * 24 * 3600).default(0), {
    description:
      "seconds a whole request may take to arrive; `0` sets no deadline, so a multi-gigabyte upload on a slow link is bounded by `SLUICE_BODY_IDLE_TIMEOUT` instead. If set, at least `SLUICE_HEADERS_TIMEOUT`",
    default: "(none)",
  }),
  SLUICE_MAX_CONNECTIONS: documented(wholeNumber("a count of connections", 1, 1_000_000).default(500), {
    description:
      "open connections at most, per process. Past it, the connection idle the longest (no request in progress) is closed to admit the new one; only when all are busy is the new one refused. Keep it well under the file-descriptor limit (`ulimit -n`): a gateway upload to the fs store holds a second descriptor",
  }),
  SLUICE_LOG_LEVEL: documented(
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], "expected a pino level such as info").default("info"),
    { description: "pino level" },
  ),
};
