/**
 * A webhook receiver on loopback (node:http) that accepts only deliveries the `standardwebhooks`
 * package (an independent implementation of the specification) verifies, and can be told to
 * fail with a 500 (the next few, or all until told otherwise).
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface Delivery {
  id: string;
  type: string;
  data: { uploadId: string; state: string };
}

export async function startVerifyingReceiver(options: { host?: string } = {}) {
  const verified: Delivery[] = [];
  let refused = 0;
  let failNext = 0;
  let failing = false;
  let verifier: Webhook | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (failing || failNext > 0) {
        if (failNext > 0) failNext--;
        res.writeHead(500).end("not now");
        return;
      }
      try {
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        const payload = verifier!.verify(Buffer.concat(chunks).toString("utf8"), headers) as Delivery;
        assert.equal(headers["webhook-id"], payload.id);
        verified.push(payload);
        res.writeHead(204).end();
      } catch {
        refused++;
        res.writeHead(400).end("bad signature");
      }
    });
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}/hooks`,
    verified,
    refused: () => refused,
    /** The secret (`whsec_…`) the webhook's creation answered with. */
    useSecret(secret: string) {
      verifier = new Webhook(secret);
    },
    failNext(times: number) {
      failNext = times;
    },
    /** Answers every delivery with a 500 until told otherwise. */
    setFailing(on: boolean) {
      failing = on;
    },
    /** Resolves once `count` deliveries were verified (or rejects after `timeoutMs`). */
    async waitFor(count: number, timeoutMs = 15_000): Promise<Delivery[]> {
      const deadline = Date.now() + timeoutMs;
      while (verified.length < count) {
        if (Date.now() > deadline) throw new Error(`${verified.length} of ${count} deliveries after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return verified.slice(0, count);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
