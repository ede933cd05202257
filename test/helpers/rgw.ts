/**
 * A real S3 server for the tests: Ceph's RADOS Gateway. `npm test` starts one for the whole
 * run and passes it down in SLUICE_TEST_RGW_*; a test file run on its own starts its own.
 * Either way it is a real server, never a mock, and it is stopped by PID.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { createS3Client } from "../../src/storage/s3.js";
import { ROOT, freePort, startServer, type TestServer } from "./server.js";
import { needsServerTier } from "./tier.js";

const run = promisify(execFile);

export interface Rgw {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

/** A cluster of this test file's own, whose gateway can be stopped and started again with every object kept. */
export interface OwnRgw extends Rgw {
  stopGateway(): Promise<void>;
  startGateway(): Promise<void>;
}

const ACCESS_KEY = "sluicetestaccesskey01";
const SECRET_KEY = "sluicetestsecretkey0000000000000000000001";

export async function useRgw(): Promise<Rgw> {
  needsServerTier("Ceph RGW");
  const shared = process.env.SLUICE_TEST_RGW_ENDPOINT;
  if (shared) {
    return {
      endpoint: shared,
      accessKeyId: process.env.SLUICE_TEST_RGW_ACCESS_KEY ?? ACCESS_KEY,
      secretAccessKey: process.env.SLUICE_TEST_RGW_SECRET_KEY ?? SECRET_KEY,
      stop: () => Promise.resolve(),
    };
  }
  return startRgw();
}

export async function startRgw(): Promise<OwnRgw> {
  needsServerTier("Ceph RGW");
  for (const binary of ["ceph-mon", "ceph-osd", "radosgw", "monmaptool"]) {
    await run("which", [binary]).catch(() => {
      throw new Error(`${binary} is missing: the S3 tests need Debian's ceph-mon ceph-osd radosgw ceph-common (npm test installs them as root).`);
    });
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-rgw-"));
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const script = path.join(ROOT, "test/rgw/start-rgw.sh");
  const stop = () => run("bash", [path.join(ROOT, "test/rgw/stop-rgw.sh"), dir]).then(() => undefined);
  try {
    await run("bash", [script, dir, String(monPort), String(rgwPort)], {
      env: { ...process.env, S3_ACCESS_KEY: ACCESS_KEY, S3_SECRET_KEY: SECRET_KEY },
      timeout: 180_000,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const gateway = (action: "stop" | "start") => run("bash", [path.join(ROOT, "test/rgw/gateway.sh"), dir, action], { timeout: 120_000 }).then(() => undefined);
  return {
    endpoint: `http://127.0.0.1:${rgwPort}`,
    accessKeyId: ACCESS_KEY,
    secretAccessKey: SECRET_KEY,
    stop,
    stopGateway: () => gateway("stop"),
    startGateway: () => gateway("start"),
  };
}

/** An SDK client for the test cluster, configured the way Sluice configures its own. */
export function s3ClientFor(rgw: Rgw): S3Client {
  return createS3Client({ endpoint: rgw.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } });
}

/** The environment that points a Sluice server at the test cluster. */
export function sluiceS3Env(rgw: Rgw, env: Record<string, string> = {}): Record<string, string> {
  return {
    SLUICE_STORAGE: "s3",
    AWS_ENDPOINT_URL_S3: rgw.endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: rgw.accessKeyId,
    AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
    SLUICE_S3_FORCE_PATH_STYLE: "true",
    ...env,
  };
}

/** Empties and deletes a test's buckets (on the shared cluster, other files' buckets live beside them). */
export async function removeBuckets(s3: S3Client, buckets: string[]): Promise<void> {
  for (const Bucket of buckets) {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket })).catch(() => undefined);
    for (const o of listed?.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket, Key: o.Key }));
    await s3.send(new DeleteBucketCommand({ Bucket })).catch(() => undefined);
  }
}

/** The keys in a bucket (the first 1000). */
export async function keysIn(s3: S3Client, Bucket: string): Promise<string[]> {
  return ((await s3.send(new ListObjectsV2Command({ Bucket }))).Contents ?? []).map((o) => o.Key ?? "");
}

export interface SluiceOnRgw {
  rgw: Rgw;
  s3: S3Client;
  server: TestServer;
  /** This test file's own buckets, so that files sharing the cluster never see each other's objects. */
  staging: string;
  archive: string;
  /** The server's environment, for commands (`sluice setup`) that must read the same configuration. */
  env: Record<string, string>;
  /** Stops the server, removes the buckets, and lets go of the cluster. */
  close(): Promise<void>;
}

/** A Sluice server on the test cluster with buckets of its own; `env` adds to or overrides the S3 settings. */
export async function startSluiceOnRgw(env: Record<string, string> | ((rgw: Rgw) => Record<string, string>) = {}): Promise<SluiceOnRgw> {
  const rgw = await useRgw();
  const s3 = s3ClientFor(rgw);
  const suffix = randomBytes(4).toString("hex");
  const staging = `staging-${suffix}`;
  const archive = `archive-${suffix}`;
  const serverEnv = sluiceS3Env(rgw, { SLUICE_STAGING_BUCKET: staging, SLUICE_ARCHIVE_BUCKET: archive, ...(typeof env === "function" ? env(rgw) : env) });
  const server = await startServer(serverEnv);
  return {
    rgw,
    s3,
    server,
    staging,
    archive,
    env: serverEnv,
    async close() {
      await server.stop();
      await removeBuckets(s3, [staging, archive]);
      s3.destroy();
      await rgw.stop();
    },
  };
}
