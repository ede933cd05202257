import { unprocessable } from "../../errors.js";
import { urlTtlSeconds, type UploadRouteDefinition } from "./upload-route.js";

const sha256Required = () =>
  unprocessable("sha256_required", "Uploads through the CloudFront front need the file's sha256: send it here, and as x-amz-content-sha256 with the PUT.");

/**
 * A PUT to the CloudFront distribution in front of staging, at the object's own key (edge
 * mode). Not signed by Sluice: the edge functions hold no secret (`domain/edge.ts`). The
 * ticket is the permission (its id is 128 random bits, claimed once, with its expiry), and
 * storage checks the body against the hash, which CloudFront signs and so must be known.
 * A multipart upload's parts go to storage (the presigned part route).
 */
export const edgeRoute: UploadRouteDefinition = {
  name: "edge",
  method: "PUT",
  single: ({ config }) => {
    const { edgeUrl } = config;
    if (config.uploadMode !== "edge" || !edgeUrl) return undefined;
    return {
      name: "edge",
      plansParts: true,
      browserOrigins: [new URL(edgeUrl).origin],
      check(request) {
        if (!request.sha256) throw sha256Required();
      },
      ttlSeconds: (requested) => urlTtlSeconds(config, requested),
      async instruct(_s, ticket, { storeTicket }) {
        const { sha256 } = ticket;
        if (!sha256) throw sha256Required();
        await storeTicket();
        return { upload: { method: "PUT", url: `${edgeUrl}/${ticket.key}`, headers: { "content-type": ticket.contentType, "x-amz-content-sha256": sha256 } } };
      },
    };
  },
};
