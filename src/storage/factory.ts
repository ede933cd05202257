import type { StorageConfig } from "../config.js";
import { FsObjectStore } from "./fs.js";
import type { ObjectStore } from "./object-store.js";
import { S3ObjectStore, createS3Client } from "./s3.js";

export function createObjectStore(config: StorageConfig): ObjectStore {
  switch (config.kind) {
    case "fs":
      return new FsObjectStore({ root: config.dir });
    case "s3":
      return new S3ObjectStore({ client: createS3Client(config) });
  }
}
