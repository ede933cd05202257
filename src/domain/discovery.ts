import { MAX_PARTS, MIN_PART_SIZE } from "./part-plans.js";
import type { Services } from "./services.js";
import { TOKEN_DEFAULT_SECONDS, TOKEN_MAX_SECONDS } from "./tokens.js";
import type { UploadMethod } from "./upload-routes/upload-route.js";

/**
 * What a client would otherwise hard-code, in one public document (`GET /v1/limits`): the
 * limits every upload is checked against, how large files are split, the ways of uploading
 * this configuration serves, and where the protocols' endpoints are. Nothing in it is secret:
 * a key's or token's own scope may narrow it further, and is not shown.
 */
export interface Discovery {
  maxSize: number;
  allowedTypes: readonly string[];
  multipart: { threshold: number; partSize: number; minPartSize: number; maxParts: number };
  uploadMode: Services["config"]["uploadMode"];
  uploadMethods: readonly UploadMethod[];
  defaultMethod: UploadMethod;
  urlTtl: { defaultSeconds: number; maxSeconds: number };
  tus: { endpoint: string };
  companion: { endpoint: string };
  tokens: { defaultLifetimeSeconds: number; maxLifetimeSeconds: number };
}

export function describeLimits(s: Pick<Services, "config" | "routes">): Discovery {
  const { config } = s;
  return {
    maxSize: config.maxSize,
    allowedTypes: config.allowedTypes,
    multipart: { threshold: config.multipartThreshold, partSize: config.partSize, minPartSize: MIN_PART_SIZE, maxParts: MAX_PARTS },
    uploadMode: config.uploadMode,
    uploadMethods: s.routes.methods,
    defaultMethod: config.uploadMethod,
    urlTtl: { defaultSeconds: config.urlTtlSeconds, maxSeconds: config.urlTtlMaxSeconds },
    tus: { endpoint: `${config.publicUrl}/v1/tus/` },
    companion: { endpoint: config.publicUrl },
    tokens: { defaultLifetimeSeconds: TOKEN_DEFAULT_SECONDS, maxLifetimeSeconds: TOKEN_MAX_SECONDS },
  };
}
