/**
 * tus-js-client in a process of its own, as a Node program of a user runs it: the file read
 * from disk, its upload URL kept in a FileUrlStorage so that a later process resumes it. Run
 * as `node --import tsx test/helpers/tus-client.ts '<json options>'`; prints one JSON line per
 * event (`url`, `chunk`, `success`, `error`). `killAfterChunks` makes it SIGKILL itself after
 * that many PATCHes were answered: a process that dies mid-upload, at a known point.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import readline from "node:readline";
import * as tus from "tus-js-client";
import { Upload, type UrlStorage } from "tus-js-client";

// The Node build exports FileUrlStorage (its README documents it); the package's one .d.ts, shared with the browser build, does not declare it.
const { FileUrlStorage } = tus as unknown as { FileUrlStorage: new (path: string) => UrlStorage };

export interface TusClientOptions {
  endpoint: string;
  file: string;
  /** The FileUrlStorage file that remembers the upload's URL between processes. */
  urlStorage: string;
  chunkSize?: number;
  headers?: Record<string, string>;
  metadata?: Record<string, string>;
  killAfterChunks?: number;
}

export type TusClientEvent =
  | { event: "url"; url: string }
  | { event: "resuming"; url: string }
  | { event: "chunk"; accepted: number; total: number }
  | { event: "success"; url: string }
  | { event: "error"; message: string; status?: number; body?: string };

async function main(options: TusClientOptions) {
  // The process ends with the upload (success or error), once its last line is written.
  const say = (e: TusClientEvent) => process.stdout.write(`${JSON.stringify(e)}\n`, () => (e.event === "success" || e.event === "error") && process.exit(0));
  const file = readFileSync(options.file);
  let chunks = 0;
  const upload = new Upload(file, {
    endpoint: options.endpoint,
    ...(options.chunkSize !== undefined && { chunkSize: options.chunkSize }),
    headers: options.headers ?? {},
    metadata: options.metadata ?? {},
    urlStorage: new FileUrlStorage(options.urlStorage),
    retryDelays: [0, 500, 1000],
    onUploadUrlAvailable: () => say({ event: "url", url: upload.url ?? "" }),
    onChunkComplete: (_size, accepted, total) => {
      say({ event: "chunk", accepted, total });
      if (options.killAfterChunks !== undefined && ++chunks >= options.killAfterChunks) process.kill(process.pid, "SIGKILL");
    },
    onSuccess: () => say({ event: "success", url: upload.url ?? "" }),
    onError: (err) => {
      const detailed = err as Error & { originalResponse?: { getStatus(): number; getBody(): string } | null };
      const response = detailed.originalResponse;
      say({ event: "error", message: err.message, ...(response && { status: response.getStatus(), body: response.getBody() }) });
    },
  });
  const previous = await upload.findPreviousUploads();
  if (previous[0]) {
    say({ event: "resuming", url: previous[0].uploadUrl ?? "" });
    upload.resumeFromPreviousUpload(previous[0]);
  }
  upload.start();
}

/** Runs the client in a child process and collects its events until it exits (or is killed). */
export async function runTusClient(options: TusClientOptions): Promise<{ events: TusClientEvent[]; signal: NodeJS.Signals | null; code: number | null }> {
  const child = spawn(process.execPath, ["--import", "tsx", import.meta.filename, JSON.stringify(options)], { stdio: ["ignore", "pipe", "inherit"] });
  const events: TusClientEvent[] = [];
  const lines = readline.createInterface({ input: child.stdout });
  lines.on("line", (line) => events.push(JSON.parse(line) as TusClientEvent));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on("close", (c, s) => resolve([c, s])));
  return { events, signal, code };
}

if (process.argv[1] === import.meta.filename) void main(JSON.parse(process.argv[2] ?? "{}") as TusClientOptions);
