/** Uppy Companion's S3 routes on the filesystem: single files and parts through Sluice's gateway. */
import { after, before } from "node:test";
import { LIMIT, companionSuite } from "./helpers/companion.js";
import { startServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
before(async () => {
  server = await startServer({ SLUICE_ALLOWED_TYPES: "image/*,text/plain", SLUICE_MAX_SIZE: String(LIMIT), SLUICE_RATE_LIMIT: "off", SLUICE_RATE_LIMIT_IP: "off" });
});
after(() => server?.stop());

companionSuite({ server: () => server, direct: false });
