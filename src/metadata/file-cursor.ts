import type { UploadRecord } from "./metadata-store.js";

/**
 * `listFiles`' page cursor, the same in every store: the last item's (createdAt, id), newest
 * first. Opaque to clients; one that does not decode reads as no cursor's position.
 */
export function encodeFileCursor(r: UploadRecord): string {
  return Buffer.from(JSON.stringify([r.createdAt, r.id])).toString("base64url");
}

export function decodeFileCursor(cursor: string): { createdAt: number; id: string } | undefined {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, "base64url").toString()) as [unknown, unknown];
    return typeof createdAt === "number" && typeof id === "string" ? { createdAt, id } : undefined;
  } catch {
    return undefined;
  }
}
