import { createHash } from "node:crypto";
import { constants, createReadStream, createWriteStream, type Dirent, type Stats } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { StorageFullError } from "../errors.js";
import { newId } from "../internal/crypto.js";
import {
  InvalidPartsError,
  MultipartNotFoundError,
  ObjectChangedError,
  ObjectExistsError,
  ObjectNotFoundError,
  UnsafeObjectKeyError,
  exactLength,
  isSafeObjectKey,
  type AppendStore,
  type MultipartStore,
  type MultipartUploadInfo,
  type PartInfo,
  type ListObjectsOptions,
  type CopyObjectOptions,
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
  /** A file's ETag names the file (inode, size, time), cheap to check on every read; see FsMultipart for parts. */
  readonly etagIsMd5 = false;
  readonly name = "filesystem object store";
  readonly #root: string;
  readonly #tmp: string;
  readonly #minFreeBytes: number;
  readonly multipart: MultipartStore;
  /** Append files are plain files under their key: written in place, then hard-linked to the target (once). */
  readonly append: AppendStore = {
    append: (options) => this.#append(options),
    seal: (source, target) => this.#seal(source, target),
  };

  /** `minFreeBytes`: below this much free space under `root`, `ping` fails (so `/readyz` says so). */
  constructor(options: { root: string; minFreeBytes?: number }) {
    this.#root = path.resolve(options.root);
    this.#minFreeBytes = options.minFreeBytes ?? 0;
    this.#tmp = path.join(this.#root, ".tmp");
    this.multipart = new FsMultipart({
      dir: path.join(this.#root, ".multipart"),
      tmp: this.#tmp,
      writeTemp: (options) => this.#writeTemp(options),
      pathOf: (ref) => this.#path(ref),
    });
  }

  async prepare(buckets: string[]): Promise<void> {
    await fs.mkdir(this.#tmp, { recursive: true });
    await fs.mkdir(path.join(this.#root, ".multipart"), { recursive: true });
    for (const bucket of buckets) await fs.mkdir(this.#bucketDir(bucket), { recursive: true });
    // Temporary files are only ever in use by a live put; any left at start are from a crash.
    for (const name of await fs.readdir(this.#tmp)) await fs.rm(path.join(this.#tmp, name), { force: true });
  }

  /** Streams a body, held to its length, into a new temporary file; the caller renames or removes it. */
  async #writeTemp(options: { body: ReadableStream<Uint8Array>; contentLength: number; signal?: AbortSignal | undefined }): Promise<string> {
    const tmp = path.join(this.#tmp, newId("put"));
    try {
      await pipeline(
        Readable.fromWeb(options.body.pipeThrough(exactLength(options.contentLength)) as NodeReadableStream<Uint8Array>),
        createWriteStream(tmp, { flags: "wx" }),
        ...(options.signal ? [{ signal: options.signal }] : []),
      );
      return tmp;
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw asStorageFull(err);
    }
  }

  async put(options: PutObjectOptions): Promise<ObjectInfo> {
    const target = this.#path(options);
    const tmp = await this.#writeTemp(options);
    try {
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

  async #append(options: Parameters<AppendStore["append"]>[0]): Promise<number> {
    const file = this.#path(options);
    await fs.mkdir(path.dirname(file), { recursive: true });
    // Opened without truncating, created when absent; the stream's writes go where `start` says (pwrite).
    const handle = await fs.open(file, constants.O_RDWR | constants.O_CREAT);
    try {
      const size = (await handle.stat()).size;
      if (size < options.offset) throw new ObjectChangedError(options);
      if (size > options.offset) await handle.truncate(options.offset);
      try {
        await pipeline(
          Readable.fromWeb(options.body as NodeReadableStream<Uint8Array>),
          createWriteStream(file, { flags: "r+", start: options.offset }),
          ...(options.signal ? [{ signal: options.signal }] : []),
        );
        options.check?.();
      } catch (err) {
        await handle.truncate(options.offset);
        throw asStorageFull(err);
      }
      return (await handle.stat()).size;
    } finally {
      await handle.close();
    }
  }

  async #seal(source: ObjectRef, target: ObjectRef): Promise<ObjectInfo> {
    const from = this.#path(source);
    const to = this.#path(target);
    await fs.mkdir(path.dirname(to), { recursive: true });
    try {
      // link() fails with EEXIST instead of replacing: the target is written once, as put's ifNoneMatch.
      await fs.link(from, to);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") {
        const [a, b] = await Promise.all([fs.stat(from).catch(() => undefined), fs.stat(to)]);
        // Linked before, and the source not yet removed (a crash in between): the same file.
        if (!a || a.ino !== b.ino || a.dev !== b.dev) throw new ObjectExistsError(target);
      } else if (isMissing(err)) {
        // Sealed before: the source is gone and the target is the file it was.
        const info = await this.head(target);
        if (info) return info;
        throw new ObjectNotFoundError(source);
      } else throw asStorageFull(err);
    }
    await fs.rm(from, { force: true });
    return this.#info(target.key, await fs.stat(to));
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
    // The open file is the object from now on, whatever is renamed over its key meanwhile.
    if (options.ifMatch !== undefined && !sameEtag(etagOf(await handle.stat()), options.ifMatch)) {
      await handle.close();
      throw new ObjectChangedError(options);
    }
    const stream = createReadStream("", {
      fd: handle,
      ...(options.range && { start: options.range.start, end: options.range.end }),
    });
    return Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>;
  }

  async copy({ source, target, ifMatch }: CopyObjectOptions): Promise<ObjectInfo> {
    const to = this.#path(target);
    const from = this.#path(source);
    const tmp = path.join(this.#tmp, newId("copy"));
    const pinned = async (file: string) => {
      const stat = await fs.stat(file).catch((err: unknown) => {
        throw isMissing(err) ? new ObjectNotFoundError(source) : err;
      });
      if (ifMatch !== undefined && !sameEtag(etagOf(stat), ifMatch)) throw new ObjectChangedError(source);
    };
    try {
      // Objects are never changed in place (a put writes a new file and renames it over the
      // key), so a hard link is a true copy, made without reading or writing the bytes, and it
      // is the very object that was checked if its ETag (inode, size, mtime) is the one pinned.
      // Where links cannot be made (another device, a filesystem without them), the bytes are
      // copied, and the key must hold the pinned object before and after.
      const linked = await fs.link(from, tmp).then(
        () => true,
        (err: unknown) => {
          if (isMissing(err)) throw new ObjectNotFoundError(source);
          return false;
        },
      );
      if (linked) await pinned(tmp);
      else {
        await pinned(from);
        await fs.copyFile(from, tmp, constants.COPYFILE_FICLONE).catch((err: unknown) => {
          throw isMissing(err) ? new ObjectNotFoundError(source) : asStorageFull(err);
        });
        await pinned(from);
      }
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

  /** Fails when the directory cannot be written, or its filesystem has less free space than the minimum. */
  async ping(): Promise<void> {
    await fs.access(this.#root, constants.R_OK | constants.W_OK);
    const { bavail, bsize } = await fs.statfs(this.#root);
    const free = bavail * bsize;
    if (free < this.#minFreeBytes) throw new Error(`${free} bytes free under ${this.#root}, under the minimum of ${this.#minFreeBytes} (SLUICE_MIN_FREE_DISK)`);
  }

  #bucketDir(bucket: string): string {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new Error(`Invalid bucket name: ${bucket}`);
    return path.join(this.#root, bucket);
  }

  /** Maps a key to a path, refusing anything that could leave the bucket's directory. */
  #path(ref: ObjectRef): string {
    if (!isSafeObjectKey(ref.key)) throw new UnsafeObjectKeyError(ref.key);
    return path.join(this.#bucketDir(ref.bucket), ...ref.key.split("/"));
  }

  #info(key: string, stat: Stats): ObjectInfo {
    return {
      key,
      size: stat.size,
      etag: etagOf(stat),
      lastModified: stat.mtime,
    };
  }
}

/** What the filesystem keeps about a multipart upload, beside its parts. */
interface UploadManifest {
  bucket: string;
  key: string;
  contentType: string;
  initiated: string;
}

/**
 * Multipart uploads on the filesystem: `.multipart/<upload id>/` holds `upload.json` and one
 * file per part, named by its number and the MD5 of its bytes (`00001.<md5 hex>`), which is
 * its ETag, as on S3 (hashed while it is written). A part is written to a temporary file and
 * renamed into place, so a part is whole or absent, and writing it again replaces it (other
 * bytes, another ETag). Completing takes each part by the ETag named, so a replaced part's ETag
 * no longer completes. Two writes of one part with different bytes at the same moment may
 * remove each other; completing then says the part is missing, and the client sends it again. Completing streams the parts, in order, into one temporary file that is renamed to
 * the key: nothing is held in memory, and the object appears whole or not at all.
 */
class FsMultipart implements MultipartStore {
  readonly #dir: string;
  readonly #tmp: string;
  readonly #writeTemp: (options: { body: ReadableStream<Uint8Array>; contentLength: number; signal?: AbortSignal | undefined }) => Promise<string>;
  readonly #pathOf: (ref: ObjectRef) => string;

  constructor(options: {
    dir: string;
    tmp: string;
    writeTemp: (options: { body: ReadableStream<Uint8Array>; contentLength: number; signal?: AbortSignal | undefined }) => Promise<string>;
    pathOf: (ref: ObjectRef) => string;
  }) {
    this.#dir = options.dir;
    this.#tmp = options.tmp;
    this.#writeTemp = options.writeTemp;
    this.#pathOf = options.pathOf;
  }

  async create(ref: ObjectRef, options: { contentType: string }): Promise<string> {
    this.#pathOf(ref); // refuse an unsafe key now, not at completion
    const uploadId = newId("mpu");
    const manifest: UploadManifest = { bucket: ref.bucket, key: ref.key, contentType: options.contentType, initiated: new Date().toISOString() };
    await fs.mkdir(this.#uploadDir(uploadId), { recursive: true });
    await fs.writeFile(path.join(this.#uploadDir(uploadId), "upload.json"), JSON.stringify(manifest)).catch((err: unknown) => {
      throw asStorageFull(err);
    });
    return uploadId;
  }

  async putPart(options: ObjectRef & { uploadId: string; partNumber: number; body: ReadableStream<Uint8Array>; contentLength: number; signal?: AbortSignal }): Promise<{ etag: string }> {
    await this.#manifest(options, options.uploadId);
    const number = this.#partPath(options.uploadId, options.partNumber);
    const md5 = createHash("md5");
    const hashed = options.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          md5.update(chunk);
          controller.enqueue(chunk);
        },
      }),
    );
    const tmp = await this.#writeTemp({ ...options, body: hashed });
    const digest = md5.digest("hex");
    const part = `${number}.${digest}`;
    try {
      await fs.rename(tmp, part);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      // Aborted or completed while this part was being written.
      throw isMissing(err) ? new MultipartNotFoundError(options.uploadId) : err;
    }
    // The last write of a part wins: earlier bytes of the same part go.
    const name = path.basename(number);
    for (const other of await fs.readdir(path.dirname(number)).catch(() => [])) {
      if (other.startsWith(`${name}.`) && other !== path.basename(part)) await fs.rm(path.join(path.dirname(number), other), { force: true });
    }
    return { etag: `"${digest}"` };
  }

  async listParts(ref: ObjectRef, uploadId: string): Promise<PartInfo[]> {
    await this.#manifest(ref, uploadId);
    const newest = new Map<number, PartInfo & { mtimeMs: number }>();
    for (const name of await fs.readdir(this.#uploadDir(uploadId))) {
      const match = /^(\d{5})\.([0-9a-f]{32})$/.exec(name);
      if (!match) continue;
      const stat = await fs.stat(path.join(this.#uploadDir(uploadId), name)).catch(() => undefined);
      const partNumber = Number(match[1]);
      const seen = newest.get(partNumber);
      if (stat && (!seen || stat.mtimeMs > seen.mtimeMs)) newest.set(partNumber, { partNumber, etag: `"${match[2]}"`, size: stat.size, mtimeMs: stat.mtimeMs });
    }
    return [...newest.values()].map(({ partNumber, etag, size }) => ({ partNumber, etag, size })).sort((a, b) => a.partNumber - b.partNumber);
  }

  async complete(ref: ObjectRef, uploadId: string, parts: readonly { partNumber: number; etag: string }[]): Promise<void> {
    await this.#manifest(ref, uploadId);
    if (parts.length === 0) throw new InvalidPartsError("At least one part is needed.");
    const files: string[] = [];
    let previous = 0;
    for (const { partNumber, etag } of parts) {
      if (partNumber <= previous) throw new InvalidPartsError("Parts must be listed in ascending order of part number, each once.");
      previous = partNumber;
      const number = this.#partPath(uploadId, partNumber);
      const md5 = unquote(etag);
      if (!/^[0-9a-f]{32}$/.test(md5)) throw new InvalidPartsError(`Part ${partNumber}'s ETag does not match the stored part.`);
      const file = `${number}.${md5}`;
      const stat = await fs.stat(file).catch(() => undefined);
      if (!stat) {
        const stored = await fs.readdir(path.dirname(number)).catch(() => []);
        throw new InvalidPartsError(stored.some((n) => n.startsWith(`${path.basename(number)}.`)) ? `Part ${partNumber}'s ETag does not match the stored part.` : `Part ${partNumber} has not been uploaded.`);
      }
      files.push(file);
    }
    const tmp = path.join(this.#tmp, newId("mpc"));
    try {
      const out = createWriteStream(tmp, { flags: "wx" });
      try {
        for (const file of files) await pipeline(createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }), out, { end: false });
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      } catch (err) {
        out.destroy();
        throw asStorageFull(err);
      }
      const target = this.#pathOf(ref);
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.rename(tmp, target);
    } finally {
      await fs.rm(tmp, { force: true });
    }
    await fs.rm(this.#uploadDir(uploadId), { recursive: true, force: true });
  }

  async abort(_ref: ObjectRef, uploadId: string): Promise<void> {
    await fs.rm(this.#uploadDir(uploadId), { recursive: true, force: true });
  }

  async listUploads(bucket: string): Promise<MultipartUploadInfo[]> {
    const uploads: MultipartUploadInfo[] = [];
    let names: string[];
    try {
      names = await fs.readdir(this.#dir);
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
    for (const uploadId of names) {
      const manifest = await this.#readManifest(uploadId);
      if (manifest?.bucket === bucket) uploads.push({ key: manifest.key, uploadId, initiated: new Date(manifest.initiated) });
    }
    return uploads.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  #uploadDir(uploadId: string): string {
    if (!/^mpu_[A-Za-z0-9_-]{1,64}$/.test(uploadId)) throw new MultipartNotFoundError(uploadId);
    return path.join(this.#dir, uploadId);
  }

  #partPath(uploadId: string, partNumber: number): string {
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) throw new InvalidPartsError(`Part numbers run from 1 to 10,000, not ${partNumber}.`);
    return path.join(this.#uploadDir(uploadId), String(partNumber).padStart(5, "0"));
  }

  async #readManifest(uploadId: string): Promise<UploadManifest | undefined> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.#uploadDir(uploadId), "upload.json"), "utf8")) as UploadManifest;
    } catch (err) {
      if (isMissing(err) || err instanceof MultipartNotFoundError) return undefined;
      throw err;
    }
  }

  /** The upload's manifest; throws MultipartNotFoundError unless it exists for this very object. */
  async #manifest(ref: ObjectRef, uploadId: string): Promise<UploadManifest> {
    const manifest = await this.#readManifest(uploadId);
    if (!manifest || manifest.bucket !== ref.bucket || manifest.key !== ref.key) throw new MultipartNotFoundError(uploadId);
    return manifest;
  }
}

const unquote = (etag: string) => etag.replace(/^"|"$/g, "");
const sameEtag = (a: string, b: string) => unquote(a) === unquote(b);

function etagOf(stat: Stats): string {
  return `"${stat.ino.toString(16)}-${stat.size.toString(16)}-${Math.trunc(stat.mtimeMs).toString(16)}"`;
}

/** A write that failed for want of space (or of quota) is StorageFullError; anything else stays as it is. */
function asStorageFull(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT" ? new StorageFullError(err) : err;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
