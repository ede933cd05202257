import { unprocessable } from "../../errors.js";
import { urlTtlSeconds, type UploadRouteDefinition } from "./upload-route.js";

/** A presigned POST policy for a browser form, straight to the staging bucket (direct mode). */
export const presignedPostRoute: UploadRouteDefinition = {
  name: "presigned-post",
  method: "POST",
  unavailable: () => unprocessable("post_unavailable", "POST policy uploads need direct uploads to S3 (SLUICE_UPLOAD_MODE=direct); ask for PUT."),
  single: ({ config, presigner }) => {
    if (config.uploadMode !== "direct" || !presigner) return undefined;
    const staging = config.buckets.staging;
    return {
      name: "presigned-post",
      plansParts: true,
      browserOrigins: [presigner.originOf(staging)],
      ttlSeconds: (requested) => urlTtlSeconds(config, requested),
      async instruct(_s, ticket, { ttlSeconds, storeTicket }) {
        await storeTicket();
        // Signed from the ticket's own clock, so that the form and the ticket expire together.
        const form = await presigner.postForm(
          { bucket: staging, key: ticket.key },
          { contentType: ticket.contentType, contentLength: ticket.size, lengthIsLimit: ticket.sizeIsLimit, expiresIn: ttlSeconds, signingDate: new Date(ticket.createdAt) },
        );
        return { upload: { method: "POST", url: form.url, headers: {}, fields: form.fields } };
      },
    };
  },
};
