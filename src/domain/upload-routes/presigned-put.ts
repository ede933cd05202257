import { urlTtlSeconds, type UploadRouteDefinition } from "./upload-route.js";

/**
 * A presigned PUT straight to the staging bucket (direct mode): the bytes never pass through
 * Sluice. The signature binds the key, type, exact length, `If-None-Match: *` and the promised
 * SHA-256. Its part route signs UploadPart URLs at storage, in edge mode too (CloudFront
 * carries single PUTs only).
 */
export const presignedPutRoute: UploadRouteDefinition = {
  name: "presigned-put",
  method: "PUT",
  single: ({ config, presigner }) => {
    if (config.uploadMode !== "direct" || !presigner) return undefined;
    const staging = config.buckets.staging;
    return {
      name: "presigned-put",
      plansParts: true,
      browserOrigins: [presigner.originOf(staging)],
      ttlSeconds: (requested) => urlTtlSeconds(config, requested),
      async instruct(_s, ticket, { ttlSeconds, storeTicket }) {
        await storeTicket();
        // Signed from the ticket's own clock, so that the URL and the ticket expire together.
        const put = await presigner.putUrl(
          { bucket: staging, key: ticket.key },
          { contentType: ticket.contentType, contentLength: ticket.size, sha256: ticket.sha256 ?? undefined, expiresIn: ttlSeconds, signingDate: new Date(ticket.createdAt) },
        );
        return { upload: { method: "PUT", url: put.url, headers: put.headers } };
      },
    };
  },
  parts: ({ config, presigner }) => {
    if (config.uploadMode === "gateway" || !presigner) return undefined;
    const staging = config.buckets.staging;
    return {
      name: "presigned parts",
      browserOrigins: [presigner.originOf(staging)],
      async partUrl(_s, ticket, { partNumber, contentLength, expires, now }) {
        const signedAt = Math.floor(now / 1000);
        const expiresIn = Math.max(1, expires - signedAt);
        const url = await presigner.partUrl({ bucket: staging, key: ticket.key }, { uploadId: ticket.multipart.uploadId, partNumber, contentLength, expiresIn, signingDate: new Date(now) });
        return { partNumber, method: "PUT", url, headers: {}, expiresAt: (signedAt + expiresIn) * 1000 };
      },
    };
  },
};
