/**
 * The web page in real headless Chromium (Debian's `chromium`, driven by playwright-core),
 * used with the keyboard only.
 */
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, FileChooser, Page } from "playwright-core";
import { launchChromium } from "./helpers/browser.js";
import { PNG } from "./helpers/fixtures.js";
import { ROOT, startServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let browser: Browser;
let downloads: string;
before(async () => {
  browser = await launchChromium();
  server = await startServer();
  downloads = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-dl-"));
});
after(async () => {
  await browser?.close();
  await server?.stop();
  if (downloads) await fs.rm(downloads, { recursive: true, force: true });
});

async function pickFilesWithKeyboard(page: Page, files: { name: string; mimeType: string; buffer: Buffer }[]) {
  // Tab to the button the way a keyboard user would, then press Enter.
  for (let i = 0; i < 10; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate(() => document.activeElement?.id === "pick-button")) break;
  }
  assert.equal(await page.evaluate(() => document.activeElement?.id), "pick-button", "the file button is reachable with Tab");
  // Chromium ignores a file-chooser request made in the first moments after a page loads
  // (seen here: about one try in three within 300 ms). A person would press Enter again; so does this.
  let chooser: FileChooser | undefined;
  for (let attempt = 0; attempt < 5 && !chooser; attempt++) {
    const opened = page.waitForEvent("filechooser", { timeout: 1000 }).catch(() => undefined);
    await page.keyboard.press("Enter");
    chooser = await opened;
  }
  assert.ok(chooser, "Enter on the button opens the file chooser");
  assert.equal(chooser.isMultiple(), true);
  await chooser.setFiles(files);
}

/** Counts the page's reads of an upload's state: streams (`/events`) and polls (`GET /v1/uploads/{id}`). */
function readsOfUploads(page: Page): { streams: number; polls: number } {
  const counts = { streams: 0, polls: 0 };
  page.on("request", (request) => {
    if (request.method() !== "GET") return;
    const { pathname } = new URL(request.url());
    if (/^\/v1\/uploads\/[^/]+\/events$/.test(pathname)) counts.streams++;
    else if (/^\/v1\/uploads\/[^/]+$/.test(pathname)) counts.polls++;
  });
  return counts;
}

describe("the web uploader", () => {
  it("takes the key from the link, uploads two files, shows them archived, and downloads one byte-identical", async () => {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 900, height: 700 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.url}/#key=${server.key}`);
    assert.equal(new URL(page.url()).hash, "", "the key is taken out of the address bar");
    assert.equal(await page.isVisible("#upload-section"), true);

    const notes = Buffer.from("Sluice notes\n".repeat(1000));
    await pickFilesWithKeyboard(page, [
      { name: "cat.png", mimeType: "image/png", buffer: PNG },
      { name: "notes.txt", mimeType: "text/plain", buffer: notes },
    ]);
    const rows = page.locator("#file-list li");
    await rows.nth(1).waitFor();
    for (const name of ["cat.png", "notes.txt"]) {
      const row = rows.filter({ hasText: name });
      await row.locator('.state[data-state="archived"]').waitFor({ timeout: 15_000 });
      assert.equal(await row.locator(".state").innerText(), "Archived");
      assert.equal(await row.locator("progress").evaluate((p: HTMLProgressElement) => p.value === p.max), true);
    }

    // Download with the keyboard: focus the button, press Enter.
    const button = rows.filter({ hasText: "notes.txt" }).getByRole("button", { name: "Download notes.txt" });
    await button.focus();
    const [download] = await Promise.all([page.waitForEvent("download"), page.keyboard.press("Enter")]);
    assert.equal(download.suggestedFilename(), "notes.txt");
    const saved = path.join(downloads, "notes.txt");
    await download.saveAs(saved);
    assert.deepEqual(await fs.readFile(saved), notes);

    await fs.mkdir(path.join(ROOT, "docs"), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, "docs/screenshot.png"), fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  });

  it("the first Tab lands on a visible control", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/#key=${server.key}`);
    await page.locator("#upload-section:not([hidden])").waitFor();
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      const box = el?.getBoundingClientRect();
      return { id: el?.id, width: box?.width ?? 0, height: box?.height ?? 0 };
    });
    assert.equal(focused.id, "pick-button", JSON.stringify(focused));
    assert.ok(focused.width > 10 && focused.height > 10, `the focused control is visible: ${JSON.stringify(focused)}`);
    await context.close();
  });

  it("shows a rejected file with its reason, heard over server-sent events rather than polls", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const statusReads = readsOfUploads(page);
    await page.goto(`${server.url}/#key=${server.key}`);
    await pickFilesWithKeyboard(page, [{ name: "fake.png", mimeType: "image/png", buffer: Buffer.from("<html><script>alert(1)</script>") }]);
    const state = page.locator("#file-list li .state");
    await page.locator('#file-list li .state[data-state="rejected"]').waitFor({ timeout: 15_000 });
    assert.match(await state.innerText(), /^Rejected: type_mismatch: declared image\/png/);
    assert.equal(statusReads.streams, 1, "the state came over one stream");
    assert.equal(statusReads.polls, 0, "and no poll");
    await context.close();
  });

  it("falls back to polling where the stream is refused", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    // As a proxy that will not carry text/event-stream answers.
    await page.route("**/v1/uploads/*/events", (route) => route.fulfill({ status: 502, contentType: "text/html", body: "<h1>Bad gateway</h1>" }));
    const statusReads = readsOfUploads(page);
    await page.goto(`${server.url}/#key=${server.key}`);
    await pickFilesWithKeyboard(page, [{ name: "cat.png", mimeType: "image/png", buffer: PNG }]);
    await page.locator('#file-list li .state[data-state="archived"]').waitFor({ timeout: 15_000 });
    assert.equal(statusReads.streams, 1, "the stream was tried");
    assert.ok(statusReads.polls >= 1, "then the state was polled");
    await context.close();
  });

  it("asks for a key when it has none, and refuses a wrong one", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    assert.equal(await page.isVisible("#key-section"), true);
    assert.equal(await page.evaluate(() => document.activeElement?.id), "key-input", "the key field has focus");
    await page.keyboard.type("sk_not_a_real_key");
    await page.keyboard.press("Enter");
    await pickFilesWithKeyboard(page, [{ name: "a.txt", mimeType: "text/plain", buffer: Buffer.from("a") }]);
    await page.locator("#key-section:not([hidden])").waitFor();
    assert.equal(await page.locator("#key-error").innerText(), "That API key or token was refused (a token may have expired).");
    await page.keyboard.type(server.key);
    await page.keyboard.press("Enter");
    assert.equal(await page.isVisible("#upload-section"), true);
    await context.close();
  });
});
