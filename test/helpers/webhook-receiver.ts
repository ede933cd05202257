/**
 * A real webhook receiver: node:http on 127.0.0.1 that verifies EVERY delivery with the
 * `standardwebhooks` package (an independent implementation of the specification) against the
 * secrets it was given, records it, and answers as the test says (a status, or hang).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Webhook } from "standardwebhooks";
import { eventually, waitForFinal, type TestServer } from "./server.js";

export interface ReceivedDelivery {
  id: string;
  timestamp: string;
  signatures: string[];
  body: string;
  payload: { type: string; id: string; seq: number; timestamp: string; data: { uploadId: string; key: string; state: string } };
  /** Which of the receiver's secrets (by index in `secrets`) verified it. */
  verifiedBy: number[];
  at: number;
  /** What the receiver answered ("hang": nothing). */
  answered: Answer;
}

export type Answer = number | "hang";

export class WebhookReceiver {
  readonly deliveries: ReceivedDelivery[] = [];
  /** The secrets tried on every delivery (set once the webhook is made). */
  secrets: string[] = [];
  /** How to answer the nth request (1-based). */
  answer: (n: number, d: ReceivedDelivery) => Answer = () => 200;
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();
  #port = 0;

  constructor() {
    this.#server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const headers = { "webhook-id": String(req.headers["webhook-id"]), "webhook-timestamp": String(req.headers["webhook-timestamp"]), "webhook-signature": String(req.headers["webhook-signature"]) };
        const verifiedBy = this.secrets.flatMap((secret, i) => {
          try {
            new Webhook(secret).verify(body, headers);
            return [i];
          } catch {
            return [];
          }
        });
        const d: ReceivedDelivery = {
          id: headers["webhook-id"],
          timestamp: headers["webhook-timestamp"],
          signatures: headers["webhook-signature"].split(" "),
          body,
          payload: JSON.parse(body) as ReceivedDelivery["payload"],
          verifiedBy,
          at: Date.now(),
          answered: 200,
        };
        this.deliveries.push(d);
        const a = this.answer(this.deliveries.length, d);
        d.answered = a;
        if (a === "hang") return; // never answered; the socket is destroyed on close
        res.writeHead(a, { "content-type": "text/plain" }).end(a >= 200 && a < 300 ? "thanks" : `no (${a})`);
      });
    });
    this.#server.on("connection", (s: Socket) => {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
    });
  }

  /** Listens on 127.0.0.1 (on `port` if given: a receiver that comes back where it was). */
  async listen(port = 0): Promise<this> {
    this.#server.listen(port, "127.0.0.1");
    await once(this.#server, "listening");
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hook`;
  }

  /** Deliveries every one of which verified; throws naming one that did not. */
  verified(secretIndex = 0): ReceivedDelivery[] {
    for (const d of this.deliveries) if (!d.verifiedBy.includes(secretIndex)) throw new Error(`delivery ${d.id} did not verify with secret ${secretIndex}`);
    return this.deliveries;
  }

  /** Ends every request left hanging (its sender sees the connection reset). */
  dropHanging(): void {
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    if (this.#server.listening) {
      this.#server.close();
      await once(this.#server, "close");
    }
  }
}

/** Uploads a small text file through the gateway and waits until it is archived; its upload id. */
export async function uploadText(server: TestServer, text: string, key?: string): Promise<string> {
  const issued = await server.api("POST", "/v1/uploads", { filename: "note.txt", contentType: "text/plain", size: Buffer.byteLength(text) }, key ? { authorization: `Bearer ${key}` } : {});
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  const res = await fetch(issued.body.upload.url, { method: "PUT", headers: issued.body.upload.headers, body: text });
  assert.ok(res.ok, `PUT ${res.status}`);
  await res.arrayBuffer();
  const final = await waitForFinal(server, issued.body.id);
  assert.equal(final.state, "archived");
  return issued.body.id as string;
}


/** Retries a synchronous assertion until it holds or `timeoutMs` passes. */
export function until(check: () => void, timeoutMs: number): Promise<void> {
  return eventually(() => Promise.resolve(check()), timeoutMs);
}
