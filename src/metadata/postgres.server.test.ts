import pg from "pg";
import { newId } from "../internal/crypto.js";
import { startPostgres } from "../../test/helpers/backends.js";
import { createMetadataStore } from "./factory.js";
import { describeMetadataStore } from "./metadata-store.conformance.js";

describeMetadataStore("postgres (a real PostgreSQL server)", async () => {
  const server = await startPostgres();
  const store = await createMetadataStore({ kind: "postgres", url: server.url });
  const peer = await createMetadataStore({ kind: "postgres", url: server.url });
  const clients: pg.Client[] = [];
  return {
    store,
    peer,
    async openWriter() {
      const client = new pg.Client({ connectionString: server.url });
      clients.push(client);
      await client.connect();
      await client.query("BEGIN");
      await client.query("SELECT pg_current_xact_id()"); // takes its transaction id, as its first write would
      return {
        writeEvent: async (uploadId: string) => {
          await client.query("INSERT INTO events (id, type, upload_id, seq, key, created_at, data) VALUES ($1, 'upload.failed', $2, 1, $3, $4, '{}')", [
            newId("evt"),
            uploadId,
            `${uploadId}/held`,
            Date.now(),
          ]);
        },
        commit: async () => {
          await client.query("COMMIT");
          await client.end();
        },
      };
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      await Promise.all([store.close(), peer.close()]);
      await server.stop();
    },
  };
});
