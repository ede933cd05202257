import { once } from "../internal/async.js";
import type { MultipartStore, ObjectStore } from "./object-store.js";

/**
 * An object store whose code is loaded on first use. The S3 store carries the SDK's S3
 * client, the largest thing a Lambda issuer would otherwise load at a cold start, though
 * issuing a presigned PUT never calls it (the presigner signs on its own). The first call
 * starts the load and every call waits for it (after it, a promise already settled: one
 * microtask, beside a network round trip). A load that fails is tried again on the next call
 * rather than remembered.
 */
export function deferredObjectStore(name: string, load: () => Promise<ObjectStore>, options: { etagIsMd5: boolean } = { etagIsMd5: true }): ObjectStore {
  const store = once(load);
  const multipart: MultipartStore = {
    create: (ref, options) => store().then((s) => s.multipart.create(ref, options)),
    putPart: (options) => store().then((s) => s.multipart.putPart(options)),
    listParts: (ref, uploadId) => store().then((s) => s.multipart.listParts(ref, uploadId)),
    complete: (ref, uploadId, parts) => store().then((s) => s.multipart.complete(ref, uploadId, parts)),
    abort: (ref, uploadId) => store().then((s) => s.multipart.abort(ref, uploadId)),
    listUploads: (bucket) => store().then((s) => s.multipart.listUploads(bucket)),
  };
  return {
    name,
    multipart,
    // Known before the store is loaded: the gateway asks before its first byte.
    etagIsMd5: options.etagIsMd5,
    prepare: (buckets) => store().then((s) => s.prepare(buckets)),
    put: (options) => store().then((s) => s.put(options)),
    head: (ref) => store().then((s) => s.head(ref)),
    read: (options) => store().then((s) => s.read(options)),
    copy: (options) => store().then((s) => s.copy(options)),
    delete: (ref) => store().then((s) => s.delete(ref)),
    list: (options) => store().then((s) => s.list(options)),
    ping: () => store().then((s) => s.ping()),
  };
}
