import type { StorageConfig } from "../config.js";
import { FsObjectStore } from "./fs.js";
import type { ObjectStore } from "./object-store.js";
import type { Presigner } from "./presign.js";
import { S3ObjectStore, createS3Client } from "./s3.js";
import { S3Presigner } from "./s3-presign.js";

/** The object store, and its presigner when the store can presign (S3). */
export function createStorage(config: StorageConfig): { objects: ObjectStore; presigner: Presigner | undefined } {
  switch (config.kind) {
    case "fs":
      return { objects: new FsObjectStore({ root: config.dir }), presigner: undefined };
    case "s3": {
      const client = createS3Client(config);
      return { objects: new S3ObjectStore({ client }), presigner: new S3Presigner({ client, store: config }) };
    }
  }
}
