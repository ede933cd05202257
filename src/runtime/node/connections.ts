import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

export interface ConnectionLimits {
  /** Open connections at most. */
  maxConnections: number;
}

interface Tracked {
  /** Requests on this connection whose response has not finished. */
  active: number;
  /** Since when it has had none (its connect time, or the end of its last response). */
  idleSince: number;
}

/**
 * Caps a Node HTTP server's open connections without letting idle ones lock everyone out.
 * Node's own `server.maxConnections` refuses the newcomer, so whoever holds the idle sockets
 * (a client that connects and sends nothing, or half a request line) decides who gets in until
 * the headers timeout reaps them, and can open them again at once. Here a connection past the
 * cap closes the connection that has been idle the longest (no request in progress: never sent
 * complete headers, or a keep-alive connection between requests) to admit the new one; only
 * when every connection is busy with a request is the newcomer refused. So idle sockets, however
 * many, never keep a request such as `/healthz` out.
 */
export function capConnections(server: Server, limits: ConnectionLimits): void {
  const open = new Map<Socket, Tracked>();
  server.on("connection", (socket: Socket) => {
    open.set(socket, { active: 0, idleSince: Date.now() });
    socket.once("close", () => open.delete(socket));
    if (open.size <= limits.maxConnections) return;
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
    if (!tracked) return;
    tracked.active++;
    res.once("close", () => {
      tracked.active--;
      if (tracked.active === 0) tracked.idleSince = Date.now();
    });
  });
}

/**
 * What is left of a body the app answered without reading (a 413 mid-way) is read and
 * thrown away for at most `lingerMs`, then the connection is closed if the body has still not
 * ended. Closing at once, with unread bytes in the socket, makes the kernel reset the
 * connection, and a client still sending then loses the answer it was sent (EPIPE before it
 * reads the 413); nginx's "lingering close" is the same idea. Memory stays constant: the
 * bytes are dropped as they come.
 */
export function discardRefusedBodies(server: Server, options: { lingerMs: number }): void {
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    res.once("finish", () => {
      if (req.complete || req.destroyed) return;
      // Whatever was reading the body (a web stream over it) has stopped: detach it so that
      // resuming feeds no queue.
      req.removeAllListeners("data");
      req.on("data", () => undefined);
      req.resume();
      const timer = setTimeout(() => req.socket.destroy(), options.lingerMs);
      timer.unref();
      req.once("end", () => clearTimeout(timer));
      req.socket.once("close", () => clearTimeout(timer));
    });
  });
}
