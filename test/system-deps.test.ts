/**
 * The test command's first step on a fresh machine: scripts/ensure-system-deps.sh, run with a
 * PATH of stand-ins (one package missing, apt-get recording what it is asked) so that it takes
 * the install path a warm machine never takes, without touching the machine's own packages.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "./helpers/server.js";

const PRESENT = ["chromium", "ceph-mon", "ceph-osd", "radosgw", "ceph", "uuidgen", "curl", "redis-server", "setpriv", "aws", "rclone", "s3cmd"];

describe("scripts/ensure-system-deps.sh on a fresh machine", () => {
  let dir: string;
  let bin: string;
  const script = path.join(ROOT, "scripts/ensure-system-deps.sh");

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-sysdeps-"));
    bin = path.join(dir, "bin");
    await fs.mkdir(bin);
    for (const name of PRESENT) await fs.symlink("/bin/true", path.join(bin, name));
    for (const name of ["chmod", "rm", "cat"]) await fs.symlink(`/bin/${name}`, path.join(bin, name));
    await fs.writeFile(path.join(bin, "id"), "#!/bin/sh\necho 0\n", { mode: 0o755 });
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  /** apt-get stand-in: logs each call and whether the policy file is in place, then exits with `status`. */
  async function aptGet(status: number) {
    const log = path.join(dir, "apt.log");
    await fs.rm(log, { force: true });
    await fs.writeFile(path.join(bin, "apt-get"), `#!/bin/sh\necho "$* policy=$(test -e "$SLUICE_POLICY_RC" && echo yes || echo no)" >>"${log}"\nexit ${status}\n`, { mode: 0o755 });
    return async () => (await fs.readFile(log, "utf8")).trim().split("\n");
  }

  const run = (policy: string, usrBin = bin) =>
    spawnSync("/bin/bash", [script], { env: { PATH: bin, SLUICE_POLICY_RC: policy, SLUICE_USR_BIN: usrBin }, encoding: "utf8" });

  it("installs the missing package and exits 0 when a policy file was already there, leaving that file as it was", async () => {
    const calls = await aptGet(0);
    const policy = path.join(dir, "policy-rc.d");
    const original = "#!/bin/sh\n# the image's own\nexit 101\n";
    await fs.writeFile(policy, original, { mode: 0o755 });
    const result = run(policy);
    assert.equal(result.status, 0, result.stderr + result.stdout);
    const lines = await calls();
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(lines[0] ?? "", /^update /);
    assert.match(lines[1] ?? "", /^install -y -qq --no-install-recommends (.* )?memcached policy=yes$/);
    assert.ok(!lines[1]?.includes("redis-server"), "only what is missing is installed");
    assert.ok(!/awscli|rclone|s3cmd/.test(lines[1] ?? ""), "the S3 tools are there");
    assert.equal(await fs.readFile(policy, "utf8"), original);
  });

  it("installs Debian's awscli, rclone and s3cmd when they are not in /usr/bin", async () => {
    const calls = await aptGet(0);
    const empty = path.join(dir, "empty-usr-bin");
    await fs.mkdir(empty, { recursive: true });
    const result = run(path.join(dir, "tools-policy-rc.d"), empty);
    assert.equal(result.status, 0, result.stderr + result.stdout);
    assert.match((await calls())[1] ?? "", /--no-install-recommends (.* )?awscli rclone s3cmd policy=yes$/);
  });

  it("makes a policy file for the install when there was none, and removes it afterwards", async () => {
    const calls = await aptGet(0);
    const policy = path.join(dir, "made-policy-rc.d");
    const result = run(policy);
    assert.equal(result.status, 0, result.stderr + result.stdout);
    assert.match((await calls())[1] ?? "", /memcached policy=yes$/);
    await assert.rejects(fs.access(policy), "the policy file made for the install is gone");
  });

  it("removes the policy file it made even when apt-get fails, and fails with apt-get", async () => {
    await aptGet(100);
    const policy = path.join(dir, "failed-policy-rc.d");
    const result = run(policy);
    assert.equal(result.status, 100, result.stderr + result.stdout);
    await assert.rejects(fs.access(policy), "the policy file made for the install is gone");
  });
});
