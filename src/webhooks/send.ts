import http from "node:http";
import https from "node:https";
import type net from "node:net";
import { checkedLookup, isPublicAddress, systemResolve, UnsafeAddressError, type Resolve } from "./addresses.js";

/** What one attempt came to. `ok` is a 2xx; anything else (a 3xx too: redirects are never followed) failed. */
export interface SendResult {
  ok: boolean;
  status: number | null;
  latencyMs: number;
  /** The response body's first bytes (at most 1 KiB). */
  responseHead: string | null;
  error: string | null;
}

export interface SendOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** SLUICE_WEBHOOK_ALLOW_PRIVATE: skip the address checks. */
  allowPrivate: boolean;
  /** How host names are resolved (tests stand in one that changes its answer). */
  resolve?: Resolve | undefined;
  /** Checks the address the socket actually connected to (a seam for the test that proves it runs). */
  isAllowedPeer?: ((address: string) => boolean) | undefined;
  signal?: AbortSignal | undefined;
}

/** The most of a response body kept in the delivery log. */
export const RESPONSE_HEAD_BYTES = 1024;

/**
 * POSTs one webhook with node:http(s): a fresh connection each time (no pooled socket that
 * was checked for another name), the resolved addresses checked before connecting, the peer's
 * address checked again once connected, redirects not followed, and one deadline for the
 * whole attempt (connect, TLS, headers and the first KiB of the body).
 */
export function sendWebhook(o: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (r: Omit<SendResult, "latencyMs">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", onAbort);
      resolve({ ...r, latencyMs: Math.round(elapsed()) });
    };
    const fail = (error: string, status: number | null = null) => finish({ ok: false, status, responseHead: null, error });
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      return fail("invalid URL");
    }
    const client = url.protocol === "https:" ? https : url.protocol === "http:" ? http : undefined;
    if (!client) return fail(`unsupported protocol ${url.protocol}`);
    const allowedPeer = o.isAllowedPeer ?? isPublicAddress;
    const req = client.request(url, {
      method: "POST",
      agent: false,
      headers: { ...o.headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(o.body)), "user-agent": "Sluice-Webhooks/1" },
      ...(!o.allowPrivate && { lookup: checkedLookup(o.resolve ?? systemResolve) }),
    });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${o.timeoutMs} ms`)), o.timeoutMs);
    const onAbort = () => req.destroy(new Error("dispatcher stopped"));
    o.signal?.addEventListener("abort", onAbort, { once: true });
    req.on("socket", (socket: net.Socket) => {
      if (o.allowPrivate) return;
      // The address connected to, whatever resolved it (an IP literal in the URL never goes through lookup).
      socket.once("connect", () => {
        const peer = socket.remoteAddress ?? "";
        if (!allowedPeer(peer)) req.destroy(new UnsafeAddressError(url.hostname, peer));
      });
    });
    req.on("error", (err) => fail(err.message));
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let length = 0;
      const done = () => {
        const head = Buffer.concat(chunks).subarray(0, RESPONSE_HEAD_BYTES).toString("utf8");
        res.destroy();
        const ok = status >= 200 && status < 300;
        const redirect = status >= 300 && status < 400 ? `redirect to ${res.headers.location ?? "(no Location)"} not followed` : null;
        finish({ ok, status, responseHead: head, error: ok ? null : (redirect ?? `HTTP ${status}`) });
      };
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
        if (length >= RESPONSE_HEAD_BYTES) done();
      });
      res.on("end", done);
      res.on("error", done);
    });
    req.end(o.body);
  });
}
