import { createRoute, z } from "@hono/zod-openapi";
import { describeLimits } from "../../domain/discovery.js";
import type { App, AppOptions } from "../app.js";

/** Configuration changes only with a restart; a minute's staleness costs nothing and spares a request per upload. */
const CACHE_SECONDS = 60;

const LimitsSchema = z
  .object({
    maxSize: z.number().int().openapi({ description: "Largest file, in bytes (SLUICE_MAX_SIZE)." }),
    allowedTypes: z.array(z.string()).openapi({ description: "Type patterns accepted (SLUICE_ALLOWED_TYPES)." }),
    multipart: z
      .object({
        threshold: z.number().int().openapi({ description: "Files larger than this are uploaded in parts." }),
        partSize: z.number().int().openapi({ description: "The part size offered (it grows for files that would need more than maxParts)." }),
        minPartSize: z.number().int(),
        maxParts: z.number().int(),
      })
      .openapi({ description: "How large files are split." }),
    uploadMode: z.enum(["direct", "gateway", "edge"]),
    uploadMethods: z.array(z.string()).openapi({ description: "The `method`s POST /v1/uploads serves here." }),
    defaultMethod: z.string(),
    urlTtl: z.object({ defaultSeconds: z.number().int(), maxSeconds: z.number().int() }),
    tus: z.object({ endpoint: z.string().openapi({ description: "A tus client's `endpoint`." }) }),
    companion: z.object({ endpoint: z.string().openapi({ description: "@uppy/aws-s3's `companionEndpoint`." }) }),
    tokens: z.object({ defaultLifetimeSeconds: z.number().int(), maxLifetimeSeconds: z.number().int() }),
  })
  .openapi("Limits");

const limits = createRoute({
  method: "get",
  path: "/v1/limits",
  summary: "What a client needs to know before uploading: limits, multipart sizes, upload methods and endpoints (public, no key)",
  responses: { 200: { description: "The limits", content: { "application/json": { schema: LimitsSchema } } } },
});

export function registerLimitRoutes(app: App, { services }: AppOptions) {
  // Built once: it depends on configuration alone.
  const described = describeLimits(services);
  const document = { ...described, allowedTypes: [...described.allowedTypes], uploadMethods: [...described.uploadMethods] };
  app.openapi(limits, (c) => c.json(document, 200, { "cache-control": `public, max-age=${CACHE_SECONDS}` }));
}
