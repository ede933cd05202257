import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sqliteDriversHere } from "../internal/sqlite.js";
import { createSqliteMetadataStore } from "./factory.js";
import { describeMetadataStore } from "./metadata-store.conformance.js";

// On each SQLite binding this Node has: better-sqlite3 on Node 20, node:sqlite on 24, both on 22.
for (const driver of await sqliteDriversHere()) {
  describeMetadataStore(`sqlite (${driver})`, async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-sqlite-"));
    const store = await createSqliteMetadataStore(path.join(dir, "test.db"), { driver });
    const peer = await createSqliteMetadataStore(path.join(dir, "test.db"), { driver });
    return {
      store,
      peer,
      close: async () => {
        await Promise.all([store.close(), peer.close()]);
        await fs.rm(dir, { recursive: true, force: true });
      },
    };
  });
}
