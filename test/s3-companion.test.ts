/** Uppy Companion's S3 routes on a real S3 server (Ceph RGW) in direct mode: POST policies and part URLs presigned at storage. */
import { after, before } from "node:test";
import { LIMIT, companionSuite } from "./helpers/companion.js";
import { startSluiceOnRgw, type SluiceOnRgw } from "./helpers/rgw.js";

let sluice: SluiceOnRgw;
before(async () => {
  sluice = await startSluiceOnRgw({ SLUICE_UPLOAD_MODE: "direct", SLUICE_ALLOWED_TYPES: "image/*,text/plain", SLUICE_MAX_SIZE: String(LIMIT), SLUICE_RATE_LIMIT: "off", SLUICE_RATE_LIMIT_IP: "off" });
});
after(() => sluice?.close());

companionSuite({ server: () => sluice.server, direct: true });
