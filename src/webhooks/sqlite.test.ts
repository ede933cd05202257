import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createMetadataStore } from "../metadata/factory.js";
import { webhookStoreBeside } from "./factory.js";
import { describeWebhookStore } from "./webhook-store.conformance.js";

describeWebhookStore("sqlite", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-webhooks-"));
  const metadata = await createMetadataStore({ kind: "sqlite", path: path.join(dir, "test.db") });
  const peerMetadata = await createMetadataStore({ kind: "sqlite", path: path.join(dir, "test.db") });
  return {
    store: webhookStoreBeside(metadata),
    peer: webhookStoreBeside(peerMetadata),
    close: async () => {
      await Promise.all([metadata.close(), peerMetadata.close()]);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});
