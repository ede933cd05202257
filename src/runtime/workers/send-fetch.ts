/**
 * Webhook delivery on Workers, with `fetch`: the Workers build puts this module in place of
 * `src/webhooks/send.ts` (scripts/build-workers.mjs), whose node:http(s) client workerd does
 * not have. The same contract: one POST, redirects not followed, one deadline for the whole
 * attempt (headers and the response's first KiB), the same result for the delivery log.
 *
 * What it cannot do: a Worker does not choose, or learn, the address `fetch` connects to, so
 * the connected-address check (against DNS rebinding) is not made. An IP literal in the URL is
 * still refused unless public (as at creation), and Cloudflare does not let a Worker's `fetch`
 * reach private or loopback addresses of its network.
 */
import { isPublicAddress } from "../../webhooks/addresses.js";
import type { SendOptions, SendResult } from "../../webhooks/send.js";

/** send.ts's own figure; not imported from it, which would bring its node:http client into the bundle. */
export const RESPONSE_HEAD_BYTES = 1024;

export async function sendWebhook(o: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const result = (r: Omit<SendResult, "latencyMs">): SendResult => ({ ...r, latencyMs: Math.round(performance.now() - started) });
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    return result({ ok: false, status: null, responseHead: null, error: "invalid URL" });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return result({ ok: false, status: null, responseHead: null, error: `unsupported protocol ${url.protocol}` });
  const literal = url.hostname.replace(/^\[|\]$/g, "");
  if (!o.allowPrivate && /^[\d.]+$|:/.test(literal) && !isPublicAddress(literal)) {
    return result({ ok: false, status: null, responseHead: null, error: `${literal} is not a public address` });
  }
  const deadline = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([deadline, o.signal]) : deadline;
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { ...o.headers, "content-type": "application/json", "user-agent": "Sluice-Webhooks/1" },
      body: o.body,
      redirect: "manual",
      signal,
    });
    const head = await firstBytes(res, RESPONSE_HEAD_BYTES);
    const ok = res.status >= 200 && res.status < 300;
    const redirect = res.status >= 300 && res.status < 400 ? `redirect to ${res.headers.get("location") ?? "(no Location)"} not followed` : null;
    return result({ ok, status: res.status, responseHead: head, error: ok ? null : (redirect ?? `HTTP ${res.status}`) });
  } catch (err) {
    const message = deadline.aborted ? `timed out after ${o.timeoutMs} ms` : o.signal?.aborted ? "dispatcher stopped" : err instanceof Error ? err.message : String(err);
    return result({ ok: false, status: null, responseHead: null, error: message });
  }
}

/** The body's first `limit` bytes as text; the rest is not read (the stream is cancelled). */
async function firstBytes(res: Response, limit: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
  } finally {
    void reader.cancel().catch(() => undefined);
  }
  const all = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all.subarray(0, limit));
}
