/** The built `sluice` command as a package's bin runs it: executed directly, through its shebang. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { CLI } from "./helpers/cli.js";

const run = (args: string[]) =>
  promisify(execFile)(CLI, args, { env: { PATH: process.env.PATH ?? "", HOME: "/nonexistent", XDG_CONFIG_HOME: "/nonexistent/sluice-test-config" } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );

describe("the sluice bin", () => {
  it("is executable and lists its commands", async () => {
    const help = await run(["--help"]);
    assert.equal(help.code, 0, help.stderr);
    for (const command of ["upload", "url", "status", "files", "keys", "setup"]) assert.match(help.stdout, new RegExp(`^  ${command} `, "m"));
  });

  it("has --help on every command", async () => {
    for (const command of ["upload", "url", "status", "files", "keys", "setup"]) {
      const help = await run([command, "--help"]);
      assert.equal(help.code, 0, `${command}: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^Usage: sluice ${command}`), command);
    }
  });

  it("says in one line what is missing, with exit code 2", async () => {
    const noKey = await run(["upload", "/etc/hostname"]);
    assert.equal(noKey.code, 2);
    assert.equal(noKey.stderr, "sluice: no API key: pass --key, set SLUICE_API_KEY, or put apiKey in the config file\n");
    const unknown = await run(["frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^sluice: unknown command "frobnicate"/);
  });
});
