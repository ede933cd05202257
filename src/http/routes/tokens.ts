import { createRoute, z } from "@hono/zod-openapi";
import { TOKEN_DEFAULT_SECONDS, TOKEN_MAX_SECONDS, mintToken } from "../../domain/tokens.js";
import type { App, AppOptions } from "../app.js";
import { BODY_LIMITS, limitBody } from "../body-limit.js";
import { MetadataSchema, errorResponses, json, security } from "../schemas.js";
import { AllowedTypesSchema, KeyPrefixSchema } from "./keys.js";

const iso = (ms: number) => new Date(ms).toISOString();

const TokenRequestSchema = z
  .object({
    keyPrefix: KeyPrefixSchema.optional().openapi({ description: "The token's uploads get this key prefix. A scoped key's tokens keep its own prefix (the only one allowed)." }),
    allowedTypes: AllowedTypesSchema.optional().openapi({ description: "Types the token may upload, within the key's." }),
    maxSize: z.number().int().min(0).max(5 * 1024 ** 4).optional().openapi({ description: "Largest file in bytes, within the key's." }),
    maxUploads: z.number().int().min(1).max(10_000).optional().openapi({ description: "How many uploads the token may issue in its life. Default: no count beyond the key's own limits." }),
    expiresIn: z
      .number()
      .int()
      .min(1)
      .optional()
      .openapi({ description: `Seconds the token lives; default ${TOKEN_DEFAULT_SECONDS}, clamped to at most ${TOKEN_MAX_SECONDS} (the answer gives the lifetime granted).`, example: 900 }),
    metadata: MetadataSchema.optional().openapi({
      description: "Metadata every upload the token issues carries, such as the end user's id. The browser cannot change these values (403 metadata_fixed).",
      example: { userId: "u_123" },
    }),
  })
  .strict()
  .openapi("TokenRequest");

const TokenSchema = z
  .object({
    token: z.string().openapi({ description: "The bearer token (`sut_…`), for `Authorization: Bearer`. Shown in this answer only; Sluice keeps no copy." }),
    id: z.string().openapi({ description: "`tok_…`: names the token; its uploads carry it as metadata `sluice-token`." }),
    expiresAt: z.string().openapi({ format: "date-time" }),
    expiresIn: z.number().int().openapi({ description: "The lifetime granted, in seconds (after clamping)." }),
    keyPrefix: z.string().optional(),
    allowedTypes: z.array(z.string()).optional(),
    maxSize: z.number().int().optional(),
    maxUploads: z.number().int().optional(),
    metadata: z.record(z.string(), z.string()),
  })
  .openapi("BrowserToken");

const create = createRoute({
  method: "post",
  path: "/v1/tokens",
  summary: "Mint a short-lived browser upload token, scoped within the calling key, for one end user's browser",
  security,
  request: { body: { content: json(TokenRequestSchema), required: true } },
  middleware: [limitBody(BODY_LIMITS.json)] as const,
  responses: { 201: { description: "The token", content: json(TokenSchema) }, ...errorResponses(400, 401, 403, 413) },
});

/** Browser upload tokens: minted by an API key (full or scoped), never by a token. */
export function registerTokenRoutes(app: App, { services }: AppOptions) {
  app.openapi(create, (c) => {
    const principal = c.get("principal");
    const minted = mintToken(services.signer, principal, c.req.valid("json"), services.now());
    const { grant, scope } = minted;
    // The token's id only: the token itself is a credential.
    services.logger.info({ tokenId: grant.id, by: principal.keyId, expiresIn: minted.expiresIn }, "browser upload token minted");
    return c.json(
      {
        token: minted.token,
        id: grant.id,
        expiresAt: iso(grant.expiresAt),
        expiresIn: minted.expiresIn,
        ...(scope.keyPrefix !== undefined && { keyPrefix: scope.keyPrefix }),
        ...(scope.allowedTypes && { allowedTypes: scope.allowedTypes }),
        ...(scope.maxSize !== undefined && { maxSize: scope.maxSize }),
        ...(grant.maxUploads !== undefined && { maxUploads: grant.maxUploads }),
        metadata: grant.metadata,
      },
      201,
    );
  });
}
