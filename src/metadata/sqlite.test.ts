import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createMetadataStore } from "./factory.js";
import { describeMetadataStore } from "./metadata-store.conformance.js";

describeMetadataStore("sqlite", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-sqlite-"));
  const store = await createMetadataStore({ kind: "sqlite", path: path.join(dir, "test.db") });
  const peer = await createMetadataStore({ kind: "sqlite", path: path.join(dir, "test.db") });
  return {
    store,
    peer,
    close: async () => {
      await Promise.all([store.close(), peer.close()]);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});
