import { constants, createReadStream, createWriteStream, type Dirent, type Stats } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { newId } from "../internal/crypto.js";
import {
  ObjectExistsError,
  ObjectNotFoundError,
  exactLength,
  type ListObjectsOptions,
  type ObjectInfo,
  type ObjectPage,
  type ObjectRef,
  type ObjectStore,
  type PutObjectOptions,
  type ReadObjectOptions,
} from "./object-store.js";

/**
 * Objects as files under `root/<bucket>/<key>`. Writes go to `root/.tmp` first and are
 * renamed (or hard-linked, for If-None-Match) into place, so an object appears whole or not at all.
 */
export class FsObjectStore implements ObjectStore {
  readonly name = "filesystem object store";
  readonly #root: string;
  readonly #tmp: string;

  constructor(options: { root: string }) {
    this.#root = path.resolve(options.root);
    this.#tmp = path.join(this.#root, ".tmp");
  }

  async prepare(buckets: string[]): Promise<void> {
    await fs.mkdir(this.#tmp, { recursive: true });
    for (const bucket of buckets) await fs.mkdir(this.#bucketDir(bucket), { recursive: true });
    // Temporary files are only ever in use by a live put; any left at start are from a crash.
    for (const name of await fs.readdir(this.#tmp)) await fs.rm(path.join(this.#tmp, name), { force: true });
  }

  async put(options: PutObjectOptions): Promise<ObjectInfo> {
    const target = this.#path(options);
    const tmp = path.join(this.#tmp, newId("put"));
    try {
      await pipeline(
        Readable.fromWeb(options.body.pipeThrough(exactLength(options.contentLength)) as NodeReadableStream<Uint8Array>),
        createWriteStream(tmp, { flags: "wx" }),
        ...(options.signal ? [{ signal: options.signal }] : []),
      );
      await fs.mkdir(path.dirname(target), { recursive: true });
      if (options.ifNoneMatch) {
        // link() fails with EEXIST instead of replacing: an atomic "create only if absent".
        await fs.link(tmp, target).catch((err: NodeJS.ErrnoException) => {
          throw err.code === "EEXIST" ? new ObjectExistsError(options) : err;
        });
      } else {
        await fs.rename(tmp, target);
      }
    } finally {
      await fs.rm(tmp, { force: true });
    }
    return this.#info(options.key, await fs.stat(target));
  }

  async head(ref: ObjectRef): Promise<ObjectInfo | undefined> {
    try {
      const stat = await fs.stat(this.#path(ref));
      return stat.isFile() ? this.#info(ref.key, stat) : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async read(options: ReadObjectOptions): Promise<ReadableStream<Uint8Array>> {
    const file = this.#path(options);
    // Open first so that a missing object is reported here, not on the first read.
    const handle = await fs.open(file, "r").catch((err: unknown) => {
      throw isMissing(err) ? new ObjectNotFoundError(options) : err;
    });
    const stream = createReadStream("", {
      fd: handle,
      ...(options.range && { start: options.range.start, end: options.range.end }),
    });
    return Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>;
  }

  async copy({ source, target }: { source: ObjectRef; target: ObjectRef }): Promise<ObjectInfo> {
    const to = this.#path(target);
    const tmp = path.join(this.#tmp, newId("copy"));
    try {
      // Objects are never changed in place (a put writes a new file and renames it over the
      // key), so a hard link is a true copy, made without reading or writing the bytes. Where
      // links cannot be made (another device, a filesystem without them), the bytes are copied.
      await fs.link(this.#path(source), tmp).catch(async (err: unknown) => {
        if (isMissing(err)) throw new ObjectNotFoundError(source);
        await fs.copyFile(this.#path(source), tmp, constants.COPYFILE_FICLONE).catch((err2: unknown) => {
          throw isMissing(err2) ? new ObjectNotFoundError(source) : err2;
        });
      });
      await fs.mkdir(path.dirname(to), { recursive: true });
      await fs.rename(tmp, to);
    } finally {
      await fs.rm(tmp, { force: true });
    }
    return this.#info(target.key, await fs.stat(to));
  }

  async delete(ref: ObjectRef): Promise<void> {
    const file = this.#path(ref);
    await fs.rm(file, { force: true });
    // Remove the now-empty directories the key made, up to the bucket.
    const bucketDir = this.#bucketDir(ref.bucket);
    for (let dir = path.dirname(file); dir.startsWith(bucketDir + path.sep); dir = path.dirname(dir)) {
      try {
        await fs.rmdir(dir);
      } catch {
        break;
      }
    }
  }

  async list(options: ListObjectsOptions): Promise<ObjectPage> {
    const bucketDir = this.#bucketDir(options.bucket);
    const limit = options.limit ?? 1000;
    let entries: Dirent[];
    try {
      entries = await fs.readdir(bucketDir, { recursive: true, withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return { objects: [] };
      throw err;
    }
    const keys = entries
      .filter((e) => e.isFile())
      .map((e) => path.relative(bucketDir, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
      .filter((k) => (options.prefix === undefined || k.startsWith(options.prefix)) && (options.startAfter === undefined || k > options.startAfter))
      .sort();
    const objects: ObjectInfo[] = [];
    for (const key of keys.slice(0, limit)) {
      const info = await this.head({ bucket: options.bucket, key });
      if (info) objects.push(info); // deleted between readdir and stat: skip
    }
    const last = keys[limit - 1];
    return keys.length > limit && last !== undefined ? { objects, next: last } : { objects };
  }

  async ping(): Promise<void> {
    await fs.access(this.#root, constants.R_OK | constants.W_OK);
  }

  #bucketDir(bucket: string): string {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new Error(`Invalid bucket name: ${bucket}`);
    return path.join(this.#root, bucket);
  }

  /** Maps a key to a path, refusing anything that could leave the bucket's directory. */
  #path(ref: ObjectRef): string {
    const segments = ref.key.split("/");
    if (
      ref.key.length === 0 ||
      ref.key.length > 1024 ||
      segments.some((s) => s === "" || s === "." || s === ".." || /[\\\0]/.test(s))
    ) {
      throw new Error(`Unsafe object key: ${JSON.stringify(ref.key)}`);
    }
    return path.join(this.#bucketDir(ref.bucket), ...segments);
  }

  #info(key: string, stat: Stats): ObjectInfo {
    return {
      key,
      size: stat.size,
      etag: `"${stat.ino.toString(16)}-${stat.size.toString(16)}-${Math.trunc(stat.mtimeMs).toString(16)}"`,
      lastModified: stat.mtime,
    };
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
