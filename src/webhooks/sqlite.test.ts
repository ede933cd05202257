import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sqliteDriversHere } from "../internal/sqlite.js";
import { createSqliteMetadataStore } from "../metadata/factory.js";
import { webhookStoreBeside } from "./factory.js";
import { describeWebhookStore } from "./webhook-store.conformance.js";

for (const driver of await sqliteDriversHere()) {
  describeWebhookStore(`sqlite (${driver})`, async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-webhooks-"));
    const metadata = await createSqliteMetadataStore(path.join(dir, "test.db"), { driver });
    const peerMetadata = await createSqliteMetadataStore(path.join(dir, "test.db"), { driver });
    return {
      store: webhookStoreBeside(metadata),
      peer: webhookStoreBeside(peerMetadata),
      close: async () => {
        await Promise.all([metadata.close(), peerMetadata.close()]);
        await fs.rm(dir, { recursive: true, force: true });
      },
    };
  });
}
