import { Hono } from "hono";
import { OpenAPIHono, createRoute } from "@hono/zod-openapi";
import { UploadRequestSchema } from "../src/http/schemas.js";
const body = JSON.stringify({ filename: "bench.bin", contentType: "application/octet-stream", size: 1024 });
async function run(name: string, app: { fetch: (r: Request) => Response | Promise<Response> }) {
  const n = 20000;
  const mk = () => new Request("http://x/v1/uploads", { method: "POST", body, headers: { "content-type": "application/json", "content-length": String(body.length), authorization: "Bearer k" } });
  for (let i = 0; i < 2000; i++) await (await app.fetch(mk())).text();
  const t = performance.now();
  for (let i = 0; i < n; i++) await (await app.fetch(mk())).text();
  console.log(name.padEnd(40), ((performance.now() - t) * 1000 / n).toFixed(1), "µs/req");
}
const bare = new Hono();
bare.post("/v1/uploads", async (c) => { const b = await c.req.json<{ filename: string }>(); return c.json({ id: "x", f: b.filename }, 201); });
const zodPlain = new Hono();
zodPlain.post("/v1/uploads", async (c) => { const r = UploadRequestSchema.safeParse(await c.req.json()); if (!r.success) return c.json({}, 400); return c.json({ id: "x", f: r.data.filename }, 201); });
const oa = new OpenAPIHono();
oa.openapi(createRoute({ method: "post", path: "/v1/uploads", request: { body: { content: { "application/json": { schema: UploadRequestSchema } }, required: true } }, responses: { 201: { description: "x" } } }), (c) => c.json({ id: "x", f: c.req.valid("json").filename }, 201));
const mw = new Hono();
for (let i = 0; i < 3; i++) mw.use("*", async (_c, next) => { await next(); });
mw.post("/v1/uploads", async (c) => { const b = await c.req.json<{ filename: string }>(); return c.json({ id: "x", f: b.filename }, 201); });
const empty = new Hono();
empty.post("/v1/uploads", (c) => c.json({ id: "x" }, 201));
for (let k = 0; k < 2; k++) {
  await run("request+response only (no body read)", empty);
  await run("bare (json read)", bare);
  await run("plain hono + zod", zodPlain);
  await run("OpenAPIHono route", oa);
  await run("bare + 3 async middlewares", mw);
}
