/**
 * Starts the built Sluice (`dist/runtime/node/main.js`) as a real process on a free loopback
 * port with its own data directory, and stops it by PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { needsServerTier } from "./tier.js";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const MAIN = path.join(ROOT, "dist/runtime/node/main.js");
/**
 * Node's arguments exactly as `npm start` gives them (read from package.json, so tests and
 * benchmarks run the server the way users do), e.g. `--max-semi-space-size=16 dist/…/main.js`.
 */
export const START_ARGS: string[] = (() => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } };
  const [node, ...args] = pkg.scripts.start.split(/\s+/);
  if (node !== "node" || args.at(-1) !== path.relative(ROOT, MAIN)) throw new Error(`unexpected start script: ${pkg.scripts.start}`);
  return args.map((a) => (a === args.at(-1) ? MAIN : a));
})();

export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

/** A server process started by `spawnServer`. */
export interface ServerProcess {
  url: string;
  process: ChildProcess;
  /** Every line the server logged on stdout, parsed (a line that is not JSON as `{ raw }`). */
  logs: Record<string, unknown>[];
  /** What the server wrote for people (Sluice's start-up banner). */
  stderr(): string;
  /** SIGTERM, then SIGKILL if it has not exited within 10 s. */
  stop(): Promise<void>;
}

/** Levels at which Sluice logs its `listening` line (pino's info and below). */
const LOGS_LISTENING = new Set(["trace", "debug", "info"]);

/**
 * Spawns a Node server on a free loopback port (given as PORT and HOST) and resolves once it
 * is listening: when it has logged `{"msg":"listening"}` as JSON on stdout (`awaitLog`) and
 * printed Sluice's banner on stderr (`awaitBanner`); two pipes, either may come first. The
 * one way tests and the bench start servers (`startServer` for Sluice, the bench for its
 * baselines too).
 */
export async function spawnServer(
  args: string[],
  env: Record<string, string>,
  options: { awaitLog: boolean; awaitBanner: boolean; /** Copies error lines (pino level 50 and up) to this process's stderr. */ echoErrors?: boolean },
): Promise<ServerProcess> {
  needsServerTier("Sluice");
  const port = await freePort();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PORT: String(port), HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  let logged = !options.awaitLog;
  let bannered = !options.awaitBanner;
  const lines = readline.createInterface({ input: child.stdout });
  const listening = new Promise<void>((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      bannered ||= stderr.includes("Sluice is listening on");
      if (logged && bannered) resolve();
    });
    lines.on("line", (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (options.echoErrors && typeof entry.level === "number" && entry.level >= 50) process.stderr.write(`${line}\n`);
        logged ||= entry.msg === "listening";
        if (logged && bannered) resolve();
      } catch {
        logs.push({ raw: line });
      }
    });
    child.once("exit", (code) => reject(new Error(`${path.basename(args.at(-1) ?? "node")} exited with ${code} before listening:\n${stderr}`)));
  });
  await listening;
  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    logs,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface TestServer extends ServerProcess {
  key: string;
  dataDir: string;
  /** A JSON API call with the key. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>; // eslint-disable-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field in tests
}

/** The built Sluice as `npm start` runs it, with its own data directory (removed on stop unless `keep`). */
export async function startServer(env: Record<string, string> = {}, options: { dataDir?: string; keep?: boolean; echoErrors?: boolean } = {}): Promise<TestServer> {
  await fs.access(MAIN).catch(() => {
    throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does).`);
  });
  const dataDir = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), "sluice-test-")));
  const key = env.SLUICE_API_KEYS ?? `sk_test_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const fullEnv = { SLUICE_DATA_DIR: dataDir, SLUICE_API_KEYS: key, SLUICE_RATE_LIMIT: "off", SLUICE_LOG_LEVEL: "info", ...env };
  let server: ServerProcess;
  try {
    // Below info (the bench runs at warn) there is no `listening` log line to wait for: the banner says it.
    server = await spawnServer(START_ARGS, fullEnv, { awaitLog: LOGS_LISTENING.has(fullEnv.SLUICE_LOG_LEVEL), awaitBanner: true, echoErrors: options.echoErrors ?? false });
  } catch (err) {
    // It never started: remove what was made for it (a data directory passed in is the caller's).
    if (!options.dataDir) await fs.rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const { url } = server;
  return {
    ...server,
    key,
    dataDir,
    async api(method, p, body, headers = {}) {
      const res = await fetch(url + p, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body !== undefined && { "content-type": "application/json" }),
          ...headers,
        },
        ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async stop() {
      await server.stop();
      if (!options.keep) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls an upload until it reaches a final state. */
export async function waitForFinal(server: TestServer, id: string, timeoutMs = 15_000): Promise<{ state: string; reason?: string; fileId?: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await server.api("GET", `/v1/uploads/${id}`);
    const status = body as { state: string; reason?: string; fileId?: string };
    if (["archived", "rejected", "expired", "failed", "cancelled"].includes(status.state)) return status;
    if (Date.now() > deadline) throw new Error(`upload ${id} still ${status.state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Lists every file below a directory, relative to it. */
export async function filesUnder(dir: string): Promise<string[]> {
  try {
    const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
  } catch {
    return [];
  }
}

/**
 * Retries an assertion until it holds or `timeoutMs` passes. For effects that follow a state
 * change by design (the staging copy is deleted just after the final state is recorded).
 */
export async function eventually(check: () => Promise<void>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
