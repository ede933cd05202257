/**
 * Real Redis, Memcached and PostgreSQL servers for the tests, from Debian's packages (npm test
 * installs them). Each is a throwaway instance of this test file's own: a free loopback port,
 * a temporary directory, no persistence, stopped by PID. `restart()` stops it and starts it
 * again on the same port, the way an operator's restart (or a crash and recovery) looks.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./server.js";
import { needsServerTier } from "./tier.js";

export interface BackendServer {
  /** The URL Sluice is configured with (`redis://…`, `memcached://…`, `postgres://…`). */
  url: string;
  port: number;
  pid(): number | undefined;
  /** Stops the server (SIGTERM, then SIGKILL) and waits for its port to close. */
  halt(): Promise<void>;
  /** Starts it again on the same port (empty, as a node that restarts without persistence). */
  resume(): Promise<void>;
  /** Stops it for good and removes its directory. */
  stop(): Promise<void>;
}

function need(binary: string, pkg: string): string {
  needsServerTier(binary);
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const candidate = path.join(dir, binary);
    if (dir && existsSync(candidate)) return candidate;
  }
  for (const dir of ["/usr/bin", "/usr/sbin", "/usr/local/bin"]) if (existsSync(path.join(dir, binary))) return path.join(dir, binary);
  throw new Error(`${binary} is missing: these tests need Debian's ${pkg} package (npm test installs it as root).`);
}

async function waitForPort(port: number, child: ChildProcess, what: string, output: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited before listening:\n${output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms:\n${output()}`);
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Starts `command` (re-startable on the same port) and waits until it accepts connections. */
async function serve(what: string, port: number, dir: string, start: () => ChildProcess, url: string, ready?: () => Promise<void>): Promise<BackendServer> {
  let child: ChildProcess | undefined;
  let output = "";
  const launch = async () => {
    output = "";
    child = start();
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    try {
      await waitForPort(port, child, what, () => output);
      await ready?.();
    } catch (err) {
      await kill(child);
      throw err;
    }
  };
  await launch();
  return {
    url,
    port,
    pid: () => child?.pid,
    halt: () => kill(child),
    resume: launch,
    async stop() {
      await kill(child);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * With `persistent`, every write is in the append-only file before Redis answers it, so a
 * killed and restarted server comes back with its data, as a production Redis with AOF does.
 */
export async function startRedis(options: { persistent?: boolean } = {}): Promise<BackendServer> {
  const binary = need("redis-server", "redis-server");
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-redis-"));
  const port = await freePort();
  const persistence = options.persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"];
  return serve(
    "redis-server",
    port,
    dir,
    () =>
      spawn(binary, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence, "--dir", dir, "--daemonize", "no", "--protected-mode", "yes"], {
        stdio: ["ignore", "pipe", "pipe"],
      }),
    `redis://127.0.0.1:${port}`,
  );
}

/** One or more memcached servers; the URL lists them all, as Sluice's consistent hashing expects. */
export async function startMemcached(): Promise<BackendServer> {
  const binary = need("memcached", "memcached");
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-memcached-"));
  const port = await freePort();
  // memcached refuses to run as root unless told which user to become.
  const user = process.getuid?.() === 0 ? ["-u", "nobody"] : [];
  return serve(
    "memcached",
    port,
    dir,
    () => spawn(binary, ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "64", ...user], { stdio: ["ignore", "pipe", "pipe"] }),
    `memcached://127.0.0.1:${port}`,
  );
}

export function memcachedUrl(servers: BackendServer[]): string {
  return `memcached://${servers.map((s) => `127.0.0.1:${s.port}`).join(",")}`;
}

function postgresBin(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, "bin/postgres"))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error("PostgreSQL's server is missing: these tests need Debian's postgresql package (npm test installs it as root).");
  return path.join(root, newest, "bin");
}

/**
 * A PostgreSQL cluster of its own: initdb into a temporary directory, then `postgres` on a
 * free port with its socket in that directory. PostgreSQL will not run as root, so as root
 * it runs as the `postgres` user (created by Debian's package) through setpriv, which execs
 * in place: the PID is the postmaster's.
 */
export async function startPostgres(): Promise<BackendServer> {
  const bin = postgresBin();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-pg-"));
  const data = path.join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  const as = (command: string, args: string[]): [string, string[]] =>
    asRoot ? [need("setpriv", "util-linux"), ["--reuid=postgres", "--regid=postgres", "--init-groups", command, ...args]] : [command, args];
  if (asRoot) execFileSync("chown", ["postgres:postgres", dir]);
  const [initdb, initArgs] = as(path.join(bin, "initdb"), ["-D", data, "-U", "sluice", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
  execFileSync(initdb, initArgs, { stdio: "pipe" });
  const port = await freePort();
  const server = await serve(
    "postgres",
    port,
    dir,
    () => {
      const [postgres, args] = as(path.join(bin, "postgres"), [
        "-D", data, "-p", String(port), "-k", dir,
        "-c", "listen_addresses=127.0.0.1",
        // Throwaway data: durability settings off, so that the suite spends its time on Sluice.
        "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        "-c", "max_connections=200",
      ]);
      return spawn(postgres, args, { stdio: ["ignore", "pipe", "pipe"] });
    },
    `postgres://sluice@127.0.0.1:${port}/postgres`,
    // PostgreSQL listens before it accepts sessions ("the database system is starting up",
    // seen on a loaded run): ready means a query answers.
    () => untilQueryAnswers(`postgres://sluice@127.0.0.1:${port}/postgres`),
  );
  return server;
}

async function untilQueryAnswers(url: string, timeoutMs = 30_000): Promise<void> {
  const { default: pg } = await import("pg");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query("select 1");
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** A database of its own on a running cluster, so that test files sharing one stay apart. */
export async function createDatabase(server: BackendServer, name: string): Promise<string> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name.replace(/"/g, "")}"`);
  } finally {
    await client.end();
  }
  return server.url.replace(/\/postgres$/, `/${name}`);
}

/**
 * A DynamoDB-compatible server that has transactions: moto's (pip's `moto[server]`), run by
 * moto-dynamodb.py (one request at a time; see there why). dynalite (npm), which the ticket
 * tests use, has no TransactWriteItems (its README lists them as to do), and the DynamoDB
 * metadata store writes every change with its event in one. In memory; `url` is the endpoint.
 */
export async function startMotoDynamo(): Promise<BackendServer> {
  needsServerTier("moto");
  const python = await motoPython();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-moto-"));
  const port = await freePort();
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "moto-dynamodb.py");
  return serve("moto", port, dir, () => spawn(python, [script, String(port)], { stdio: ["ignore", "pipe", "pipe"], cwd: dir }), `http://127.0.0.1:${port}`);
}

const MOTO = "moto[server]==5.2.1";

/**
 * A Python that has moto: the checkout's own (.tmp/moto, made here the first time, from PyPI
 * with pip, as moto is not packaged for Debian), or one on PATH that already has it.
 */
async function motoPython(): Promise<string> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  const venv = path.join(root, ".tmp", "moto");
  const hasMoto = (python: string) => {
    try {
      execFileSync(python, ["-c", "import moto.server"], { stdio: "pipe" });
      return true;
    } catch {
      return false;
    }
  };
  const own = path.join(venv, "bin", "python3");
  if (existsSync(own) && hasMoto(own)) return own;
  const onPath = need("python3", "python3");
  if (hasMoto(onPath)) return onPath;
  // Made beside and renamed into place, so that two test files starting at once cannot leave half of one.
  const building = `${venv}-${process.pid}`;
  try {
    execFileSync(onPath, ["-m", "venv", building], { stdio: "pipe" });
    execFileSync(path.join(building, "bin", "python3"), ["-m", "pip", "install", "--quiet", MOTO], { stdio: "pipe", timeout: 300_000 });
    await fs.rename(building, venv).catch(() => fs.rm(building, { recursive: true, force: true }));
  } catch (err) {
    await fs.rm(building, { recursive: true, force: true });
    throw new Error(`moto's server is missing and could not be installed (python3 -m venv, then pip install '${MOTO}'; Debian: apt-get install python3-venv)`, { cause: err });
  }
  return own;
}

/**
 * Runs `fn` with PATH naming only an empty directory, as on a slim image where a command (such
 * as `ping`) is not installed: what this process spawns by name in the meantime is not found.
 */
export async function withEmptyPath<T>(fn: () => Promise<T>): Promise<T> {
  const empty = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-empty-path-"));
  const saved = process.env.PATH;
  process.env.PATH = empty;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
    await fs.rm(empty, { recursive: true, force: true });
  }
}
