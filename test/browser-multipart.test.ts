/**
 * The web page uploads a large file in parts, and after a page reload carries on where it
 * stopped when the same file is picked again: real headless Chromium against the built server.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "./helpers/browser.js";
import { sha256 } from "./helpers/fixtures.js";
import { eventually, startServer, type TestServer } from "./helpers/server.js";

const MiB = 1024 * 1024;
let server: TestServer;
let browser: Browser;
let dir: string;
before(async () => {
  browser = await launchChromium();
  server = await startServer({ SLUICE_MULTIPART_THRESHOLD: String(MiB), SLUICE_PART_SIZE: String(5 * MiB) });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-web-mp-"));
});
after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function pick(page: Page, file: string) {
  const chooser = page.waitForEvent("filechooser");
  await page.click("#pick-button");
  await (await chooser).setFiles(file);
}

describe("the web uploader with a large file", () => {
  it("sends it in parts, and after a reload resumes it, sending only the parts that were missing", async () => {
    const data = randomBytes(12 * MiB); // 3 parts: 5, 5 and 2 MiB
    const file = path.join(dir, "large.bin");
    await fs.writeFile(file, data);
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.url}/#key=${server.key}`);

    // The network never answers part 3: the upload stalls with parts 1 and 2 stored.
    await page.route(/\/parts\/3\?/, () => undefined);
    await pick(page, file);
    let id = "";
    await eventually(async () => {
      const remembered = await page.evaluate(() => localStorage.getItem("sluice.pending"));
      const ids = Object.values(JSON.parse(remembered ?? "{}") as Record<string, string>);
      assert.equal(ids.length, 1, "the page remembers the upload under way");
      const stored = await server.api("GET", `/v1/uploads/${ids[0]}/parts`);
      assert.deepEqual(stored.body.parts.map((p: { partNumber: number }) => p.partNumber), [1, 2]);
      id = ids[0]!;
    }, 15_000);

    // Reload first: leaving the page cancels the stalled request. Unrouting first would let
    // Playwright release it to the network, and part 3 could arrive from the old page.
    await page.reload();
    await page.unroute(/\/parts\/3\?/);
    const sent: number[] = [];
    page.on("request", (r) => {
      const part = /\/v1\/uploads\/upl_[^/]+\/parts\/(\d+)\?/.exec(r.url());
      if (r.method() === "PUT" && part) sent.push(Number(part[1]));
    });
    await pick(page, file);
    const row = page.locator("#file-list li").filter({ hasText: "large.bin" });
    await row.locator('.state[data-state="archived"]').waitFor({ timeout: 20_000 });
    assert.deepEqual(sent, [3], "only the missing part is sent");
    const status = await server.api("GET", `/v1/uploads/${id}`);
    assert.equal(status.body.state, "archived");
    assert.equal(sha256(await fs.readFile(path.join(server.dataDir, "objects/archive", status.body.key as string))), sha256(data));
    assert.equal(await page.evaluate(() => localStorage.getItem("sluice.pending")), "{}");
    assert.deepEqual(errors, []);
    await context.close();
  });
});
