import { pathToFileURL } from "node:url";

/** What a processor is told about the file it checks. */
export interface ProcessorFile {
  id: string;
  filename: string;
  declaredType: string;
  contentType: string;
  size: number;
  sha256: string | null;
  metadata: Record<string, string>;
}

export interface ProcessorContext {
  file: ProcessorFile;
  /** Streams the file's bytes from staging. Call it only if the bytes are needed. */
  read(): Promise<ReadableStream<Uint8Array>>;
  signal: AbortSignal;
}

/** Return `{ reject: "why" }` to reject the file. Throwing counts as a failure and is retried. */
export type ProcessorResult = void | undefined | { reject: string };

export interface Processor {
  name: string;
  run(context: ProcessorContext): ProcessorResult | Promise<ProcessorResult>;
}

type ProcessorFunction = Processor["run"];

/**
 * Loads the modules named in SLUICE_PROCESSORS. Each exports a function as its default
 * export (or as `process`), e.g. `export default async ({ file }) => file.size > 10 ? { reject: "too big" } : undefined`.
 */
export async function loadProcessors(modulePaths: readonly string[]): Promise<Processor[]> {
  const processors: Processor[] = [];
  for (const modulePath of modulePaths) {
    const mod = (await import(pathToFileURL(modulePath).href)) as { default?: unknown; process?: unknown };
    const run = typeof mod.default === "function" ? mod.default : typeof mod.process === "function" ? mod.process : undefined;
    if (!run) throw new Error(`Processor ${modulePath} exports no function (default or process).`);
    processors.push({ name: modulePath.split(/[/\\]/).pop() ?? modulePath, run: run as ProcessorFunction });
  }
  return processors;
}

export function isRejection(result: ProcessorResult): result is { reject: string } {
  return typeof result === "object" && result !== null && typeof (result as { reject?: unknown }).reject === "string";
}
