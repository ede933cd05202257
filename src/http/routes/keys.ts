import { createRoute, z } from "@hono/zod-openapi";
import { createApiKey } from "../../domain/api-keys.js";
import { guard } from "../../domain/uploads.js";
import { notFound } from "../../errors.js";
import type { ApiKeyRecord } from "../../metadata/metadata-store.js";
import type { App, AppOptions } from "../app.js";
import { errorResponses, json, security } from "../schemas.js";

const iso = (ms: number) => new Date(ms).toISOString();
const keyView = (r: ApiKeyRecord) => ({ id: r.id, name: r.name, prefix: r.prefix, createdAt: iso(r.createdAt), revokedAt: r.revokedAt === null ? null : iso(r.revokedAt) });

const KeySchema = z
  .object({ id: z.string(), name: z.string(), prefix: z.string().openapi({ description: "The key's first characters, to tell keys apart." }), createdAt: z.string(), revokedAt: z.string().nullable() })
  .openapi("ApiKey");

const create = createRoute({
  method: "post",
  path: "/v1/keys",
  summary: "Create an API key (the key itself is shown in this answer only; Sluice keeps its hash)",
  security,
  request: { body: { content: json(z.object({ name: z.string().min(1).max(100) }).strict().openapi("ApiKeyRequest")), required: true } },
  responses: { 201: { description: "The new key", content: json(KeySchema.extend({ key: z.string() }).openapi("NewApiKey")) }, ...errorResponses(400, 401, 503) },
});
const list = createRoute({
  method: "get",
  path: "/v1/keys",
  summary: "Stored API keys (never the keys themselves); keys from SLUICE_API_KEYS are not listed",
  security,
  responses: { 200: { description: "Keys, oldest first", content: json(z.object({ items: z.array(KeySchema) }).openapi("ApiKeyList")) }, ...errorResponses(401, 503) },
});
const revoke = createRoute({
  method: "delete",
  path: "/v1/keys/{id}",
  summary: "Revoke an API key; every instance refuses it within 5 seconds",
  security,
  request: { params: z.object({ id: z.string().regex(/^key_[A-Za-z0-9_-]{22}$/, "id must look like key_…").openapi({ param: { name: "id", in: "path" } }) }) },
  responses: { 204: { description: "Revoked" }, ...errorResponses(400, 401, 404, 503) },
});

/** API keys. Sluice has one kind of key: any valid key may manage keys. */
export function registerKeyRoutes(app: App, { services }: AppOptions) {
  app.openapi(create, async (c) => {
    const { key, record } = await guard("metadata store", () => createApiKey(services.metadata, { name: c.req.valid("json").name, now: services.now() }));
    services.logger.info({ keyId: record.id, by: c.get("principal").keyId }, "API key created");
    return c.json({ ...keyView(record), key }, 201);
  });
  app.openapi(list, async (c) => c.json({ items: (await guard("metadata store", () => services.metadata.listApiKeys())).map(keyView) }, 200));
  app.openapi(revoke, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await guard("metadata store", () => services.metadata.revokeApiKey(id, services.now())))) throw notFound(`API key ${id}`);
    services.logger.info({ keyId: id, by: c.get("principal").keyId }, "API key revoked");
    return c.body(null, 204);
  });
}
