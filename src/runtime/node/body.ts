import type { IncomingMessage } from "node:http";
import type { Context } from "hono";

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
