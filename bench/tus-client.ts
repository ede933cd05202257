/**
 * One tus upload by tus-js-client in Node, in a process of its own, so that the client never
 * shares an event loop with the bench's sampler or with either server. The same script and
 * settings upload to Sluice and to `@tus/server`; only the endpoint and the bearer differ.
 *
 * In: TUS_ENDPOINT, TUS_FILE (a file path: tus-js-client reads each chunk from it as its users'
 * Node code does, via `fs.createReadStream(path)`), TUS_CHUNK_SIZE, and TUS_BEARER for Sluice.
 * Out: one JSON line, `{ seconds, url, creationMs, lastPatchMs, patchMs }`: from `start()` to
 * `onSuccess` (creation, every PATCH), the upload URL the server gave, and where the time went:
 * the creation request, the last PATCH (Sluice's also assembles and waits for the verdict), and
 * the median of the other PATCHes.
 */
import { createReadStream } from "node:fs";
import { Upload } from "tus-js-client";

const endpoint = process.env.TUS_ENDPOINT;
const file = process.env.TUS_FILE;
const chunkSize = Number(process.env.TUS_CHUNK_SIZE);
if (!endpoint || !file || !Number.isSafeInteger(chunkSize)) throw new Error("TUS_ENDPOINT, TUS_FILE and TUS_CHUNK_SIZE are required");
const bearer = process.env.TUS_BEARER;

const started = performance.now();
const requests: { method: string; ms: number }[] = [];
const sent = new Map<unknown, number>();
const url = await new Promise<string>((resolve, reject) => {
  const upload = new Upload(createReadStream(file), {
    endpoint,
    chunkSize,
    metadata: { filename: "bench.bin", filetype: "application/octet-stream" },
    ...(bearer && { headers: { authorization: `Bearer ${bearer}` } }),
    // A bench run measures one attempt: a failed request fails the round instead of being retried.
    retryDelays: [],
    storeFingerprintForResuming: false,
    onBeforeRequest: (req) => void sent.set(req, performance.now()),
    onAfterResponse: (req) => void requests.push({ method: req.getMethod(), ms: performance.now() - (sent.get(req) ?? started) }),
    onError: reject,
    onSuccess: () => resolve(upload.url ?? ""),
  });
  upload.start();
});
const seconds = (performance.now() - started) / 1000;
const patches = requests.filter((r) => r.method === "PATCH").map((r) => r.ms);
const others = patches.slice(0, -1).sort((a, b) => a - b);
const creationMs = requests.find((r) => r.method === "POST")?.ms ?? NaN;
process.stdout.write(JSON.stringify({ seconds, url, creationMs, lastPatchMs: patches.at(-1) ?? NaN, patchMs: others[Math.floor(others.length / 2)] ?? NaN }) + "\n");
