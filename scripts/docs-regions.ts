/**
 * The parts of the docs that are made from code, so that they cannot drift from it. A file
 * holds a generated region between `<!-- NAME:start -->` and `<!-- NAME:end -->`; `npm run
 * docs` rewrites every such region in README.md and docs/, and test/docs.test.ts fails while
 * one differs from what the code makes. A region may sit in any of those files, and move
 * between them, without a change here.
 */
import fs from "node:fs";
import path from "node:path";
import { ERROR_CODES, type ErrorCode } from "../src/errors/codes.js";

/** Every error code, its status and its meaning, from the registry in src/errors/codes.ts. */
export function errorTable(): string {
  const entries = (Object.entries(ERROR_CODES) as [ErrorCode, (typeof ERROR_CODES)[ErrorCode]][]).sort(([, a], [, b]) => a.status - b.status);
  const rows = entries.map(([code, entry]) => {
    const statuses = [entry.status, ...("alsoStatus" in entry ? entry.alsoStatus : [])].join(", ");
    return `| ${statuses} | \`${code}\` | ${entry.meaning.replace(/\|/g, "\\|")} |`;
  });
  return ["| Status | Code | Meaning |", "|---|---|---|", ...rows].join("\n");
}

/** Region name → what it holds. */
export const GENERATED_REGIONS: Record<string, () => string> = {
  errors: errorTable,
};

const REGION = /(<!-- ([a-z][a-z0-9-]*):start -->\n)([\s\S]*?)(<!-- \2:end -->)/g;

/**
 * The text with every region named in GENERATED_REGIONS made anew. Other regions are left as
 * they are: their writers are elsewhere (`bench:` is written by `npm run bench`, from
 * measurements).
 */
export function regenerate(text: string): string {
  return text.replace(REGION, (all: string, start: string, name: string, _old: string, end: string) => {
    const render = GENERATED_REGIONS[name];
    return render ? `${start}${render()}\n${end}` : all;
  });
}

/** README.md and every Markdown file under docs/, relative to the repository root. */
export function markdownFiles(root: string): string[] {
  const docs = path.join(root, "docs");
  const under = fs.existsSync(docs) ? (fs.readdirSync(docs, { recursive: true, encoding: "utf8" })).filter((f) => f.endsWith(".md")).map((f) => path.join("docs", f)) : [];
  return ["README.md", ...under.sort()];
}
