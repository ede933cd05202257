import { createHash, createHmac, randomBytes } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { UploadRequestSchema } from "../src/http/schemas.js";
import { safeKeyName } from "../src/domain/filenames.js";
import { MemoryTicketStore } from "../src/tickets/memory.js";
import { Metrics } from "../src/internal/metrics.js";
import { isTypeAllowed, mediaTypeEssence } from "../src/domain/content-type.js";
function bench(name: string, fn: () => unknown, n = 50000) {
  for (let i = 0; i < 2000; i++) fn();
  const t = performance.now();
  for (let i = 0; i < n; i++) fn();
  console.log(name.padEnd(30), ((performance.now() - t) * 1000 / n).toFixed(2), "µs");
}
const body = { filename: "bench.bin", contentType: "application/octet-stream", size: 1024 };
bench("zod UploadRequestSchema", () => UploadRequestSchema.safeParse(body));
bench("sha256 key", () => createHash("sha256").update("sk_bench_0123456789abcdefghijklmnop").digest("hex"));
bench("hmac sign", () => createHmac("sha256", "secretsecretsecretsecret").update("PUT\nupl_xxxxxxxxxxxxxxxxxxxxxx\n1795392307").digest("base64url"));
bench("randomBytes(16)", () => randomBytes(16).toString("base64url"));
bench("safeKeyName", () => safeKeyName("bench.bin"));
bench("isTypeAllowed", () => isTypeAllowed(mediaTypeEssence("application/octet-stream"), ["*/*"]));
const store = new MemoryTicketStore();
let i = 0;
bench("memory ticket issue", () => store.issue({ id: `t${i++}`, kind: "upload", key: "k", filename: "f", contentType: "a/b", size: 1, sha256: null, metadata: {}, ownerId: "o", createdAt: 1, expiresAt: Date.now() + 60000 }));
const m = new Metrics();
bench("histogram observe", () => m.httpDuration.observe({ method: "POST", route: "/v1/uploads", status: "201" }, 0.001));
bench("JSON.stringify response", () => JSON.stringify({ id: "upl_xxxxxxxxxxxxxxxxxxxxxx", state: "issued", key: "upl_xxxxxxxxxxxxxxxxxxxxxx/bench.bin", expiresAt: new Date().toISOString(), upload: { method: "PUT", url: "http://127.0.0.1:8080/v1/uploads/upl_xxxxxxxxxxxxxxxxxxxxxx/content?expires=1795392307&signature=4ay9YEz9OpDVYV0yRFOzemCiPuOIMItT4JqDfYtGO8U", headers: { "content-type": "application/octet-stream" } } }));
await store.close();
