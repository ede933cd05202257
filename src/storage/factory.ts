import type { StorageConfig } from "../config.js";
import { FsObjectStore } from "./fs.js";
import type { ObjectStore } from "./object-store.js";

export function createObjectStore(config: StorageConfig): ObjectStore {
  switch (config.kind) {
    case "fs":
      return new FsObjectStore({ root: config.dir });
    case "s3":
      throw new Error("The s3 object store is not available in this version.");
  }
}
