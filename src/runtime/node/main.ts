#!/usr/bin/env node
/** `npm start`: Sluice on Node's HTTP server. */
import fs from "node:fs";
import type http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { ConfigError, loadConfig, type Config } from "../../config.js";
import { createSluice } from "../compose.js";
import { nodeRuntime } from "./adapter.js";
import { guardConnections } from "./connections.js";
import { createServerWithLane, issueLane } from "./issue-lane.js";

function webRoot(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Built: dist/runtime/node → dist/web. From source (npm run dev): the last build's dist/web.
  for (const candidate of [path.resolve(here, "../../web"), path.resolve(here, "../../../dist/web")]) {
    if (fs.existsSync(path.join(candidate, "index.html")) && fs.existsSync(path.join(candidate, "app.js"))) return candidate;
  }
  return undefined;
}

/** Gateway uploads (a single PUT or a part): their bodies have their own idle timer (meterBody). */
const GATEWAY_UPLOAD = /^\/v1\/uploads\/upl_[^/?]+\/(content|parts\/\d+)(\?|$)/;

function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

function listenFailure(err: NodeJS.ErrnoException): string {
  if (err.code === "EADDRINUSE") return "the port is in use by another process (set PORT to a free one)";
  if (err.code === "EACCES") return "permission denied (ports below 1024 need privileges; set PORT)";
  if (err.code === "EADDRNOTAVAIL") return "the address is not on this machine (check HOST)";
  return err.message;
}

/**
 * What a person sees at start: the address Sluice listens on; the public URL when it differs
 * (behind a proxy, SLUICE_PUBLIC_URL is where browsers reach it, not where it listens); and on
 * the very first start, the key and a link that carries it.
 */
function startupBanner(config: Pick<Config, "host" | "port" | "publicUrl">, port: number, key: string | undefined): string {
  const listening = `http://${hostPort(config.host, port)}`;
  // PORT=0 picks a free port: the default public URL names port 0 until the real one is known.
  const publicUrl = config.port === 0 ? config.publicUrl.replace(/:0$/, `:${port}`) : config.publicUrl;
  const lines = [`Sluice is listening on ${listening}`];
  if (publicUrl !== listening) lines.push(`Public URL: ${publicUrl}`);
  if (key) {
    // Shown once, on the terminal only (never through the logger): only its hash is stored.
    lines.push(`API key (shown once, keep it): ${key}`, `Web uploader: ${publicUrl}/#key=${key}`);
  } else {
    lines.push(`Web uploader: ${publicUrl}/ (paste an API key when asked)`);
  }
  return lines.map((l) => `  ${l}\n`).join("");
}

async function main() {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sluice: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const root = webRoot();
  const sluice = await createSluice(config, { defaultMetrics: true, runtime: nodeRuntime, ...(root && { webRoot: root }) });
  const { logger } = sluice.services;
  if (!root) logger.warn("the web page is not built; run `npm run build` to serve it at /");

  // Before listening (a busy port, a host not on this machine): one line that says what to change.
  const cannotListen = (err: NodeJS.ErrnoException) => {
    process.stderr.write(`sluice: cannot listen on ${hostPort(config.host, config.port)}: ${listenFailure(err)}\n`);
    process.exit(1);
  };
  const lane = issueLane(sluice);
  const server = serve(
    {
      fetch: sluice.app.fetch,
      port: config.port,
      hostname: config.host,
      // The issue route's happy path is answered by Node's fast lane in front of the app.
      createServer: createServerWithLane(lane),
      serverOptions: {
        // A connection must send complete headers within headersTimeout (a silent one too:
        // Node counts from the connection's start), checked every connectionsCheckingInterval,
        // so it is closed at most a tenth of the timeout late.
        headersTimeout: config.server.headersTimeoutMs,
        connectionsCheckingInterval: Math.max(100, Math.min(5000, config.server.headersTimeoutMs / 10)),
        // No overall deadline by default: a multi-gigabyte upload on a slow link may take hours.
        // The gateway's body-idle timeout drops one that stops sending.
        requestTimeout: config.server.requestTimeoutMs,
        keepAliveTimeout: config.server.keepAliveTimeoutMs,
      },
    },
    (info) => {
      server.off("error", cannotListen);
      logger.info({ host: config.host, port: info.port }, "listening");
      // Only now, with the port bound, is the first start's key made: a start that cannot
      // listen must not store a key it never showed (the next start would ask for it).
      sluice.createBootstrapKey().then(
        (key) => process.stderr.write(startupBanner(config, info.port, key)),
        (err: unknown) => {
          logger.error({ err }, "could not create the first API key");
          process.exit(1);
        },
      );
    },
  );
  server.once("error", cannotListen);
  guardConnections(server as http.Server, {
    maxConnections: config.server.maxConnections,
    lingerMs: 5000,
    idleMs: config.bodyIdleTimeoutMs,
    meteredElsewhere: (req) => req.method === "PUT" && GATEWAY_UPLOAD.test(req.url ?? ""),
  });
  sluice.start();

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    server.close();
    sluice.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

await main();
