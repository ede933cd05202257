/**
 * The object-store port. Every backend (the filesystem for zero setup, S3-compatible
 * stores at scale) implements this interface and passes `object-store.conformance.ts`.
 */
import type { CopyProgress } from "../metadata/metadata-store.js";

export interface ObjectRef {
  bucket: string;
  key: string;
}

export interface ObjectInfo {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
  /** Hex SHA-256 that storage itself verified on upload (S3's `x-amz-checksum-sha256`), when it did. */
  checksumSha256?: string;
}

export interface PutObjectOptions extends ObjectRef {
  body: ReadableStream<Uint8Array>;
  contentType: string;
  /**
   * The body's exact length. S3 needs it to stream a body without buffering it, and every
   * store refuses a body of any other length (nothing is stored).
   */
  contentLength: number;
  /** Refuse to overwrite an existing object (the `If-None-Match: *` precondition). */
  ifNoneMatch?: boolean;
  signal?: AbortSignal;
}

export interface ReadObjectOptions extends ObjectRef {
  /** Inclusive byte range, as in HTTP `Range: bytes=start-end`. */
  range?: { start: number; end: number };
  /** Read only the object that has this ETag (as `head` gave it): ObjectChangedError if the key now holds another. */
  ifMatch?: string;
}

export interface CopyObjectOptions {
  source: ObjectRef;
  target: ObjectRef;
  /** Copy only the source object that has this ETag: ObjectChangedError (nothing written) if the key now holds another. */
  ifMatch?: string;
  /**
   * A copy that may take longer than one run (a multipart server-side copy of a large object):
   * it goes on from `progress`, records its progress through `save`, and stops starting parts
   * before `deadline` (CopyPausedError). A store that copies in one step ignores it.
   */
  resumable?: ResumableCopy | undefined;
}

/** How a copy that outlives one run is carried on from one run to the next (`domain/pipeline.ts`). */
export interface ResumableCopy {
  /** What an earlier run recorded, or null to begin. */
  progress: CopyProgress | null;
  /**
   * When the run's time is spent (epoch ms, `Date.now()`'s clock), or undefined: no limit. No
   * part starts after it, nor one that would not finish by it at the pace of this run's slowest
   * part so far; the parts in flight finish and are recorded.
   */
  deadline: number | undefined;
  /**
   * Records the progress (null: no copy under way, its multipart upload aborted). Rejects when
   * it cannot be recorded (the job's lease was lost): the copy then stops and leaves its
   * multipart upload to whoever holds the job now.
   */
  save(progress: CopyProgress | null): Promise<void>;
}

/** A resumable copy stopped at its run's deadline; `progress` (saved) says where the next run goes on. */
export class CopyPausedError extends Error {
  constructor(readonly progress: CopyProgress) {
    super(`Copied ${progress.parts.length} parts of ${Math.ceil(progress.size / progress.partSize)}; the rest is for the next run.`);
    this.name = "CopyPausedError";
  }
}

/** S3's limits on a multipart copy: parts of 5 MiB to 5 GiB. */
export const MIN_COPY_PART = 5 * 1024 ** 2;
export const MAX_COPY_PART = 5 * 1024 ** 3;
/** Parts a copy aims to stay under, so that its progress (a part number and ETag each) stays a few tens of KB. */
const COPY_PARTS_TARGET = 1000;

/**
 * The part size of a multipart copy of `size` bytes: at least `configured` and S3's minimum,
 * and large enough for at most about 1,000 parts (up to S3's 5 GiB part; 5 TiB: 1,024 parts).
 */
export function copyPartSize(size: number, configured: number): number {
  return Math.min(MAX_COPY_PART, Math.max(MIN_COPY_PART, configured, Math.ceil(size / COPY_PARTS_TARGET)));
}

export interface ListObjectsOptions {
  bucket: string;
  prefix?: string;
  /** Return keys strictly after this one (a cursor). */
  startAfter?: string;
  limit?: number;
}

export interface ObjectPage {
  objects: ObjectInfo[];
  /** Pass as `startAfter` to get the next page; absent on the last page. */
  next?: string;
}

export interface ObjectStore {
  /** Readable name for logs and `/readyz`. */
  readonly name: string;
  /** Creates what the store needs (buckets, directories). Idempotent. */
  prepare(buckets: string[]): Promise<void>;
  /**
   * Stores a body. The object appears whole or not at all: a body stream that errors
   * leaves nothing behind. Throws ObjectExistsError when `ifNoneMatch` is set and the key exists.
   */
  put(options: PutObjectOptions): Promise<ObjectInfo>;
  head(ref: ObjectRef): Promise<ObjectInfo | undefined>;
  /** Throws ObjectNotFoundError when the object does not exist. */
  read(options: ReadObjectOptions): Promise<ReadableStream<Uint8Array>>;
  /** Server-side copy; overwrites the target. */
  copy(options: CopyObjectOptions): Promise<ObjectInfo>;
  /** Idempotent: deleting a missing object succeeds. */
  delete(ref: ObjectRef): Promise<void>;
  list(options: ListObjectsOptions): Promise<ObjectPage>;
  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
  /** Uploads in parts (S3's multipart upload), for files too large or too slow for one request. */
  readonly multipart: MultipartStore;
  /**
   * Whether `put`'s ETag has S3's meaning for a single PUT: the quoted hex MD5 of the bytes
   * (S3 and its kin: yes; the filesystem, whose ETags name the file, not its bytes: no, and
   * the gateway hashes the bytes itself). Parts always do (`MultipartStore.putPart`).
   */
  readonly etagIsMd5: boolean;
  /**
   * Files that grow by appends, where the store has them (the filesystem; S3 has none): a tus
   * upload's bytes go into one file, made the object at the end without a copy.
   */
  readonly append?: AppendStore | undefined;
}

/**
 * An append file is an object that grows in place until `seal` makes it another object (it is
 * listed, read, headed and deleted like any object). Its size is how many bytes it holds: an
 * absent one holds none. One writer at a time (the caller holds a claim).
 */
export interface AppendStore {
  /**
   * Writes the body after the first `offset` bytes of the file (created when absent): bytes
   * past `offset` (a failed write left them) are cut off first, and ObjectChangedError (nothing
   * written) when the file holds fewer than `offset`. The body streams to the file, never held
   * in memory. `check` runs after the body's end; when the body or `check` throws, the file is
   * cut back to `offset`. Returns the file's new size.
   */
  append(options: ObjectRef & { offset: number; body: ReadableStream<Uint8Array>; check?: (() => void) | undefined; signal?: AbortSignal | undefined }): Promise<number>;
  /**
   * Makes the append file `source` the object `target`, without a copy; the append file is gone
   * after. The target is written once: ObjectExistsError when another object is there already
   * (a second call after a success finds its own object there and succeeds);
   * ObjectNotFoundError when neither the append file nor the target exists.
   */
  seal(source: ObjectRef, target: ObjectRef): Promise<ObjectInfo>;
}

/** A part stored in a multipart upload. */
export interface PartInfo {
  partNumber: number;
  etag: string;
  size: number;
}

export interface MultipartUploadInfo {
  key: string;
  uploadId: string;
  initiated: Date;
}

/**
 * Multipart uploads, as S3 has them: parts are stored one by one (in any order, any number
 * of times: the last write of a part wins), then assembled into one object. Until then no
 * object exists under the key.
 */
export interface MultipartStore {
  /** Starts an upload; returns its id. */
  create(ref: ObjectRef, options: { contentType: string }): Promise<string>;
  /**
   * Stores one part. The body must be exactly `contentLength` bytes, or nothing is stored. Its
   * ETag has S3's meaning, the quoted hex MD5 of the part's bytes, which the gateway passes on.
   */
  putPart(options: ObjectRef & { uploadId: string; partNumber: number; body: ReadableStream<Uint8Array>; contentLength: number; signal?: AbortSignal }): Promise<{ etag: string }>;
  /** The parts stored so far, by part number. Throws MultipartNotFoundError for an unknown (completed, aborted) upload. */
  listParts(ref: ObjectRef, uploadId: string): Promise<PartInfo[]>;
  /**
   * Assembles the parts into the object. Throws InvalidPartsError when a named part is missing
   * or its ETag differs (the upload stays open), MultipartNotFoundError for an unknown upload.
   */
  complete(ref: ObjectRef, uploadId: string, parts: readonly { partNumber: number; etag: string }[]): Promise<void>;
  /** Discards the upload and its parts. Idempotent. */
  abort(ref: ObjectRef, uploadId: string): Promise<void>;
  /** Uploads begun and neither completed nor aborted. */
  listUploads(bucket: string): Promise<MultipartUploadInfo[]>;
}

export class MultipartNotFoundError extends Error {
  constructor(uploadId: string) {
    super(`Multipart upload ${uploadId} does not exist (completed or aborted).`);
    this.name = "MultipartNotFoundError";
  }
}

export class InvalidPartsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidPartsError";
  }
}

export class ObjectExistsError extends Error {
  constructor(ref: ObjectRef) {
    super(`Object ${ref.bucket}/${ref.key} already exists.`);
    this.name = "ObjectExistsError";
  }
}

/** The key holds another object than the one named by `ifMatch`: it was replaced since it was read. */
export class ObjectChangedError extends Error {
  constructor(ref: ObjectRef) {
    super(`Object ${ref.bucket}/${ref.key} was replaced since it was checked.`);
    this.name = "ObjectChangedError";
  }
}

/**
 * Whether a key is one every store can hold without ambiguity: 1 to 1024 characters, and no
 * segment that is empty, `.` or `..`, or that holds a backslash or a control character. S3
 * takes such keys, but a filesystem resolves them outside the bucket and a URL path
 * normalises them into another key; Sluice never issues one, so any such key is foreign.
 */
export function isSafeObjectKey(key: string): boolean {
  if (key.length === 0 || key.length > 1024) return false;
  // eslint-disable-next-line no-control-regex -- control characters are what makes a key unsafe
  return key.split("/").every((s) => s !== "" && s !== "." && s !== ".." && !/[\\\0-\x1f\x7f]/.test(s));
}

/** A key `isSafeObjectKey` refuses: bad input, never a store that is down. */
export class UnsafeObjectKeyError extends Error {
  constructor(key: string) {
    super(`Unsafe object key: ${JSON.stringify(key.slice(0, 200))}`);
    this.name = "UnsafeObjectKeyError";
  }
}

export class ObjectNotFoundError extends Error {
  constructor(ref: ObjectRef) {
    super(`Object ${ref.bucket}/${ref.key} does not exist.`);
    this.name = "ObjectNotFoundError";
  }
}

/** Iterates every object in a bucket, page by page. */
export async function* listAll(store: ObjectStore, options: Omit<ListObjectsOptions, "startAfter">) {
  let startAfter: string | undefined;
  do {
    const page = await store.list({ ...options, ...(startAfter !== undefined && { startAfter }) });
    yield* page.objects;
    startAfter = page.next;
  } while (startAfter !== undefined);
}

export class LengthMismatchError extends Error {
  constructor(declared: number, actual: string) {
    super(`The body was ${actual} bytes, not the ${declared} declared.`);
    this.name = "LengthMismatchError";
  }
}

/**
 * Passes exactly `length` bytes: it errors at the first byte too many (before it is sent on)
 * and at the end if there were too few. Stores put every body through it, so that a wrong
 * length can never reach storage as a truncated or padded object.
 */
export function exactLength(length: number): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > length) controller.error(new LengthMismatchError(length, `more than ${length}`));
      else controller.enqueue(chunk);
    },
    flush(controller) {
      if (seen < length) controller.error(new LengthMismatchError(length, String(seen)));
    },
  });
}
