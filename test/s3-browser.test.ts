/**
 * The web page in real headless Chromium with Sluice in direct mode on RGW: the browser
 * sends the bytes straight to the staging bucket (cross-origin, allowed by the CORS that
 * `sluice setup` applies), and downloads come from the archive bucket by a presigned GET.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Browser } from "playwright-core";
import { launchChromium } from "./helpers/browser.js";
import { PNG } from "./helpers/fixtures.js";
import { keysIn, type Rgw, startSluiceOnRgw, type SluiceOnRgw } from "./helpers/rgw.js";
import { ROOT, type TestServer } from "./helpers/server.js";

const run = promisify(execFile);

let sluice: SluiceOnRgw;
let rgw: Rgw;
let s3: S3Client;
let server: TestServer;
let staging: string;
let archive: string;
let browser: Browser;

before(async () => {
  browser = await launchChromium();
  // No storage events and no sweep during the test: the page's own complete call must do it.
  sluice = await startSluiceOnRgw({ SLUICE_RECONCILE_INTERVAL: "86400" });
  ({ rgw, s3, server, staging, archive } = sluice);
  // CORS for the page's origin (the server's public URL), as an operator would apply it.
  await run(process.execPath, [path.join(ROOT, "dist/cli/main.js"), "setup", "--events", "none"], {
    env: { PATH: process.env.PATH ?? "", ...sluice.env, SLUICE_DATA_DIR: server.dataDir, SLUICE_PUBLIC_URL: server.url },
  });
});
after(async () => {
  await browser?.close();
  await sluice?.close();
});

describe("the web uploader on S3 (RGW), direct mode", () => {
  it("uploads straight to the staging bucket, shows the file archived, and downloads it from the archive", async () => {
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    const storageRequests: string[] = [];
    page.on("request", (r) => {
      if (r.url().startsWith(rgw.endpoint)) storageRequests.push(`${r.method()} ${new URL(r.url()).pathname}`);
    });
    await page.goto(`${server.url}/#key=${server.key}`);

    const image = randomBytes(300 * 1024);
    image.set(PNG, 0);
    await page.setInputFiles("#file-input", [{ name: "big cat.png", mimeType: "image/png", buffer: image }]);
    const row = page.locator("#file-list li").filter({ hasText: "big cat.png" });
    await row.locator('.state[data-state="archived"]').waitFor({ timeout: 20_000 }).catch(async (err: unknown) => {
      throw new Error(`not archived; the row says "${await row.innerText()}"; requests to storage: ${storageRequests.join(", ")}; page errors: ${errors.join(", ")}`, { cause: err });
    });
    assert.equal(await row.locator("progress").evaluate((p: HTMLProgressElement) => p.value === p.max), true);

    // The bytes went to storage, not through Sluice: a cross-origin PUT (after its preflight).
    const puts = storageRequests.filter((r) => r.startsWith(`PUT /${staging}/upl_`));
    assert.equal(puts.length, 1, storageRequests.join("\n"));
    const key = decodeURIComponent(puts[0]!.slice(`PUT /${staging}/`.length));
    assert.ok(key.endsWith("/big_cat.png"));
    const archived = await s3.send(new GetObjectCommand({ Bucket: archive, Key: key }));
    assert.deepEqual(Buffer.from(await archived.Body!.transformToByteArray()), image);
    // Staging holds the object while its URL lives (storage then refuses a second PUT); it is not served from there.
    assert.ok((await keysIn(s3, staging)).includes(key));

    const [download] = await Promise.all([page.waitForEvent("download"), row.getByRole("button", { name: "Download big cat.png" }).click()]);
    assert.equal(download.suggestedFilename(), "big cat.png");
    assert.ok(download.url().startsWith(`${rgw.endpoint}/${archive}/`), "downloaded from the archive bucket by a presigned GET");
    const saved = await download.path();
    assert.deepEqual(await fs.readFile(saved), image);
    assert.deepEqual(errors, []);
    await context.close();
  });
});
