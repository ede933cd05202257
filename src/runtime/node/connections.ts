import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

export interface ConnectionGuard {
  /** Open connections at most. */
  maxConnections: number;
  /** How long the unread rest of a refused body is drained before the connection is closed, in ms. */
  lingerMs: number;
  /**
   * A request whose connection moves no byte either way for this long is closed, in ms: a body
   * trickled too slowly, or a response nobody reads. Gateway uploads (`meteredElsewhere`) are
   * left to their own body-idle timer, which does not blame the client for a slow store.
   */
  idleMs: number;
  meteredElsewhere(req: IncomingMessage): boolean;
}

interface Tracked {
  /** Requests on this connection whose response has not finished. */
  active: number;
  /** Since when it has had none (its connect time, or the end of its last response). */
  idleSince: number;
}

/**
 * Three rules for a Node HTTP server's connections, with one listener per event (they run for
 * every request).
 *
 * **A cap that idle connections cannot fill.** Node's own `server.maxConnections` refuses the
 * newcomer, so whoever holds idle sockets (connected and silent, or half a request line) keeps
 * everyone out until the headers timeout reaps them, and can open them again at once. Here a
 * connection past the cap closes the one idle the longest (no request in progress: it never
 * sent complete headers, or it is a keep-alive connection between requests) to admit the new
 * one; only when every connection is busy with a request is the newcomer refused. So idle
 * sockets, however many, never keep a request such as `/healthz` out.
 *
 * **No request stalls for ever.** A request whose connection is silent both ways for `idleMs`
 * is closed: otherwise a client trickling a JSON body (even unauthenticated, to the storage
 * events route) or not reading a download would hold a busy connection, which the cap cannot
 * evict.
 *
 * **A lingering close after a refused body.** What is left of a body the app answered without
 * reading (a 413 mid-way, a 401) is read and dropped for at most `lingerMs`, then the connection
 * is closed if the body has still not ended. Closing at once, with bytes unread, makes the
 * kernel reset the connection, and a client still sending loses the answer (EPIPE before it
 * reads the 413); nginx's lingering close is the same idea. Memory stays constant.
 */
export function guardConnections(server: Server, guard: ConnectionGuard): void {
  const open = new Map<Socket, Tracked>();
  server.on("connection", (socket: Socket) => {
    open.set(socket, { active: 0, idleSince: Date.now() });
    socket.once("close", () => open.delete(socket));
    if (open.size <= guard.maxConnections) return;
    let oldest: Socket | undefined;
    let oldestSince = Infinity;
    for (const [other, t] of open) {
      if (other !== socket && t.active === 0 && t.idleSince < oldestSince) {
        oldest = other;
        oldestSince = t.idleSince;
      }
    }
    const closed = oldest ?? socket;
    open.delete(closed); // now, not at its "close" event: a burst must not pick the same one twice
    closed.destroy();
  });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const tracked = open.get(req.socket);
    if (tracked) tracked.active++;
    // Once the response has finished, Node sets the socket's timeout to the keep-alive timeout itself.
    const stalled = () => req.socket.destroy();
    const watched = !guard.meteredElsewhere(req);
    if (watched) {
      req.socket.setTimeout(guard.idleMs);
      req.socket.once("timeout", stalled);
    }
    res.once("close", () => {
      if (watched) req.socket.off("timeout", stalled);
      if (tracked && --tracked.active === 0) tracked.idleSince = Date.now();
      if (!req.complete && !req.socket.destroyed) drainRefusedBody(req, guard.lingerMs);
    });
  });
}

function drainRefusedBody(req: IncomingMessage, lingerMs: number): void {
  // Whatever was reading the body (a web stream over it) has stopped: detach it, so that
  // resuming feeds no queue.
  req.removeAllListeners("data");
  req.on("data", () => undefined);
  req.resume();
  const timer = setTimeout(() => req.socket.destroy(), lingerMs);
  timer.unref();
  req.once("end", () => clearTimeout(timer));
  req.socket.once("close", () => clearTimeout(timer));
}
