/**
 * The S3 tools people already have, from Debian (the AWS CLI, rclone, s3cmd, and curl with
 * --aws-sigv4), uploading with the scoped credentials of `"method": "credentials"` on Ceph
 * RGW, each configured the way its users configure it (environment variables, a config file, flags). Each test runs one shell
 * script, exactly as docs/clients.md shows it: ask Sluice, upload with the tool, `complete`.
 * Every tool points at loopback only: the endpoint is RGW's, the region is given (no lookup),
 * and the AWS CLI never asks the instance metadata service.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { PNG, sha256 } from "./helpers/fixtures.js";
import { startSluiceOnRgw, type SluiceOnRgw } from "./helpers/rgw.js";
import { waitForFinal } from "./helpers/server.js";

/**
 * `bash -euo pipefail -c script`, its stdin closed: on a socket (what a pipe from Node is)
 * bash would take itself for a remote shell and read /etc/bash.bashrc. Killed after two minutes.
 */
async function runBash(script: string, options: { cwd: string; env: Record<string, string> }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn("bash", ["-euo", "pipefail", "-c", script], { ...options, stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stdout, stderr };
}
const ROLE = "arn:aws:iam:::role/sluice-uploader";

/** Debian's own binaries, by path: a `pip install awscli` or a pyenv shim earlier on PATH is not what is under test. */
const TOOLS = { aws: "/usr/bin/aws", rclone: "/usr/bin/rclone", s3cmd: "/usr/bin/s3cmd" };

// Step 1, for every tool: ask Sluice for credentials scoped to this one upload ($SLUICE_URL is
// Sluice's URL, $KEY an API key or a browser token), and a helper that reads them.
const ASK = String.raw`
FILE=cat.png TYPE=image/png
R=$(curl -sf -X POST "$SLUICE_URL/v1/uploads" -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
  -d '{"filename":"'"$FILE"'","contentType":"'"$TYPE"'","size":'"$(stat -c %s "$FILE")"',"method":"credentials"}')
c() { node -p "JSON.parse(process.argv[1]).credentials.$1" "$R"; }
`;

// Step 3, for every tool: tell Sluice the bytes are there; it checks them and archives the file.
const COMPLETE = String.raw`
ID=$(node -p 'JSON.parse(process.argv[1]).id' "$R")
curl -sf -X POST "$SLUICE_URL/v1/uploads/$ID/complete" -H "authorization: Bearer $KEY"
`;

// Step 2 with the AWS CLI: the credentials in its environment variables.
const AWS_CLI = String.raw`
export AWS_ACCESS_KEY_ID=$(c accessKeyId) AWS_SECRET_ACCESS_KEY=$(c secretAccessKey) AWS_SESSION_TOKEN=$(c sessionToken)
aws s3 cp "$FILE" "s3://$(c bucket)/$(c key)" --content-type "$TYPE" --endpoint-url "$(c endpoint)" --region "$(c region)"
`;

// Step 2 with rclone: a remote defined in environment variables. With credentials for one key,
// rclone must neither create the bucket nor HEAD the object (both refused by the session policy).
const RCLONE = String.raw`
export RCLONE_CONFIG_SLUICE_TYPE=s3 RCLONE_CONFIG_SLUICE_PROVIDER=Ceph
export RCLONE_CONFIG_SLUICE_ENDPOINT=$(c endpoint) RCLONE_CONFIG_SLUICE_REGION=$(c region)
export RCLONE_CONFIG_SLUICE_ACCESS_KEY_ID=$(c accessKeyId) RCLONE_CONFIG_SLUICE_SECRET_ACCESS_KEY=$(c secretAccessKey)
export RCLONE_CONFIG_SLUICE_SESSION_TOKEN=$(c sessionToken)
rclone copyto "$FILE" "sluice:$(c bucket)/$(c key)" --s3-no-check-bucket --s3-no-head --header-upload "Content-Type: $TYPE"
`;

// Step 2 with s3cmd: its config file, written for this upload.
const S3CMD = String.raw`
cat > s3cfg <<EOF
[default]
access_key = $(c accessKeyId)
secret_key = $(c secretAccessKey)
access_token = $(c sessionToken)
host_base = $(c endpoint | sed 's|^https\?://||')
host_bucket = $(c endpoint | sed 's|^https\?://||')
bucket_location = $(c region)
use_https = $(c endpoint | grep -q '^https:' && echo True || echo False)
EOF
s3cmd -c s3cfg put "$FILE" "s3://$(c bucket)/$(c key)" --mime-type "$TYPE"
`;

// Step 2 with curl alone: it signs the PUT itself (SigV4 with the session token), path style.
const CURL = String.raw`
curl -sf -T "$FILE" "$(c endpoint)/$(c bucket)/$(c key)" -H "content-type: $TYPE" \
  -H "x-amz-security-token: $(c sessionToken)" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
  --aws-sigv4 "aws:amz:$(c region):s3" --user "$(c accessKeyId):$(c secretAccessKey)"
`;

describe("S3 tools from Debian with scoped credentials on RGW", () => {
  let sluice: SluiceOnRgw;
  before(async () => {
    for (const binary of Object.values(TOOLS)) {
      await fs.access(binary).catch(() => {
        throw new Error(`${binary} is missing: install Debian's awscli, rclone and s3cmd (scripts/ensure-system-deps.sh does, as root).`);
      });
    }
    sluice = await startSluiceOnRgw((rgw) => ({ SLUICE_STS_ROLE_ARN: ROLE, AWS_ENDPOINT_URL_STS: rgw.endpoint }));
  });
  after(async () => {
    await sluice?.close();
  });

  /**
   * Runs a tool's script in a directory of its own holding `cat.png`, with nothing from this
   * process's environment but what a shell needs: no AWS or rclone settings leak in, and HOME
   * is empty (no ~/.aws, ~/.s3cfg or rclone.conf).
   */
  async function runScript(script: string, file: Buffer, options: { complete: boolean } = { complete: true }): Promise<{ id: string; stdout: string; stderr: string }> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-tools-"));
    try {
      await fs.writeFile(path.join(dir, "cat.png"), file);
      const bin = path.join(dir, "bin");
      await fs.mkdir(bin);
      for (const [name, target] of Object.entries(TOOLS)) await fs.symlink(target, path.join(bin, name));
      const env = {
        PATH: [bin, path.dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
        HOME: dir,
        SLUICE_URL: sluice.server.url,
        KEY: sluice.server.key,
        // Nothing leaves loopback: no instance metadata lookups, no pager.
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_PAGER: "",
      };
      const { code, stdout, stderr } = await runBash(ASK + script + (options.complete ? COMPLETE : ""), { cwd: dir, env });
      assert.equal(code, 0, `the script failed:\nstdout: ${stdout}\nstderr: ${stderr}`);
      const completed = /\{"id":"(upl_[A-Za-z0-9_-]{22})"[^\n]*\n?$/.exec(stdout);
      assert.ok(completed, `complete answered: ${stdout}\n${stderr}`);
      return { id: completed[1]!, stdout, stderr };
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  /** A PNG of the given size (a real signature, then random bytes). */
  function png(size: number): Buffer {
    const body = randomBytes(size);
    body.set(PNG, 0);
    return body;
  }

  async function assertArchived(id: string, body: Buffer) {
    const final = await waitForFinal(sluice.server, id);
    assert.equal(final.state, "archived", JSON.stringify(final));
    const status = await sluice.server.api("GET", `/v1/uploads/${id}`);
    const key = (status.body as { key: string }).key;
    const archived = await sluice.s3.send(new GetObjectCommand({ Bucket: sluice.archive, Key: key }));
    assert.equal(archived.ContentType, "image/png");
    assert.equal(sha256(await archived.Body!.transformToByteArray()), sha256(body));
  }

  it("the AWS CLI (aws s3 cp, in parts: the file is over its 8 MiB threshold) uploads, and the file is archived", async () => {
    const body = png(9 * 1024 * 1024);
    const { id, stdout } = await runScript(AWS_CLI, body);
    assert.match(stdout, /upload: \.\/cat\.png to s3:\/\//);
    await assertArchived(id, body);
  });

  it("rclone (copyto) uploads, and the file is archived", async () => {
    const body = png(64 * 1024);
    const { id } = await runScript(RCLONE, body);
    await assertArchived(id, body);
  });

  it("s3cmd (put) uploads, and the file is archived", async () => {
    const body = png(64 * 1024);
    const { id, stdout } = await runScript(S3CMD, body);
    assert.match(stdout, /upload: 'cat\.png' -> 's3:\/\//);
    await assertArchived(id, body);
  });

  it("curl (--aws-sigv4) uploads, and the file is archived", async () => {
    const body = png(64 * 1024);
    const { id } = await runScript(CURL, body);
    await assertArchived(id, body);
  });

  it("the same credentials are refused by storage for any other key", async () => {
    // A second key beside the granted one: RGW answers 403 (AWS CLI 2.9 then fails to parse
    // RGW's error body, "argument of type 'NoneType' is not iterable", so its debug log is read).
    const outside = String.raw`
export AWS_ACCESS_KEY_ID=$(c accessKeyId) AWS_SECRET_ACCESS_KEY=$(c secretAccessKey) AWS_SESSION_TOKEN=$(c sessionToken)
if aws s3 cp "$FILE" "s3://$(c bucket)/$(c key).other" --endpoint-url "$(c endpoint)" --region "$(c region)" --debug 2>debug.txt; then echo "aws: accepted"; exit 1; fi
grep -q "\"PUT /$(c bucket)/$(c key).other HTTP/1.1\" 403 " debug.txt || { tail -5 debug.txt >&2; exit 1; }
echo "{\"id\":\"$(node -p 'JSON.parse(process.argv[1]).id' "$R")\"}"
`;
    const body = png(1024);
    const { id } = await runScript(outside, body, { complete: false });
    const listed = await sluice.s3.send(new ListObjectsV2Command({ Bucket: sluice.staging }));
    assert.ok(!(listed.Contents ?? []).some((o) => o.Key?.endsWith(".other")), "nothing was written outside the granted key");
    const status = await sluice.server.api("GET", `/v1/uploads/${id}`);
    assert.notEqual((status.body as { state: string }).state, "archived");
  });
});
