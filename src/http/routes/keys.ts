import { createRoute, z } from "@hono/zod-openapi";
import { RATE_PATTERN, formatRate, mimePattern, parseRate } from "../../config.js";
import { createApiKey } from "../../domain/api-keys.js";
import { guard } from "../../domain/backend-calls.js";
import type { Principal } from "../../domain/principal.js";
import { forbidden, notFound } from "../../errors.js";
import type { ApiKeyRecord, KeyScope } from "../../metadata/metadata-store.js";
import type { App, AppOptions } from "../app.js";
import { BODY_LIMITS, limitBody } from "../body-limit.js";
import { errorResponses, json, security } from "../schemas.js";

const iso = (ms: number) => new Date(ms).toISOString();

/** Safe in any S3 key and any path: segments of letters, digits and `._-`, each followed by a slash. */
const KEY_PREFIX = /^([A-Za-z0-9][A-Za-z0-9._-]{0,62}\/){1,8}$/;

/** Scopes are shared by keys and browser upload tokens (`routes/tokens.ts`). */
export const AllowedTypesSchema = z.array(z.string().toLowerCase().regex(mimePattern, "expected type/subtype patterns such as image/*")).min(1).max(100);
export const KeyPrefixSchema = z
  .string()
  .regex(KEY_PREFIX, "keyPrefix must be path segments of letters, digits and ._- each ending in /, such as tenant-a/")
  .refine((p) => !p.split("/").some((seg) => seg === "." || seg === ".." || seg.startsWith("upl_")), "keyPrefix must not contain . or .. segments or upl_ ids");

const ScopeSchema = z
  .object({
    allowedTypes: AllowedTypesSchema.optional(),
    maxSize: z.number().int().min(0).max(5 * 1024 ** 4).optional().openapi({ description: "Largest file in bytes (within SLUICE_MAX_SIZE)." }),
    keyPrefix: KeyPrefixSchema.optional()
      .openapi({ description: "Every object key this key's uploads get starts with it; the key sees only files under it." }),
    rateLimit: z.string().regex(RATE_PATTERN, "expected N/sec, N/min or N/hour").refine((r) => r.toLowerCase() !== "off", "a key's rate cannot be off").optional().openapi({ description: "Its own rate on POST /v1/uploads, e.g. 10/min." }),
    bytesPerDay: z.number().int().min(1).optional().openapi({ description: "Bytes it may issue in a rolling day." }),
    openTickets: z.number().int().min(1).max(1_000_000).optional().openapi({ description: "Uploads it may have open at once." }),
  })
  .strict()
  .openapi("ApiKeyScope");
type ScopeInput = z.infer<typeof ScopeSchema>;

const KeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string().openapi({ description: "The key's first characters, to tell keys apart." }),
    scope: ScopeSchema.nullable().openapi({ description: "Null for a full key, which may also manage keys." }),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .openapi("ApiKey");

function toScope(input: ScopeInput | undefined): KeyScope | null {
  if (!input) return null;
  const scope: KeyScope = {
    ...(input.allowedTypes && { allowedTypes: input.allowedTypes }),
    ...(input.maxSize !== undefined && { maxSize: input.maxSize }),
    ...(input.keyPrefix && { keyPrefix: input.keyPrefix }),
    ...(input.rateLimit && { rateLimit: parseRate(input.rateLimit) }),
    ...(input.bytesPerDay !== undefined && { bytesPerDay: input.bytesPerDay }),
    ...(input.openTickets !== undefined && { openTickets: input.openTickets }),
  };
  return Object.keys(scope).length > 0 ? scope : null;
}

function scopeView(scope: KeyScope | null): ScopeInput | null {
  if (!scope) return null;
  const { rateLimit, ...rest } = scope;
  return { ...rest, ...(rateLimit && { rateLimit: formatRate(rateLimit) }) };
}

const keyView = (r: ApiKeyRecord) => ({
  id: r.id,
  name: r.name,
  prefix: r.prefix,
  scope: scopeView(r.scope),
  createdAt: iso(r.createdAt),
  revokedAt: r.revokedAt === null ? null : iso(r.revokedAt),
});

const create = createRoute({
  method: "post",
  path: "/v1/keys",
  summary: "Create an API key, optionally scoped (the key itself is shown in this answer only; Sluice keeps its hash)",
  security,
  request: { body: { content: json(z.object({ name: z.string().min(1).max(100), scope: ScopeSchema.optional() }).strict().openapi("ApiKeyRequest")), required: true } },
  middleware: [limitBody(BODY_LIMITS.json)] as const,
  responses: { 201: { description: "The new key", content: json(KeySchema.extend({ key: z.string() }).openapi("NewApiKey")) }, ...errorResponses(400, 401, 403, 413, 503) },
});
const list = createRoute({
  method: "get",
  path: "/v1/keys",
  summary: "Stored API keys (never the keys themselves); keys from SLUICE_API_KEYS are not listed",
  security,
  responses: { 200: { description: "Keys, oldest first", content: json(z.object({ items: z.array(KeySchema) }).openapi("ApiKeyList")) }, ...errorResponses(401, 403, 503) },
});
const revoke = createRoute({
  method: "delete",
  path: "/v1/keys/{id}",
  summary: "Revoke an API key; every instance refuses it within 5 seconds",
  security,
  request: { params: z.object({ id: z.string().regex(/^key_[A-Za-z0-9_-]{22}$/, "id must look like key_…").openapi({ param: { name: "id", in: "path" } }) }) },
  responses: { 204: { description: "Revoked" }, ...errorResponses(400, 401, 403, 404, 503) },
});

/** A scoped key is a tenant's: it may not make, see or revoke keys (it could otherwise widen its own scope). */
function requireFullKey(principal: Principal): void {
  if (principal.scope) throw forbidden("scoped_key", "This key is scoped; only a full key may manage keys.");
}

/** API keys. Full keys (configured, or stored without a scope) manage keys; scoped keys do not. */
export function registerKeyRoutes(app: App, { services, auth }: AppOptions) {
  app.openapi(create, async (c) => {
    requireFullKey(c.get("principal"));
    const body = c.req.valid("json");
    const { key, record } = await guard("metadata store", () => createApiKey(services.metadata, { name: body.name, now: services.now(), scope: toScope(body.scope) }));
    services.logger.info({ keyId: record.id, by: c.get("principal").keyId, scoped: record.scope !== null }, "API key created");
    return c.json({ ...keyView(record), key }, 201);
  });
  app.openapi(list, async (c) => {
    requireFullKey(c.get("principal"));
    return c.json({ items: (await guard("metadata store", () => services.metadata.listApiKeys())).map(keyView) }, 200);
  });
  app.openapi(revoke, async (c) => {
    requireFullKey(c.get("principal"));
    const { id } = c.req.valid("param");
    if (!(await guard("metadata store", () => services.metadata.revokeApiKey(id, services.now())))) throw notFound(`API key ${id}`);
    auth.forget(id);
    services.logger.info({ keyId: id, by: c.get("principal").keyId }, "API key revoked");
    return c.body(null, 204);
  });
}
