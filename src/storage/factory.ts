import type { S3Client } from "@aws-sdk/client-s3";
import type { StorageConfig } from "../config.js";
import { once } from "../internal/async.js";
import type { ObjectStore } from "./object-store.js";
import type { Presigner } from "./presign.js";
import type * as S3Module from "./s3.js";

/** The object store, and its presigner when the store can presign (S3). Only the configured backend's code is loaded. */
export async function createStorage(config: StorageConfig): Promise<{ objects: ObjectStore; presigner: Presigner | undefined }> {
  switch (config.kind) {
    case "fs": {
      const { FsObjectStore } = await import("./fs.js");
      return { objects: new FsObjectStore({ root: config.dir, minFreeBytes: config.minFreeBytes }), presigner: undefined };
    }
    case "s3": {
      // The SDK's S3 client is loaded on the first call that needs it, not here: issuing
      // presigned URLs never does, so a Lambda issuer's cold start goes without it.
      const [{ deferredObjectStore }, { S3Presigner }, { defaultProvider }] = await Promise.all([
        import("./deferred.js"),
        import("./s3-presign.js"),
        import("@aws-sdk/credential-provider-node"),
      ]);
      const sdk = once(async (): Promise<[typeof S3Module, S3Client]> => {
        const s3 = await import("./s3.js");
        return [s3, s3.createS3Client(config)];
      });
      const objects = deferredObjectStore("S3 object store", async () => {
        const [{ S3ObjectStore }, client] = await sdk();
        return new S3ObjectStore({ client, singleCopyMax: config.singleCopyMax, copyPartSize: config.copyPartSize, copyConcurrency: config.copyConcurrency });
      });
      const presigner = new S3Presigner({
        store: config,
        // The client's own rule: the configured keys, else the default provider chain (env, web identity, container, instance).
        credentials: config.credentials ?? defaultProvider(),
        postForm: async (ref, options) => {
          const [{ presignPostForm }, client] = await sdk();
          return presignPostForm(client, ref, options);
        },
      });
      return { objects, presigner };
    }
  }
}
