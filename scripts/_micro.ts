import { Hono } from "hono";
import fs from "node:fs/promises";
import { loadConfig } from "../src/config.js";
import { createSluice } from "../src/runtime/compose.js";
import { createLogger } from "../src/internal/logger.js";
const dir = await fs.mkdtemp("/tmp/micro-");
const key = "sk_bench_0123456789abcdefghijklmnop";
const sluice = await createSluice(loadConfig({ SLUICE_DATA_DIR: dir, SLUICE_API_KEYS: key, SLUICE_RATE_LIMIT: "off", SLUICE_LOG_LEVEL: "silent" }), { logger: createLogger({ level: "silent" }) });
const bare = new Hono();
bare.post("/v1/uploads", async (c) => { const b = await c.req.json<{ filename: string; size: number }>(); return c.json({ id: "x", filename: b.filename, size: b.size }, 201); });
const body = JSON.stringify({ filename: "bench.bin", contentType: "application/octet-stream", size: 1024 });
async function run(name: string, fetchFn: (r: Request) => Response | Promise<Response>) {
  const n = 20000;
  for (let i = 0; i < 2000; i++) await fetchFn(new Request("http://x/v1/uploads", { method: "POST", body, headers: { "content-type": "application/json", "content-length": String(body.length), authorization: `Bearer ${key}` } }));
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const r = await fetchFn(new Request("http://x/v1/uploads", { method: "POST", body, headers: { "content-type": "application/json", "content-length": String(body.length), authorization: `Bearer ${key}` } }));
    if (r.status !== 201) throw new Error(String(r.status) + (await r.text()));
    await r.text();
  }
  console.log(name, ((performance.now() - t) * 1000 / n).toFixed(1), "µs/req");
}

await run("sluice app", (r) => sluice.app.fetch(r));

await run("sluice app", (r) => sluice.app.fetch(r));
await sluice.close();
await fs.rm(dir, { recursive: true });
