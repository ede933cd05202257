/**
 * One tus upload by tus-js-client in Node, in a process of its own, so that the client never
 * shares an event loop with the bench's sampler or with either server. The same script and
 * settings upload to Sluice and to `@tus/server`; only the endpoint and the bearer differ.
 *
 * In: TUS_ENDPOINT, TUS_FILE (a file path: tus-js-client reads each chunk from it as its users'
 * Node code does, via `fs.createReadStream(path)`), TUS_CHUNK_SIZE, and TUS_BEARER for Sluice.
 * Out: one JSON line, `{ seconds, url }`: from `start()` to `onSuccess` (creation, every PATCH),
 * and the upload URL the server gave.
 */
import { createReadStream } from "node:fs";
import { Upload } from "tus-js-client";

const endpoint = process.env.TUS_ENDPOINT;
const file = process.env.TUS_FILE;
const chunkSize = Number(process.env.TUS_CHUNK_SIZE);
if (!endpoint || !file || !Number.isSafeInteger(chunkSize)) throw new Error("TUS_ENDPOINT, TUS_FILE and TUS_CHUNK_SIZE are required");
const bearer = process.env.TUS_BEARER;

const started = performance.now();
const url = await new Promise<string>((resolve, reject) => {
  const upload = new Upload(createReadStream(file), {
    endpoint,
    chunkSize,
    metadata: { filename: "bench.bin", filetype: "application/octet-stream" },
    ...(bearer && { headers: { authorization: `Bearer ${bearer}` } }),
    // A bench run measures one attempt: a failed request fails the round instead of being retried.
    retryDelays: [],
    storeFingerprintForResuming: false,
    onError: reject,
    onSuccess: () => resolve(upload.url ?? ""),
  });
  upload.start();
});
process.stdout.write(JSON.stringify({ seconds: (performance.now() - started) / 1000, url }) + "\n");
