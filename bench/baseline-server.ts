/**
 * The baselines: the least a Hono app on Node can do for the same jobs.
 * - POST /echo: parse the JSON body and answer 201 with a small JSON object.
 * - POST /v1/uploads: parse the JSON body and answer 201 with JSON of the same shape and
 *   size as Sluice's answer (no auth, no policy, no ticket, no signing): the same bytes on
 *   the wire, so that the ratio measures what Sluice adds, not the size of its answer.
 * - PUT /sink: stream the body to a file (no ticket, no checks).
 */
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const port = Number(process.env.PORT);
const dir = process.env.SINK_DIR ?? "/tmp";
let n = 0;

const app = new Hono();
app.post("/echo", async (c) => {
  const body = await c.req.json<{ filename: string; size: number }>();
  return c.json({ id: `upl_${++n}`, state: "issued", filename: body.filename, size: body.size }, 201);
});
app.post("/v1/uploads", async (c) => {
  const body = await c.req.json<{ filename: string; size: number }>();
  const id = `upl_${String(++n).padStart(22, "0")}`;
  return c.json(
    {
      id,
      state: "issued",
      key: `${id}/${body.filename}`,
      expiresAt: new Date(Date.now() + 300_000).toISOString(),
      upload: {
        method: "PUT",
        url: `http://127.0.0.1:${port}/v1/uploads/${id}/content?expires=1795392307&signature=4ay9YEz9OpDVYV0yRFOzemCiPuOIMItT4JqDfYtGO8U`,
        headers: { "content-type": "application/octet-stream" },
      },
    },
    201,
  );
});
app.put("/sink", async (c) => {
  const file = path.join(dir, `sink-${++n}`);
  await pipeline(Readable.fromWeb(c.req.raw.body as NodeReadableStream<Uint8Array>), createWriteStream(file));
  const { size } = await fs.stat(file);
  await fs.rm(file);
  return c.json({ size });
});

serve({ fetch: app.fetch, port, hostname: "127.0.0.1", createServer: http.createServer, serverOptions: { requestTimeout: 0 } }, () => {
  process.stdout.write(JSON.stringify({ msg: "listening", port }) + "\n");
});
