/**
 * The events section's webhook receiver (bench/events.ts): node:http on loopback, in a process
 * of its own, that reads each POST's body and answers 200, as an app's endpoint would. It
 * counts what it received, and remembers when each `webhook-id` and each upload's first event
 * first arrived (epoch ms), which the bench reads from `GET /stats`; `POST /reset` forgets.
 * It verifies nothing: the tests verify deliveries with the `standardwebhooks` package.
 */
import http from "node:http";

const port = Number(process.env.PORT);
/** A bench receiver still bounds what it buffers: webhook bodies are a few hundred bytes. */
const MAX_BODY = 1024 * 1024;

let received = 0;
const firstSeen = new Map<string, number>();
const uploads = new Map<string, number>();

function answerStats(res: http.ServerResponse) {
  const body = JSON.stringify({ received, unique: firstSeen.size, uploads: Object.fromEntries(uploads) });
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/stats") return answerStats(res);
  if (req.method === "POST" && req.url === "/reset") {
    received = 0;
    firstSeen.clear();
    uploads.clear();
    res.writeHead(204).end();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      res.writeHead(413, { connection: "close" }).end();
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    const at = performance.timeOrigin + performance.now();
    received++;
    const id = req.headers["webhook-id"];
    if (typeof id === "string" && !firstSeen.has(id)) {
      firstSeen.set(id, at);
      try {
        const uploadId = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { data?: { uploadId?: unknown } }).data?.uploadId;
        if (typeof uploadId === "string" && !uploads.has(uploadId)) uploads.set(uploadId, at);
      } catch {
        // Not JSON: counted, not attributed to an upload.
      }
    }
    res.writeHead(200, { "content-length": "0" });
    res.end();
  });
});
// Longer than any pause between the bench's phases, so that both senders keep their connections.
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ msg: "listening", port }) + "\n");
});
