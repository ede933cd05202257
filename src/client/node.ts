/**
 * The client for Node: the same as `./index.js`, and it also takes a file path (read from disk
 * as it is sent, through `fs.openAsBlob`: memory stays flat whatever the file's size) or a
 * Node stream of known size.
 */
import { openAsBlob } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { SluiceClient, type UploadOptions, type UploadResult, type UploadSource } from "./index.js";

export * from "./index.js";

export type NodeUploadSource = UploadSource | string | { name: string; type: string; size: number; stream: Readable };

export class SluiceNodeClient extends SluiceClient {
  override async upload(source: NodeUploadSource, options: UploadOptions = {}): Promise<UploadResult> {
    if (typeof source === "string") {
      const { blob, name } = await fileSource(source, options.contentType);
      return super.upload(blob, { filename: name, ...options });
    }
    return super.upload(toSource(source), options);
  }
}

/** A file on disk as an upload source: a Blob read lazily, named after the file. */
export async function fileSource(file: string, type = "application/octet-stream"): Promise<{ blob: Blob; name: string }> {
  return { blob: await openAsBlob(file, { type }), name: path.basename(file) };
}

function toSource(source: Exclude<NodeUploadSource, string>): UploadSource {
  if (!(source instanceof Blob) && "stream" in source && source.stream instanceof Readable) {
    return { name: source.name, type: source.type, size: source.size, stream: Readable.toWeb(source.stream) as ReadableStream<Uint8Array> };
  }
  return source as UploadSource;
}
