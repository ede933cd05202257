/** The error-code table of docs/errors.md, from the registry in src/errors/codes.ts. */
import { ERROR_CODES, type ErrorCode } from "../src/errors/codes.js";
import { markdownTable } from "./markdown.js";

/** Every error code, its status (or statuses) and its meaning, ordered by status. */
export function errorReference(): string {
  const entries = (Object.entries(ERROR_CODES) as [ErrorCode, (typeof ERROR_CODES)[ErrorCode]][]).sort(([, a], [, b]) => a.status - b.status);
  return markdownTable(
    ["Status", "Code", "Meaning"],
    entries.map(([code, entry]) => [[entry.status, ...("alsoStatus" in entry ? entry.alsoStatus : [])].join(", "), `\`${code}\``, entry.meaning]),
  );
}
