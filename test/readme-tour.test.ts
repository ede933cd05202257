/**
 * The curl tour of README.md (and its copy in docs/getting-started.md and docs/clients.md),
 * checked to be the one here and run by bash against a started Sluice on a free port: only
 * the two values a reader fills in (the address and the key Sluice printed) are put in.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT, startServer, type TestServer } from "./helpers/server.js";

/** The tour, exactly as both documents show it. */
const TOUR = String.raw`
export SLUICE_URL=http://127.0.0.1:8080   # the address Sluice printed
export KEY=sk_…                          # the key Sluice printed at first start
printf 'hello world\n' > hello.txt

# 1. Ask for a one-time URL.
R=$(curl -s -X POST "$SLUICE_URL/v1/uploads" \
  -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
  -d '{"filename":"hello.txt","contentType":"text/plain","size":12}')
ID=$(node -p 'JSON.parse(process.argv[1]).id' "$R")
URL=$(node -p 'JSON.parse(process.argv[1]).upload.url' "$R")

# 2. Upload to it, with exactly the headers it was issued for. A second PUT gets 410.
curl -s -X PUT "$URL" -H 'content-type: text/plain' --data-binary @hello.txt

# 3. Watch it get checked and archived: it is "uploaded", then "processing" for a moment.
for i in $(seq 50); do
  S=$(curl -s "$SLUICE_URL/v1/uploads/$ID" -H "authorization: Bearer $KEY")
  case $S in *'"state":"uploaded"'* | *'"state":"processing"'*) sleep 0.2 ;; *) break ;; esac
done
echo "$S"
#   {"id":"upl_…","state":"archived","fileId":"fil_…",…}

# 4. Download it through a short-lived link (add ?once=true for a one-time link).
FILE=$(node -p 'JSON.parse(process.argv[1]).fileId' "$S")
D=$(curl -s "$SLUICE_URL/v1/files/$FILE/download" -H "authorization: Bearer $KEY")
curl -s "$(node -p 'JSON.parse(process.argv[1]).url' "$D")"
`.slice(1);

/** The first ```sh block after a heading. */
async function shellBlockAfter(file: string, heading: string): Promise<string> {
  const text = await fs.readFile(path.join(ROOT, file), "utf8");
  const start = text.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `${file} has the heading ${heading}`);
  const block = /```sh\n([\s\S]*?)```/.exec(text.slice(start));
  assert.ok(block, `${file} has a sh block after ${heading}`);
  return block[1]!;
}

/** The reader's two values put in, each line checked to be there once. */
function filledIn(tour: string, server: TestServer): string {
  const lines = tour.split("\n");
  const fill = (pattern: RegExp, line: string) => {
    const at = lines.flatMap((l, i) => (pattern.test(l) ? [i] : []));
    assert.equal(at.length, 1, `one line matches ${pattern}`);
    lines[at[0]!] = line;
  };
  fill(/^export SLUICE_URL=http:\/\/127\.0\.0\.1:8080 /, `export SLUICE_URL=${server.url}`);
  fill(/^export KEY=sk_… /, `export KEY=${server.key}`);
  return lines.join("\n");
}

describe("the README's curl tour", () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    server = await startServer();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-tour-"));
  });
  after(async () => {
    await server?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it("is the one here, in README.md and in docs/getting-started.md", async () => {
    assert.equal(await shellBlockAfter("README.md", "## A first upload"), TOUR);
    assert.equal(await shellBlockAfter("docs/getting-started.md", "## A quick tour with curl"), TOUR);
  });

  it("runs as written on a port that is not 8080: uploaded, archived (never processing), downloaded", async () => {
    assert.notEqual(new URL(server.url).port, "8080");
    const script = filledIn(TOUR, server);
    const child = spawn("bash", ["-euo", "pipefail", "-c", script], {
      cwd: dir,
      env: { PATH: [path.dirname(process.execPath), "/usr/bin", "/bin"].join(":"), HOME: dir },
      // stdin closed: on a socket bash would take itself for a remote shell and read bashrc.
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, "close")) as [number | null];
    assert.equal(code, 0, `stdout: ${stdout}\nstderr: ${stderr}`);
    assert.equal(stderr, "");
    // Step 2's answer, step 3's state, step 4's bytes, in that order.
    const [put, status, downloaded] = splitAnswers(stdout);
    assert.equal((JSON.parse(put) as { state: string }).state, "uploaded", stdout);
    const final = JSON.parse(status) as { state: string; fileId: string };
    assert.equal(final.state, "archived", stdout);
    assert.match(final.fileId, /^fil_/);
    assert.equal(downloaded, "hello world\n");
  });
});

/** curl prints step 2's JSON with no newline, then `echo "$S"` ends step 3's line; step 4 is the file itself. */
function splitAnswers(stdout: string): [string, string, string] {
  const putEnd = stdout.indexOf("}{") + 1;
  const statusEnd = stdout.indexOf("\n", putEnd) + 1;
  return [stdout.slice(0, putEnd), stdout.slice(putEnd, statusEnd - 1), stdout.slice(statusEnd)];
}
