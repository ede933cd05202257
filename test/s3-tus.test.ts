/**
 * tus 1.0.0 on S3 (Ceph RGW): each upload is a multipart upload, chunks are smaller than a
 * part (bytes wait in a pending-part object), and two instances sharing Redis (tickets) and
 * PostgreSQL (records) take alternate PATCHes of one upload.
 */
import { randomBytes } from "node:crypto";
import { createDatabase, startPostgres, startRedis } from "./helpers/backends.js";
import { keysIn, removeBuckets, s3ClientFor, sluiceS3Env, useRgw } from "./helpers/rgw.js";
import { startServer } from "./helpers/server.js";
import { TUS_SUITE_ENV, tusSuite } from "./helpers/tus-suite.js";

tusSuite(
  "S3 on RGW, two instances",
  async () => {
    const rgw = await useRgw();
    const s3 = s3ClientFor(rgw);
    const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
    const suffix = randomBytes(4).toString("hex");
    const staging = `staging-${suffix}`;
    const archive = `archive-${suffix}`;
    const env = sluiceS3Env(rgw, {
      ...TUS_SUITE_ENV,
      SLUICE_UPLOAD_MODE: "gateway",
      SLUICE_STAGING_BUCKET: staging,
      SLUICE_ARCHIVE_BUCKET: archive,
      SLUICE_TICKETS: redis.url,
      SLUICE_DATABASE: await createDatabase(postgres, `sluice_${suffix}`),
      SLUICE_API_KEYS: `sk_tus_${suffix}_0123456789abcdef`,
    });
    const [server, other] = await Promise.all([startServer(env), startServer(env)]);
    return {
      server,
      otherUrl: other.url,
      stagingKeys: () => keysIn(s3, staging),
      async close() {
        await Promise.all([server.stop(), other.stop()]);
        await removeBuckets(s3, [staging, archive]);
        s3.destroy();
        await Promise.all([redis.stop(), postgres.stop()]);
        await rgw.stop();
      },
    };
  },
  { twoInstances: true },
);
