/**
 * The commands that talk to a Sluice server through the client SDK: upload, url, status,
 * files and keys. The server and key come from flags, then SLUICE_URL / SLUICE_API_KEY, then
 * a config file (SLUICE_CONFIG, or $XDG_CONFIG_HOME/sluice/config.json, with `url` and `apiKey`).
 */
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { FINAL_STATES, SluiceApiError, SluiceNodeClient, type ApiKeyScope, type UploadStatus } from "@sluice/client/node";

export class UsageError extends Error {}

export const CONNECTION_OPTIONS = {
  url: { type: "string" },
  key: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

export const CONNECTION_HELP = `  --url <url>     the Sluice server (default: SLUICE_URL, the config file, or http://127.0.0.1:8080)
  --key <key>     the API key (default: SLUICE_API_KEY, or the config file)
  --json          print JSON (one object per line) instead of text
  -h, --help      show this help`;

export const USAGES: Record<string, string> = {
  upload: `Usage: sluice upload <files…> [options]

Uploads files, one after another, each in parallel parts when it is large. Each upload's id
is printed before any bytes are sent: if the command is interrupted, run it again with
--resume <id> to send only the parts that are missing. Waits until each file is archived
or rejected; exits 1 if any file was not archived.

Options:
  --concurrency <n>     parts sent at once (default 4)
  --part-size <bytes>   part size to ask for (at least 5 MiB)
  --resume <id>         carry on with this upload (give exactly one file: the same one)
  --type <type>         the content type to declare (default application/octet-stream: the
                        server detects the real type)
  --checksum            compute the SHA-256 while sending; the server verifies it
  --no-wait             return once the bytes are stored, without waiting for processing
${CONNECTION_HELP}
`,
  url: `Usage: sluice url <file> [options]

Asks for a one-time upload URL for the file and prints it, with the headers to send, without
sending anything: hand it to whoever has the file (curl -X PUT -T <file> -H … '<url>').

Options:
  --expires-in <s>   seconds the URL is valid (the server clamps it)
  --type <type>      the content type to declare (default application/octet-stream)
${CONNECTION_HELP}
`,
  status: `Usage: sluice status <upload id> [options]

Prints an upload's state (and its file id once its bytes arrived).

Options:
${CONNECTION_HELP}
`,
  files: `Usage: sluice files <ls|get|download|rm> [args] [options]

  ls [--state <state>] [--limit <n>]        files, newest first
  get <file id>                             a file's metadata and state
  download <file id> [-o <path>] [--once]   save an archived file (default: its own name, here)
  rm <file id>                              delete a file

Options:
${CONNECTION_HELP}
`,
  keys: `Usage: sluice keys <create|ls|revoke> [args] [options]

  create [--name <name>]   a new API key, printed once (Sluice keeps only its hash)
  ls                       stored keys (never the keys themselves)
  revoke <key id>          refuse a key from now on (on every instance within 5 s)

Scope (create; a scoped key cannot manage keys):
  --types <list>           types it may upload, e.g. image/*,application/pdf
  --max-size <bytes>       largest file
  --prefix <path/>         object keys start with it; it sees only files under it
  --rate <N/min>           its own rate on issuing (N/sec, N/min, N/hour)
  --bytes-per-day <bytes>  bytes it may issue in a rolling day
  --open <N>               uploads it may have open at once

Options:
${CONNECTION_HELP}
`,
};

export interface Connection {
  client: SluiceNodeClient;
  json: boolean;
}

export async function connect(values: { url?: string | undefined; key?: string | undefined; json?: boolean | undefined }): Promise<Connection> {
  const file = await readConfigFile();
  const url = values.url ?? process.env.SLUICE_URL ?? file.url ?? "http://127.0.0.1:8080";
  const key = values.key ?? process.env.SLUICE_API_KEY ?? file.apiKey;
  if (!key) throw new UsageError("no API key: pass --key, set SLUICE_API_KEY, or put apiKey in the config file");
  if (!/^https?:\/\//.test(url)) throw new UsageError("--url must be an http(s) URL");
  return { client: new SluiceNodeClient({ baseUrl: url, apiKey: key }), json: values.json === true };
}

async function readConfigFile(): Promise<{ url?: string; apiKey?: string }> {
  const file = process.env.SLUICE_CONFIG ?? path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), ".config"), "sluice", "config.json");
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch {
    if (process.env.SLUICE_CONFIG) throw new UsageError(`cannot read the config file ${file}`);
    return {};
  }
  try {
    const parsed = JSON.parse(text) as { url?: unknown; apiKey?: unknown };
    return {
      ...(typeof parsed.url === "string" && { url: parsed.url }),
      ...(typeof parsed.apiKey === "string" && { apiKey: parsed.apiKey }),
    };
  } catch {
    throw new UsageError(`the config file ${file} is not valid JSON`);
  }
}

function parse<O extends ParseArgsConfig["options"]>(argv: string[], options: O) {
  return parseArgs({ args: argv, options: { ...CONNECTION_OPTIONS, ...options }, allowPositionals: true, strict: true, allowNegative: true });
}

export const print = (conn: Connection, value: unknown, text: string) => process.stdout.write(`${conn.json ? JSON.stringify(value) : text}\n`);

export function wholeNumber(value: string | undefined, flag: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`${flag} must be a whole number of at least ${min}`);
  return Number(value);
}

export async function uploadCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    concurrency: { type: "string" },
    "part-size": { type: "string" },
    resume: { type: "string" },
    type: { type: "string" },
    checksum: { type: "boolean", default: false },
    wait: { type: "boolean", default: true },
  });
  if (values.help) return help("upload");
  if (positionals.length === 0) throw new UsageError("give at least one file to upload");
  if (values.resume && positionals.length !== 1) throw new UsageError("--resume takes exactly one file: the one that upload was for");
  const concurrency = wholeNumber(values.concurrency, "--concurrency");
  const partSize = wholeNumber(values["part-size"], "--part-size", 5 * 1024 * 1024);
  const conn = await connect(values);
  const bars = new ProgressBars(!conn.json && process.stderr.isTTY);
  let failures = 0;
  for (const file of positionals) {
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat?.isFile()) {
      print(conn, { file, ok: false, error: "not a readable file" }, `${file}: not a readable file`);
      failures++;
      continue;
    }
    const bar = bars.add(path.basename(file), stat.size);
    try {
      const result = await conn.client.upload(file, {
        ...(values.type && { contentType: values.type }),
        ...(concurrency && { concurrency }),
        ...(partSize && { partSize }),
        ...(values.resume && { resume: values.resume }),
        checksum: values.checksum,
        onIssued: ({ id, multipart }) => {
          bars.log(conn.json ? JSON.stringify({ file, id, event: "issued", ...(multipart && { multipart }) }) : `${file}: upload ${id}${multipart ? ` (${multipart.partCount} parts of ${formatBytes(multipart.partSize)})` : ""}`);
        },
        onProgress: ({ loaded }) => bar.update(loaded),
      });
      bar.done();
      const final = values.wait ? await conn.client.waitForUpload(result.id) : result.status;
      const ok = values.wait ? final.state === "archived" : true;
      if (!ok) failures++;
      bars.log(
        conn.json
          ? JSON.stringify({ file, id: result.id, ok, state: final.state, ...(final.fileId && { fileId: final.fileId }), ...(final.reason && { reason: final.reason }) })
          : `${file}: ${final.state}${final.fileId ? ` as ${final.fileId}` : ""}${final.reason ? `: ${final.reason}` : ""}`,
      );
    } catch (err) {
      bar.done();
      failures++;
      bars.log(conn.json ? JSON.stringify({ file, ok: false, error: errorText(err) }) : `${file}: failed: ${errorText(err)}`);
    }
  }
  return failures > 0 ? 1 : 0;
}

export async function urlCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { "expires-in": { type: "string" }, type: { type: "string" } });
  if (values.help) return help("url");
  if (positionals.length !== 1) throw new UsageError("give exactly one file");
  const file = positionals[0]!;
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat?.isFile()) throw new UsageError(`${file} is not a readable file`);
  const expiresIn = wholeNumber(values["expires-in"], "--expires-in");
  const conn = await connect(values);
  const issued = await conn.client.requestUpload({
    filename: path.basename(file),
    contentType: values.type ?? "application/octet-stream",
    size: stat.size,
    ...(expiresIn && { expiresIn }),
  });
  if (!issued.upload) {
    print(conn, issued, `${issued.id}: ${file} is over the server's multipart threshold; it goes in parts: use "sluice upload" (its id is ${issued.id})`);
    return 1;
  }
  const headers = Object.entries(issued.upload.headers).map(([k, v]) => `-H '${k}: ${v}'`).join(" ");
  print(conn, issued, `${issued.id} (expires ${issued.expiresAt})\n${issued.upload.method} ${issued.upload.url}\ncurl -X ${issued.upload.method} -T ${JSON.stringify(file)} ${headers} '${issued.upload.url}'`);
  return 0;
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (values.help) return help("status");
  if (positionals.length !== 1) throw new UsageError("give one upload id");
  const conn = await connect(values);
  const status = await conn.client.getUpload(positionals[0]!);
  print(conn, status, describeStatus(status));
  return 0;
}

export async function filesCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { state: { type: "string" }, limit: { type: "string" }, output: { type: "string", short: "o" }, once: { type: "boolean", default: false }, force: { type: "boolean", default: false } });
  const [action, id] = positionals;
  if (values.help || action === undefined) return help("files", action === undefined && !values.help);
  const conn = await connect(values);
  switch (action) {
    case "ls": {
      const limit = wholeNumber(values.limit, "--limit") ?? 50;
      const page = await conn.client.listFiles({ limit, ...(values.state && { state: values.state }) });
      if (conn.json) for (const f of page.items) print(conn, f, "");
      else for (const f of page.items) process.stdout.write(`${f.id}  ${f.state.padEnd(9)}  ${formatBytes(f.size).padStart(10)}  ${f.contentType ?? f.declaredContentType}  ${f.filename}\n`);
      return 0;
    }
    case "get": {
      if (!id) throw new UsageError("give a file id");
      const f = await conn.client.getFile(id);
      print(conn, f, Object.entries(f).map(([k, v]) => `${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`).join("\n"));
      return 0;
    }
    case "download": {
      if (!id) throw new UsageError("give a file id");
      const f = await conn.client.getFile(id);
      const target = values.output ?? path.basename(f.filename.replace(/\\/g, "/")).replace(/^\.+/, "") ?? id;
      const { url } = await conn.client.downloadUrl(id, { once: values.once });
      const response = await fetch(url).catch((err: unknown) => {
        const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
        // The signed query is a credential: the message names the URL without it.
        throw new SluiceApiError(0, "network_error", `Could not reach ${url.replace(/[?#].*$/s, "")}: ${cause}`);
      });
      if (!response.ok || !response.body) throw new SluiceApiError(response.status, "download_failed", `The download answered HTTP ${response.status}.`);
      await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), createWriteStream(target || id, { flags: values.force ? "w" : "wx" })).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new UsageError(`${target} exists; pass --force to overwrite it, or -o <path>`);
        throw err;
      });
      print(conn, { id, path: target, size: f.size }, `saved ${target} (${formatBytes(f.size)})`);
      return 0;
    }
    case "rm": {
      if (!id) throw new UsageError("give a file id");
      await conn.client.deleteFile(id);
      print(conn, { id, deleted: true }, `deleted ${id}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown files action "${action}"\n\n${USAGES.files}`);
  }
}

export async function keysCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    name: { type: "string" },
    types: { type: "string" },
    "max-size": { type: "string" },
    prefix: { type: "string" },
    rate: { type: "string" },
    "bytes-per-day": { type: "string" },
    open: { type: "string" },
  });
  const [action, id] = positionals;
  if (values.help || action === undefined) return help("keys", action === undefined && !values.help);
  const conn = await connect(values);
  switch (action) {
    case "create": {
      const maxSize = wholeNumber(values["max-size"], "--max-size", 0);
      const bytesPerDay = wholeNumber(values["bytes-per-day"], "--bytes-per-day");
      const openTickets = wholeNumber(values.open, "--open");
      const scope: ApiKeyScope = {
        ...(values.types !== undefined && { allowedTypes: values.types.split(",").map((t) => t.trim()).filter((t) => t.length > 0) }),
        ...(maxSize !== undefined && { maxSize }),
        ...(values.prefix !== undefined && { keyPrefix: values.prefix }),
        ...(values.rate !== undefined && { rateLimit: values.rate }),
        ...(bytesPerDay !== undefined && { bytesPerDay }),
        ...(openTickets !== undefined && { openTickets }),
      };
      const key = await conn.client.createKey(values.name ?? `created by sluice keys on ${os.hostname()}`, Object.keys(scope).length > 0 ? scope : undefined);
      print(conn, key, `${key.id}  ${key.name}${key.scope ? `  scope ${describeScope(key.scope)}` : ""}\n${key.key}\n(shown once: Sluice keeps only its hash)`);
      return 0;
    }
    case "ls": {
      const keys = await conn.client.listKeys();
      if (conn.json) for (const k of keys) print(conn, k, "");
      else
        for (const k of keys)
          process.stdout.write(`${k.id}  ${k.prefix}…  ${k.revokedAt ? `revoked ${k.revokedAt}` : "active"}  ${k.name}${k.scope ? `  [${describeScope(k.scope)}]` : ""}\n`);
      return 0;
    }
    case "revoke": {
      if (!id) throw new UsageError("give a key id");
      await conn.client.revokeKey(id);
      print(conn, { id, revoked: true }, `revoked ${id}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown keys action "${action}"\n\n${USAGES.keys}`);
  }
}

function describeScope(scope: ApiKeyScope): string {
  const parts = [
    scope.allowedTypes && `types ${scope.allowedTypes.join(",")}`,
    scope.maxSize !== undefined && `max ${formatBytes(scope.maxSize)}`,
    scope.keyPrefix && `prefix ${scope.keyPrefix}`,
    scope.rateLimit && `rate ${scope.rateLimit}`,
    scope.bytesPerDay !== undefined && `${formatBytes(scope.bytesPerDay)}/day`,
    scope.openTickets !== undefined && `${scope.openTickets} open`,
  ];
  return parts.filter((p): p is string => typeof p === "string").join(", ");
}

function help(command: string, asError = false): number {
  if (asError) throw new UsageError(`missing action\n\n${USAGES[command]}`);
  process.stdout.write(USAGES[command] ?? "");
  return 0;
}

function describeStatus(s: UploadStatus): string {
  return `${s.id}: ${s.state}${s.fileId ? ` (file ${s.fileId})` : ""}${s.reason ? `: ${s.reason}` : ""}${s.multipart && !FINAL_STATES.includes(s.state) ? ` [${s.multipart.partCount} parts of ${formatBytes(s.multipart.partSize)}]` : ""}`;
}

export function errorText(err: unknown): string {
  if (err instanceof SluiceApiError) return `${err.message}${err.status ? ` (HTTP ${err.status}, ${err.code})` : ` (${err.code})`}`;
  return err instanceof Error ? err.message : String(err);
}

function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** One progress bar per file on a terminal (stderr), redrawn in place; nothing when not a terminal. */
class ProgressBars {
  readonly #tty: boolean;
  #lines = 0;
  readonly #bars: { label: string; total: number; loaded: number; started: number }[] = [];
  #last = 0;

  constructor(tty: boolean) {
    this.#tty = tty;
  }

  add(label: string, total: number) {
    const bar = { label, total, loaded: 0, started: Date.now() };
    this.#bars.push(bar);
    this.#draw(true);
    return {
      update: (loaded: number) => {
        bar.loaded = loaded;
        this.#draw(false);
      },
      done: () => {
        bar.loaded = Math.max(bar.loaded, 0);
        this.#draw(true);
      },
    };
  }

  /** Prints a line above the bars. */
  log(line: string) {
    this.#clear();
    process.stdout.write(`${line}\n`);
    this.#draw(true);
  }

  #clear() {
    if (!this.#tty || this.#lines === 0) return;
    process.stderr.write(`\x1b[${this.#lines}A\x1b[J`);
    this.#lines = 0;
  }

  #draw(force: boolean) {
    if (!this.#tty) return;
    const now = Date.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    this.#clear();
    const width = 30;
    for (const b of this.#bars) {
      const share = b.total === 0 ? 1 : b.loaded / b.total;
      const filled = Math.round(share * width);
      const rate = b.loaded / Math.max(0.001, (now - b.started) / 1000);
      process.stderr.write(`${b.label.slice(0, 30).padEnd(30)} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${formatBytes(rate)}/s\n`);
    }
    this.#lines = this.#bars.length;
  }
}
