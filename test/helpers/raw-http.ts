/**
 * HTTP the way a misbehaving client sends it: a chunked body far over a limit, a body that
 * stops mid-way, a socket that connects and says nothing. Loopback only, every wait bounded.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";

export interface ChunkedResult {
  status: number;
  body: { error?: { code?: string; message?: string } };
  /** Body bytes written when the answer's headers arrived. */
  sentWhenAnswered: number;
}

/**
 * POSTs (or PUTs) `totalBytes` of filler as a chunked body (no Content-Length), 64 KiB a
 * write with backpressure, and stops writing as soon as an answer arrives.
 *
 * At full speed, `sentWhenAnswered` is mostly the kernel's buffering, not the server: loopback
 * takes 4 MiB before the server has read a byte, and GB/s while it drains what it refused, so
 * the same server measured 4 to 32 MiB for a 64 KiB limit. `bytesPerSecond` paces the writes,
 * so that what was sent when the answer came says how long the server took to answer.
 */
export function sendChunked(url: string, options: { method?: string; headers?: Record<string, string>; totalBytes: number; bytesPerSecond?: number; timeoutMs?: number }): Promise<ChunkedResult> {
  const chunk = Buffer.alloc(64 * 1024, 0x20); // JSON whitespace: valid filler for a body that is JSON
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const started = performance.now();
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer after ${sent} bytes sent`));
    }, options.timeoutMs ?? 30_000);
    const req = http.request(url, { method: options.method ?? "POST", headers: { "content-type": "application/json", ...options.headers } });
    req.on("error", (err) => {
      if (!answered) {
        clearTimeout(timer);
        reject(new Error(`request failed after ${sent} bytes sent: ${err.message}`));
      }
    });
    req.on("response", (res) => {
      answered = true;
      const sentWhenAnswered = sent;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("error", () => undefined);
      res.on("end", () => {
        clearTimeout(timer);
        req.destroy();
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as ChunkedResult["body"], sentWhenAnswered });
        } catch {
          reject(new Error(`answer ${res.statusCode} is not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    // One chunk a turn of the event loop, so that an answer is read between any two writes.
    const write = () => {
      if (answered) return;
      if (sent >= options.totalBytes) return void req.end();
      if (options.bytesPerSecond) {
        const dueInMs = (sent / options.bytesPerSecond) * 1000 - (performance.now() - started);
        if (dueInMs > 0) return void setTimeout(write, dueInMs);
      }
      sent += chunk.byteLength;
      if (req.write(chunk)) setImmediate(write);
      else req.once("drain", () => setImmediate(write));
    };
    write();
  });
}

/** The resident set of a process, in bytes (Linux). */
export function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

export interface StalledRequest {
  /** Settles with the answer (status and JSON) or null if the connection closed without one. */
  answer: Promise<{ status: number; body: { error?: { code?: string } } } | null>;
  /** Settles when the connection is closed, with the ms since the last byte was sent. */
  closed: Promise<number>;
  destroy(): void;
}

/** Sends a request's headers and `firstBytes` of its body, then nothing more. */
export function stalledRequest(url: string, options: { method: string; headers: Record<string, string>; firstBytes: Uint8Array }): StalledRequest {
  const req = http.request(url, { method: options.method, headers: options.headers, agent: false });
  let lastSent = Date.now();
  const answer = new Promise<{ status: number; body: { error?: { code?: string } } } | null>((resolve) => {
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { error?: { code?: string } } });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: {} });
        }
      });
      res.on("error", () => resolve(null));
    });
    req.on("error", () => resolve(null));
    req.on("close", () => resolve(null));
  });
  const closed = new Promise<number>((resolve) => {
    req.on("socket", (socket) => socket.once("close", () => resolve(Date.now() - lastSent)));
  });
  req.flushHeaders();
  req.write(options.firstBytes, () => (lastSent = Date.now()));
  return { answer, closed, destroy: () => req.destroy() };
}

/** A raw TCP connection that sends `send` (or nothing); resolves with how long the server kept it open. */
export function rawSocket(port: number, send?: string): { socket: net.Socket; closed: Promise<{ afterMs: number; received: string }> } {
  const started = Date.now();
  const socket = net.connect(port, "127.0.0.1", () => {
    if (send) socket.write(send);
  });
  let received = "";
  socket.setEncoding("utf8");
  socket.on("data", (d: string) => (received += d));
  socket.on("error", () => undefined);
  const closed = new Promise<{ afterMs: number; received: string }>((resolve) => socket.once("close", () => resolve({ afterMs: Date.now() - started, received })));
  return { socket, closed };
}

/** Resolves with `promise`'s value, or `fallback` after `ms`. */
export function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]).finally(() => clearTimeout(timer));
}
