/**
 * The tus baseline: `@tus/server` as its README sets it up, on Node's own HTTP server, at the
 * same path as Sluice's tus endpoint (`/v1/tus/`), so the client's `endpoint` differs only in
 * its port. No auth, no limits, no hooks: the least a tus server does.
 * - TUS_STORE=file: `@tus/file-store` in TUS_DIR (Sluice on the filesystem is compared to it).
 * - TUS_STORE=s3: `@tus/s3-store` on TUS_S3_ENDPOINT / TUS_S3_BUCKET with TUS_PART_SIZE parts
 *   (Sluice on the same RGW, with the same part size, is compared to it).
 * It logs its `listening` line as JSON, as Sluice and bench/baseline-server.ts do.
 */
import http from "node:http";
import { FileStore } from "@tus/file-store";
import { S3Store } from "@tus/s3-store";
import { Server } from "@tus/server";

const port = Number(process.env.PORT);
const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

/** The store type as `@tus/server` takes it (`@tus/utils`, which defines it, is not a dependency of ours). */
type DataStore = ConstructorParameters<typeof Server>[0]["datastore"];

function chooseStore(): DataStore {
  if (process.env.TUS_STORE === "s3") {
    return new S3Store({
      partSize: Number(env("TUS_PART_SIZE")),
      s3ClientConfig: {
        bucket: env("TUS_S3_BUCKET"),
        endpoint: env("TUS_S3_ENDPOINT"),
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: env("TUS_S3_ACCESS_KEY"), secretAccessKey: env("TUS_S3_SECRET_KEY") },
        // As Sluice's own S3 client (src/storage/s3.ts): no CRC32 over every part, so that
        // neither side pays for a checksum the other does not compute.
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      },
    });
  }
  return new FileStore({ directory: env("TUS_DIR") });
}

const tus = new Server({ path: "/v1/tus", datastore: chooseStore() });
const server = http.createServer((req, res) => void tus.handle(req, res));
// As Sluice's server: no request timeout cuts a long PATCH short.
server.requestTimeout = 0;
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ msg: "listening", port }) + "\n");
});
// A clean exit on SIGTERM (the bench stops servers so), so that `--cpu-prof` writes its profile.
process.once("SIGTERM", () => server.close(() => process.exit(0)));
