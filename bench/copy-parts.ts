/**
 * How long one UploadPartCopy takes on the test cluster (Ceph RGW), by part size, one at a time
 * and four at once (as the resumable archive copy runs them): the figures behind "how long a
 * 5 TiB archive takes" in docs/architecture.md. Not part of `npm run bench` (it writes a few
 * hundred MiB to storage); run it alone:
 *   SLUICE_TEST_RGW_ENDPOINT=… node --import tsx bench/copy-parts.ts
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCopyCommand } from "@aws-sdk/client-s3";
import { removeBuckets, s3ClientFor, useRgw } from "../test/helpers/rgw.js";
import { S3ObjectStore } from "../src/storage/s3.js";

const MiB = 1024 ** 2;
const SIZES = [5 * MiB, 64 * MiB, 256 * MiB];
const ROUNDS = 3;

const rgw = await useRgw();
const s3 = s3ClientFor(rgw);
const bucket = `copy-bench-${randomBytes(4).toString("hex")}`;
await new S3ObjectStore({ client: s3 }).prepare([bucket]);
try {
  const source = 256 * MiB;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "source", Body: randomBytes(source), ContentLength: source }));
  for (const size of SIZES) {
    for (const inFlight of [1, 4]) {
      const times: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "target" }));
        const started = performance.now();
        await Promise.all(
          Array.from({ length: inFlight }, (_, i) =>
            s3.send(
              new UploadPartCopyCommand({
                Bucket: bucket,
                Key: "target",
                UploadId,
                PartNumber: i + 1,
                CopySource: `${bucket}/source`,
                CopySourceRange: `bytes=0-${Math.min(size, source) - 1}`,
              }),
            ),
          ),
        );
        times.push(performance.now() - started);
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: "target", UploadId }));
      }
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)]!;
      const mbps = (size * inFlight) / MiB / (median / 1000);
      console.log(`${size / MiB} MiB part, ${inFlight} in flight: median ${median.toFixed(0)} ms per round (min ${times[0]!.toFixed(0)}, max ${times[times.length - 1]!.toFixed(0)}): ${mbps.toFixed(0)} MiB/s copied`);
    }
  }
} finally {
  await removeBuckets(s3, [bucket]);
  s3.destroy();
  await rgw.stop();
}
