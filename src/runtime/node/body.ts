import type { IncomingMessage } from "node:http";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Context } from "hono";

/**
 * V8's minor (young-generation) collection, run every `MINOR_GC_EVERY` bytes of upload bodies
 * read in this process. Each chunk a socket reads is its own buffer outside V8's heap, freed
 * only when the collector finds its small JS object dead; with the young generation `npm start`
 * sizes for issuance (16 MiB semispaces, docs/decisions.md) that happened so seldom that dead
 * chunks piled up: a 1 GiB gateway upload to RGW peaked at 148-162 MiB, against the 150 MB
 * target (109-117 at 2 MiB semispaces). A collection every 16 MiB (a few a second, 2-3 ms each
 * alone) brought that to 129-137 MiB. Reached as jest does, by exposing `gc` for the one call
 * that fetches it; `undefined` if this V8 refuses.
 */
const MINOR_GC_EVERY = 16 * 1024 * 1024;
export const minorGc: (() => void) | undefined = (() => {
  try {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as (options: { type: "minor" }) => void;
    return () => gc({ type: "minor" });
  } catch {
    return undefined;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
})();
let readSinceGc = 0;

/** Counts body bytes read, and collects the young generation every MINOR_GC_EVERY of them. */
export function countBodyBytes(bytes: number, collect = minorGc): void {
  readSinceGc += bytes;
  if (readSinceGc < MINOR_GC_EVERY) return;
  readSinceGc = 0;
  collect?.();
}

/**
 * A request body as a web stream, read straight from Node's IncomingMessage. Node's own
 * `Readable.toWeb` copies every chunk (to detach it from a pool these chunks do not come
 * from), which doubles the allocation and much of the CPU of a large gateway upload. Nothing
 * downstream transfers or mutates the chunks, so they are passed on as they are.
 * Backpressure: the socket is paused while the stream's queue is full.
 */
export function incomingBody(incoming: IncomingMessage): ReadableStream<Uint8Array> {
  let done = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      incoming.pause();
      incoming.on("data", (chunk: Buffer) => {
        if (done) return;
        controller.enqueue(chunk);
        countBodyBytes(chunk.length);
        if ((controller.desiredSize ?? 0) <= 0) incoming.pause();
      });
      incoming.once("end", () => {
        if (done) return; // cancelled already
        done = true;
        controller.close();
      });
      incoming.once("error", (err) => {
        if (done) return;
        done = true;
        controller.error(err);
      });
      // A client that goes away mid-body: "close" without "end".
      incoming.once("close", () => {
        if (done) return;
        done = true;
        controller.error(new Error("The client closed the connection before the body was complete."));
      });
    },
    pull() {
      incoming.resume();
    },
    cancel() {
      // Stop reading, but leave the connection alone: the response (a 413, say) must still
      // reach the client. Node discards what is left of the body once the response is sent.
      done = true;
      incoming.removeAllListeners("data");
    },
  }, { highWaterMark: 4 });
}

/** For the app: the body of a request served by @hono/node-server, which passes the IncomingMessage as `c.env.incoming`. */
export function nodeRequestBody(c: Context): ReadableStream<Uint8Array> | null {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming ? incomingBody(incoming) : c.req.raw.body;
}

/** The socket's peer address on Node (Hono's node server passes the IncomingMessage as env). */
export function nodePeerAddress(c: Context): string | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress;
}
