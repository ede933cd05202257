/** Measuring helpers shared by the bench's sections (bench/run.ts, bench/tus.ts). */
import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function rssMiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  // A synchronous read of /proc: tiny, and it keeps the sampler simple.
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** A file of random bytes, written 64 MiB at a time. */
export async function writeRandomFile(file: string, size: number): Promise<void> {
  const handle = await fs.open(file, "w");
  const chunk = Buffer.alloc(64 * 1024 ** 2);
  for (let written = 0; written < size; written += chunk.length) await handle.write(randomFillSync(chunk), 0, Math.min(chunk.length, size - written));
  await handle.close();
}
