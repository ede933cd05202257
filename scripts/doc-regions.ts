/**
 * Generated regions of the docs: the text between `<!-- name:start -->` and `<!-- name:end -->`
 * in a Markdown file is rewritten from the code, and a test fails when a file differs from it.
 * A new generated table is one entry in `generatedRegions`.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { configurationReference } from "./config-reference.js";
import { errorReference } from "./error-reference.js";
import { replaceRegion } from "./markdown.js";

export interface GeneratedRegion {
  /** Relative to the repository's root. */
  file: string;
  /** The markers' name: `<!-- name:start -->` … `<!-- name:end -->`. */
  name: string;
  render: () => string;
}

export const generatedRegions: GeneratedRegion[] = [
  { file: "docs/configuration.md", name: "config", render: configurationReference },
  { file: "docs/errors.md", name: "errors", render: errorReference },
];

export interface RegeneratedFile {
  file: string;
  current: string;
  generated: string;
}

/** Each file with a generated region, as it is and as the code would write it. */
export async function regenerateDocs(root: string): Promise<RegeneratedFile[]> {
  const files = new Map<string, RegeneratedFile>();
  for (const region of generatedRegions) {
    const entry = files.get(region.file) ?? (await read(root, region.file));
    entry.generated = replaceRegion(entry.generated, region.name, region.render());
    files.set(region.file, entry);
  }
  return [...files.values()];
}

async function read(root: string, file: string): Promise<RegeneratedFile> {
  const current = await fs.readFile(path.join(root, file), "utf8");
  return { file, current, generated: current };
}
