/**
 * What can be uploaded, seen one way whatever it is: a Blob (read lazily, sliced per part),
 * bytes in memory, or a stream of known length (read once, in order).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { SluiceApiError } from "./errors.js";

/**
 * What can be uploaded: a browser File/Blob (Node's `fs.openAsBlob` gives one for a file on
 * disk, read as it is sent), bytes with a name, or a stream of known length (read once, in order).
 */
export type UploadSource = Blob | { name: string; type: string; data: Uint8Array } | { name: string; type: string; size: number; stream: ReadableStream<Uint8Array> };

/** A source, seen the same way whatever it is. */
export interface SourceFile {
  /** What was given to `upload`. */
  origin: unknown;
  name: string;
  type: string;
  size: number;
  /** A stream: parts must be read in order, once. */
  sequential: boolean;
  /** The whole file, as a Blob (a single upload). */
  whole(): Promise<Blob>;
  /** Bytes [start, end). A Blob slice is read lazily, while it is sent, unless `materialize`. */
  part(start: number, end: number, materialize: boolean): Promise<Blob | Uint8Array>;
  /** The SHA-256 of the whole file, read as a stream. */
  hash(): Promise<string>;
}

/** `filename` and `contentType` override what the source says. */
export function describeSource(source: UploadSource, overrides: { filename?: string; contentType?: string }): SourceFile {
  const type = (overrides.contentType ?? (source.type || "application/octet-stream")).toLowerCase();
  if (source instanceof Blob) {
    const name = overrides.filename ?? (source as Partial<File>).name ?? "blob";
    return {
      origin: source,
      name,
      type,
      size: source.size,
      sequential: false,
      whole: () => Promise.resolve(source.type === type ? source : source.slice(0, source.size, type)),
      part: async (start, end, materialize) => {
        const slice = source.slice(start, end);
        return materialize ? new Uint8Array(await slice.arrayBuffer()) : slice;
      },
      hash: () => hashStream(source.stream()),
    };
  }
  if ("data" in source) {
    const data = source.data;
    return {
      origin: source,
      name: overrides.filename ?? source.name,
      type,
      size: data.byteLength,
      sequential: false,
      whole: () => Promise.resolve(new Blob([data as BlobPart], { type })),
      part: (start, end) => Promise.resolve(data.subarray(start, end)),
      hash: () => Promise.resolve(bytesToHex(sha256(data))),
    };
  }
  // A stream: read once, in order, a part at a time.
  const reader = new ChunkReader(source.stream);
  return {
    origin: source,
    name: overrides.filename ?? source.name,
    type,
    size: source.size,
    sequential: true,
    whole: async () => new Blob([(await reader.read(source.size)) as BlobPart], { type }),
    part: (start, end) => reader.read(end - start),
    // A stream is read once: it cannot be hashed first and then sent.
    hash: () => Promise.reject(new SluiceApiError(0, "stream_checksum", "A stream cannot be hashed before a single upload; pass a Blob (fs.openAsBlob) for checksum: true.")),
  };
}

/** Reads exactly n bytes at a time from a stream. */
export class ChunkReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #pending: Uint8Array = new Uint8Array(0);

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  async read(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#pending.byteLength === 0) {
        const { done, value } = await this.#reader.read();
        if (done) throw new SluiceApiError(0, "short_stream", `The stream ended ${n - filled} bytes before its declared size.`);
        this.#pending = value;
      }
      const take = Math.min(n - filled, this.#pending.byteLength);
      out.set(this.#pending.subarray(0, take), filled);
      this.#pending = this.#pending.subarray(take);
      filled += take;
    }
    return out;
  }
}

async function hashStream(stream: ReadableStream<Uint8Array>): Promise<string> {
  const hasher = sha256.create();
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hasher.update(value);
  }
  return bytesToHex(hasher.digest());
}
