import type { StorageConfig } from "../config.js";
import type { ObjectStore } from "./object-store.js";
import type { Presigner } from "./presign.js";

/** The object store, and its presigner when the store can presign (S3). Only the configured backend's code is loaded. */
export async function createStorage(config: StorageConfig): Promise<{ objects: ObjectStore; presigner: Presigner | undefined }> {
  switch (config.kind) {
    case "fs": {
      const { FsObjectStore } = await import("./fs.js");
      return { objects: new FsObjectStore({ root: config.dir }), presigner: undefined };
    }
    case "s3": {
      const [{ S3ObjectStore, createS3Client }, { S3Presigner }] = await Promise.all([import("./s3.js"), import("./s3-presign.js")]);
      const client = createS3Client(config);
      return { objects: new S3ObjectStore({ client }), presigner: new S3Presigner({ client, store: config }) };
    }
  }
}
