import { gatewayPartPath, gatewayPath, signedUrl } from "../signed-urls.js";
import { urlTtlSeconds, type UploadRouteDefinition } from "./upload-route.js";

/**
 * A PUT to Sluice's own gateway, signed by Sluice, which claims the ticket and streams the
 * body to staging (`domain/gateway.ts`). Serves every configuration: it is the route of the
 * embedded default, and of whatever the store cannot take directly.
 */
export const gatewayRoute: UploadRouteDefinition = {
  name: "gateway",
  method: "PUT",
  single: ({ config }) => ({
    name: "gateway",
    plansParts: true,
    browserOrigins: [],
    ttlSeconds: (requested) => urlTtlSeconds(config, requested),
    async instruct(s, ticket, { storeTicket }) {
      await storeTicket();
      const expires = Math.floor(ticket.expiresAt / 1000);
      const url = signedUrl(s, gatewayPath(ticket.id), { method: "PUT", id: ticket.id, expires });
      return { upload: { method: "PUT", url, headers: { "content-type": ticket.contentType } } };
    },
  }),
  parts: () => ({
    name: "gateway parts",
    browserOrigins: [],
    partUrl(s, ticket, { partNumber, expires }) {
      const url = signedUrl(s, gatewayPartPath(ticket.id, partNumber), { method: "PUT", id: ticket.id, expires, extra: [String(partNumber)] });
      return Promise.resolve({ partNumber, method: "PUT", url, headers: {}, expiresAt: expires * 1000 });
    },
  }),
};
