/** The continuation queue's message (`SLUICE_CONTINUE_QUEUE`): which job to carry on. Read by `index.continue`, written by the functions that process. */
import { isUploadId } from "../../domain/upload-keys.js";

export interface ContinueMessage {
  sluice: "continue";
  uploadId: string;
}

export const continueMessage = (uploadId: string): ContinueMessage => ({ sluice: "continue", uploadId });

/** The upload id a message body names, or undefined when the body is not a continuation. */
export function uploadIdToContinue(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { sluice, uploadId } = parsed as Record<string, unknown>;
  return sluice === "continue" && typeof uploadId === "string" && isUploadId(uploadId) ? uploadId : undefined;
}
