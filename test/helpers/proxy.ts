/**
 * An HTTP proxy on a free loopback port, in front of a real server (Sluice or RGW), that can
 * break requests the way networks do: cut a request off after some bytes, or hold it back
 * before passing it on. It keeps the Host header, so SigV4 signatures made for the proxy's
 * address still verify upstream, and records every request with its answer.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Seen {
  method: string;
  path: string;
  status: number | "dropped";
}

/** `loseReply`: the request reaches the server, which acts on it; its answer never comes back. */
export type Fault = { dropAfterBytes: number } | { delayMs: number } | { loseReply: true } | undefined;

export interface FaultyProxy {
  url: string;
  /** Where requests go; may be set after start (a server that must know the proxy's URL first). */
  target: string;
  seen: Seen[];
  /** Decides, per request, whether to break it. */
  fault: (req: http.IncomingMessage) => Fault;
  close(): Promise<void>;
}

export async function startProxy(target = ""): Promise<FaultyProxy> {
  const proxy: FaultyProxy = { url: "", target, seen: [], fault: () => undefined, close: () => Promise.resolve() };
  const server = http.createServer((req, res) => {
    const record: Seen = { method: req.method ?? "", path: req.url ?? "", status: "dropped" };
    proxy.seen.push(record);
    const fault = proxy.fault(req);
    const forward = () => {
      const upstream = new URL(proxy.target);
      const out = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          record.status = answer.statusCode ?? 0;
          if (fault && "loseReply" in fault) {
            answer.resume();
            record.status = "dropped";
            req.socket.destroy();
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.flushHeaders(); // a client that sends headers and waits gets the same from upstream
      // An upstream that answers and then closes (a refusal before the body) has answered: pass that on.
      out.on("error", () => {
        if (record.status === "dropped") res.destroy();
      });
      if (fault && "dropAfterBytes" in fault) {
        let passed = 0;
        req.on("data", (chunk: Buffer) => {
          passed += chunk.length;
          if (passed < fault.dropAfterBytes) {
            out.write(chunk);
            return;
          }
          // The connection dies mid-body, both ways.
          req.socket.destroy();
          out.destroy();
        });
        req.on("end", () => out.end());
      } else {
        req.pipe(out);
      }
    };
    if (fault && "delayMs" in fault) {
      req.pause();
      setTimeout(forward, fault.delayMs);
    } else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
