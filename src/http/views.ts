import { fileIdOf } from "../domain/files.js";
import type { UploadStatus } from "../domain/upload-status.js";
import type { UploadRecord } from "../metadata/metadata-store.js";

const iso = (ms: number) => new Date(ms).toISOString();

export function uploadView(u: UploadStatus) {
  return {
    id: u.id,
    state: u.state,
    key: u.key,
    ...(u.reason !== null && { reason: u.reason }),
    ...(u.arrived && { fileId: fileIdOf(u.id) }),
    expiresAt: iso(u.expiresAt),
    createdAt: iso(u.createdAt),
    ...(u.multipart && !u.arrived && { multipart: u.multipart }),
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
