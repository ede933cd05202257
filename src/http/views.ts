import { fileIdOf } from "../domain/files.js";
import { FILE_STATES, type UploadRecord } from "../metadata/metadata-store.js";

const iso = (ms: number) => new Date(ms).toISOString();

export function uploadView(r: UploadRecord) {
  return {
    id: r.id,
    state: r.state,
    key: r.key,
    ...(r.reason !== null && { reason: r.reason }),
    ...((FILE_STATES).includes(r.state) && { fileId: fileIdOf(r.id) }),
    expiresAt: iso(r.expiresAt),
    createdAt: iso(r.createdAt),
  };
}

export function fileView(r: UploadRecord) {
  return {
    id: fileIdOf(r.id),
    uploadId: r.id,
    filename: r.filename,
    declaredContentType: r.declaredType,
    contentType: r.contentType,
    size: r.size,
    sha256: r.sha256 ?? r.receivedSha256,
    state: r.state,
    ...(r.reason !== null && { reason: r.reason }),
    metadata: r.metadata,
    createdAt: iso(r.uploadedAt ?? r.createdAt),
    archivedAt: r.archivedAt === null ? null : iso(r.archivedAt),
  };
}
