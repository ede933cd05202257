import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { ROOT } from "./server.js";
import { needsServerTier } from "./tier.js";

export const CLI = path.join(ROOT, "dist/cli/main.js");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout's lines parsed as JSON (with --json). */
  json(): Record<string, unknown>[];
}

/** Starts `sluice …` (the built CLI) against a server; the caller may kill it. */
export function spawnCli(args: string[], env: Record<string, string>): { child: ChildProcess; done: Promise<CliRun>; output(): string } {
  needsServerTier("The sluice CLI");
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", XDG_CONFIG_HOME: "/nonexistent/sluice-test-config", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliRun>((resolve) => {
    child.on("close", (code) =>
      resolve({
        code,
        stdout,
        stderr,
        json: () => stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, unknown>),
      }),
    );
  });
  return { child, done, output: () => stdout };
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return spawnCli(args, env).done;
}
