import { unprocessable } from "../../errors.js";
import { guard } from "../backend-calls.js";
import type { UploadRouteDefinition } from "./upload-route.js";

/**
 * Scoped STS credentials for one staging key (direct mode on S3, with SLUICE_STS_ROLE_ARN):
 * the client's own S3 SDK sends the file, in one PUT or in parts as it decides.
 */
export const stsCredentialsRoute: UploadRouteDefinition = {
  name: "sts-credentials",
  method: "credentials",
  unavailable: () => unprocessable("credentials_unavailable", "Scoped credentials need direct uploads to S3 and SLUICE_STS_ROLE_ARN; ask for PUT."),
  single: ({ config, credentials }) => {
    const { storage } = config;
    if (config.uploadMode !== "direct" || !credentials || storage.kind !== "s3") return undefined;
    const staging = config.buckets.staging;
    return {
      name: "sts-credentials",
      plansParts: false,
      browserOrigins: [],
      // STS's bounds: a session lasts 15 minutes at least, and at most what the role allows.
      ttlSeconds: (requested) => Math.min(Math.max(requested ?? config.urlTtlSeconds, credentials.minSeconds), credentials.maxSeconds),
      async instruct(_s, ticket, { ttlSeconds, storeTicket }) {
        // Credentials first: if STS is down nothing is issued. The ticket lives as long as they
        // do, so that bytes sent with them are still owned.
        const granted = await guard("STS", () => credentials.forUpload({ bucket: staging, key: ticket.key }, { sessionName: ticket.id, durationSeconds: ttlSeconds }));
        ticket.expiresAt = Math.max(ticket.expiresAt, granted.expiresAt);
        await storeTicket();
        const { endpoint, region, forcePathStyle } = storage;
        return { credentials: { ...granted, bucket: staging, key: ticket.key, region, ...(endpoint && { endpoint }), forcePathStyle, contentType: ticket.contentType } };
      },
    };
  },
};
