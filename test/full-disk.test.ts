/**
 * A full disk under the filesystem store, for real: a 2 MiB tmpfs as the data directory (this
 * needs root, as the test command runs; without it the test fails and says so). Uploads that do
 * not fit get 507 JSON and leave nothing behind; `/readyz` reports the object store down once
 * free space is under SLUICE_MIN_FREE_DISK, and ready again while it is not.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { filesUnder, startServer, waitForFinal, type TestServer } from "./helpers/server.js";

const run = promisify(execFile);
const MIN_FREE = 512 * 1024;
let dir: string;
let disk: string;
let mounted = false;
let server: TestServer | undefined;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-full-disk-"));
  disk = path.join(dir, "disk");
  await fs.mkdir(disk);
  try {
    await run("mount", ["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", disk], { timeout: 10_000 });
    mounted = true;
  } catch (err) {
    throw new Error(`This test mounts a 2 MiB tmpfs to fill a disk for real, which needs root (npm test runs as root): ${(err as Error).message}`, { cause: err });
  }
  server = await startServer(
    // The database lives off the small disk: only the object store should run out of room.
    { SLUICE_MIN_FREE_DISK: String(MIN_FREE), SLUICE_DATABASE: `sqlite:${path.join(dir, "sluice.db")}` },
    { dataDir: disk, keep: true },
  );
});

after(async () => {
  await server?.stop();
  if (mounted) await run("umount", [disk], { timeout: 10_000 });
  await fs.rm(dir, { recursive: true, force: true });
});

async function upload(size: number) {
  const issued = await server!.api("POST", "/v1/uploads", { filename: "blob.bin", contentType: "application/octet-stream", size });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  const body = (issued.body as { upload: { url: string; headers: Record<string, string> } }).upload;
  const res = await fetch(body.url, { method: "PUT", headers: body.headers, body: new Uint8Array(size) });
  return { id: (issued.body as { id: string }).id, status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

async function readiness() {
  const res = await fetch(`${server!.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; backends: Record<string, string>; error?: { code: string } } };
}

describe("a full disk under the filesystem store", () => {
  it("answers an upload that does not fit with 507 storage_full, keeps nothing, and /readyz turns unavailable once space is short", async () => {
    assert.equal((await readiness()).status, 200, "2 MiB free, over the 512 KiB minimum");

    const first = await upload(1200 * 1024);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal((await waitForFinal(server!, first.id)).state, "archived");
    assert.equal((await readiness()).status, 200, "about 800 KiB free is still over the minimum");

    // More than the disk has left: the write fails with ENOSPC part-way through.
    const tooBig = await upload(1024 * 1024);
    assert.equal(tooBig.status, 507, JSON.stringify(tooBig.body));
    assert.equal(tooBig.body.error?.code, "storage_full");
    assert.match(tooBig.body.error?.message ?? "", /out of space/);
    assert.deepEqual((await filesUnder(path.join(disk, "objects/staging"))).filter((k) => k.startsWith(tooBig.id)), [], "nothing half-written in staging");
    assert.deepEqual(await fs.readdir(path.join(disk, "objects/.tmp")), [], "the partial temporary file is gone");
    assert.equal((await server!.api("GET", `/v1/uploads/${tooBig.id}`)).body.state, "issued", "the URL can be used again once there is room");

    const second = await upload(400 * 1024);
    assert.equal(second.status, 200, JSON.stringify(second.body));
    const ready = await readiness();
    assert.equal(ready.status, 503, JSON.stringify(ready.body));
    assert.equal(ready.body.status, "unavailable");
    assert.equal(ready.body.backends["object store"], "down");
    assert.equal(ready.body.error?.code, "backend_unavailable");
  });
});
