import { badRequest } from "../../errors.js";
import { TUS_VERSION, openTusUpload, tusUploadUrl } from "../tus.js";
import type { UploadRouteDefinition } from "./upload-route.js";

/**
 * A tus 1.0.0 upload URL (`domain/tus.ts`): created by `POST /v1/tus/`, or asked for with
 * `"method": "tus"` by the app's server, for a browser's tus client (`uploadUrl`). The bytes
 * come through Sluice in PATCHes into a multipart upload (or, on the filesystem, an append
 * file) in staging, so it serves every
 * storage and mode. The ticket lives as long as a multipart upload's: a tus upload is resumed
 * over hours, not sent in one request.
 */
export const tusRoute: UploadRouteDefinition = {
  name: "tus",
  method: "tus",
  single: ({ config }) => ({
    name: "tus",
    plansParts: false,
    browserOrigins: [],
    check(request) {
      if (request.size === 0) throw badRequest("invalid_tus_request", "A tus upload must have at least one byte (Upload-Length 0 cannot be sent in a PATCH).");
    },
    ttlSeconds: (requested) => Math.min(Math.max(requested ?? config.multipartTtlSeconds, 1), config.multipartTtlSeconds),
    async instruct(s, ticket, { storeTicket }) {
      await openTusUpload(s, ticket, storeTicket);
      return { upload: { method: "PATCH", url: tusUploadUrl(s, ticket), headers: { "tus-resumable": TUS_VERSION } } };
    },
  }),
};
