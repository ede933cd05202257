/**
 * Stock Uppy in real headless Chromium, on a page served from another origin than Sluice's:
 * the Dashboard with @uppy/tus, and @uppy/aws-s3 with `companionEndpoint`, as their users
 * configure them (test/uppy-page/page.ts). Sluice on the filesystem (gateway mode) and on
 * Ceph RGW (direct mode). The page holds a token minted by the app's server, never a key.
 * What Uppy shows is checked against what Sluice recorded and archived.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { launchChromium } from "./helpers/browser.js";
import { PNG } from "./helpers/fixtures.js";
import { startSluiceOnRgw, type SluiceOnRgw } from "./helpers/rgw.js";
import { ROOT, startServer, waitForFinal, type TestServer } from "./helpers/server.js";
import { bundleUppyPage, startUppyApp, type UppyApp, type UppyPageBundle } from "./helpers/uppy-app.js";
import type { UploadOutcome } from "./uppy-page/page.js";

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;
/** The metadata the app fixes in the token: the browser cannot change it. */
const VISITOR = { userId: "visitor-17" };

let browser: Browser;
let bundle: UppyPageBundle;
before(async () => {
  [browser, bundle] = await Promise.all([launchChromium(), bundleUppyPage()]);
});
after(async () => {
  await browser?.close();
});

/**
 * The one credential the page gets: a token the app's server mints with its key for one
 * visitor (images only, a few uploads, ten minutes, its user id fixed).
 */
async function browserCredential(sluice: TestServer): Promise<string> {
  const { status, body } = await sluice.api("POST", "/v1/tokens", { allowedTypes: ["image/*"], maxSize: 16 * MiB, maxUploads: 5, expiresIn: 600, metadata: VISITOR });
  assert.equal(status, 201, `POST /v1/tokens: ${JSON.stringify(body)}`);
  return body.token as string;
}

/** An image Sluice's sniffer identifies as PNG, of about `size` bytes. */
function png(size: number): Buffer {
  const data = randomBytes(size);
  data.set(PNG, 0);
  return data;
}
/** Named and declared as a PNG, but text: Sluice's sniffing must reject it. */
const NOT_AN_IMAGE = Buffer.from("This is plain text in a file named like a picture.\n".repeat(100));

interface PickedFile {
  name: string;
  data: Buffer;
}

interface UppyRun {
  outcome: UploadOutcome;
  /** Each Dashboard item's state: `complete`, `error` or `other`, by file name. */
  dashboard: Record<string, string>;
  /** The credential in every request the page sent to Sluice: its Bearer header, or the Companion endpoint's path segment. */
  credentials: string[];
  /** Every request the page sent to Sluice: its URL and headers. */
  toSluice: string[];
  /** Method and path of every request the page sent to Sluice or to storage. */
  requests: string[];
  errors: string[];
}

/** Opens the app's page, picks the files in the Dashboard, presses Upload, and waits for Uppy's `complete`. */
async function uploadWithUppy(options: { app: UppyApp; sluiceUrl: string; storageUrl?: string; uploader: "tus" | "aws-s3"; files: PickedFile[] }): Promise<UppyRun> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const credentials: string[] = [];
    const toSluice: string[] = [];
    const requests: string[] = [];
    page.on("request", (r) => {
      const url = r.url();
      if (url.startsWith(options.sluiceUrl)) {
        toSluice.push(`${r.method()} ${url} ${JSON.stringify(r.headers())}`);
        const credential = /^Bearer (\S+)$/.exec(r.headers().authorization ?? "")?.[1] ?? /^\/companion\/([^/]+)\//.exec(new URL(url).pathname)?.[1];
        if (credential !== undefined) credentials.push(decodeURIComponent(credential));
      }
      if (url.startsWith(options.sluiceUrl) || (options.storageUrl && url.startsWith(options.storageUrl))) requests.push(`${r.method()} ${new URL(url).pathname}`);
    });
    await page.goto(`${options.app.origin}/?uploader=${options.uploader}`);
    const chooser = page.waitForEvent("filechooser");
    await page.locator(".uppy-Dashboard-browse").first().click();
    await (await chooser).setFiles(options.files.map((f) => ({ name: f.name, mimeType: "image/png", buffer: f.data })));
    await page.locator(".uppy-StatusBar-actionBtn--upload").click();
    await page.waitForFunction(() => "uploadOutcome" in window, undefined, { timeout: 30_000 }).catch((err: unknown) => {
      throw new Error(`Uppy did not finish; requests: ${requests.join(", ")}; page errors: ${errors.join(", ")}`, { cause: err });
    });
    const outcome = await page.evaluate(() => (window as unknown as { uploadOutcome: UploadOutcome }).uploadOutcome);
    const dashboard = Object.fromEntries(
      await page.locator(".uppy-Dashboard-Item").evaluateAll((items) =>
        items.map((item) => [item.querySelector(".uppy-Dashboard-Item-name")?.getAttribute("title") ?? item.textContent ?? "", item.classList.contains("is-error") ? "error" : item.classList.contains("is-complete") ? "complete" : "other"]),
      ),
    ) as Record<string, string>;
    return { outcome, dashboard, credentials, toSluice, requests, errors };
  } finally {
    await context.close();
  }
}

/** The Sluice upload id in what Uppy got back: a tus upload URL or an object key. */
function uploadIdIn(file: UploadOutcome["files"][number]): string {
  const id = /upl_[A-Za-z0-9_-]{22}/.exec(`${file.uploadURL ?? ""} ${file.key ?? ""}`)?.[0];
  assert.ok(id, `no Sluice upload id in what Uppy got for ${file.name}: ${JSON.stringify(file)}`);
  return id;
}

/** Uppy shows the file uploaded, and Sluice archived exactly its bytes, with the token's metadata. */
async function assertArchived(sluice: TestServer, run: UppyRun, picked: PickedFile, timeoutMs = 15_000): Promise<void> {
  const file = run.outcome.files.find((f) => f.name === picked.name);
  assert.ok(file, `Uppy has no ${picked.name}`);
  assert.equal(file.error, null, `${picked.name}: ${file.error}`);
  assert.equal(file.complete, true);
  assert.equal(run.dashboard[picked.name], "complete", JSON.stringify(run.dashboard));
  const status = await waitForFinal(sluice, uploadIdIn(file), timeoutMs);
  assert.equal(status.state, "archived", `${picked.name}: ${JSON.stringify(status)}`);
  const record = await sluice.api("GET", `/v1/files/${status.fileId}`);
  assert.equal(record.body.size, picked.data.byteLength);
  assert.equal(record.body.metadata.userId, VISITOR.userId, "the token's metadata, fixed by the app");
  const download = await sluice.api("GET", `/v1/files/${status.fileId}/download`);
  assert.equal(download.status, 200, JSON.stringify(download.body));
  const bytes = Buffer.from(await (await fetch(download.body.url)).arrayBuffer());
  assert.ok(bytes.equals(picked.data), `${picked.name}: the archived bytes differ from the file`);
}

/**
 * Uppy shows the file failed (an error, not complete) because of Sluice's verdict: `verdict`
 * matches its error message, or the answer Uppy kept with it (see `errorAnswer`).
 */
function assertShownFailed(run: UppyRun, picked: PickedFile, verdict: RegExp): void {
  const file = run.outcome.files.find((f) => f.name === picked.name);
  assert.ok(file, `Uppy has no ${picked.name}`);
  assert.ok(file.error, `${picked.name} has no error in Uppy`);
  assert.match(`${file.error}\n${file.errorAnswer ?? ""}`, verdict, `${picked.name}: Uppy's error`);
  assert.equal(file.complete, false, `${picked.name} is marked complete`);
  assert.equal(run.dashboard[picked.name], "error", JSON.stringify(run.dashboard));
}

/** Only the token went to Sluice, and nothing the app served holds a key. */
function assertOnlyTheToken(app: UppyApp, sluice: TestServer, run: UppyRun, tokens: string[]): void {
  assert.ok(run.credentials.length > 0, "the page sent its token");
  for (const c of run.credentials) assert.ok(tokens.includes(c), `a request carried ${c.slice(0, 8)}…, not a minted token`);
  assert.ok(!run.toSluice.join("\n").includes(sluice.key), "a request to Sluice carried the app's API key");
  const everything = app.served.join("\n");
  assert.ok(!everything.includes(sluice.key), "the app served its API key");
  assert.doesNotMatch(everything, /sk_[A-Za-z0-9]/, "the app served something shaped like an API key");
}

describe("Uppy on another origin, Sluice on the filesystem (gateway mode)", () => {
  let app: UppyApp;
  let sluice: TestServer;
  const tokens: string[] = [];
  before(async () => {
    app = await startUppyApp(bundle, async () => {
      const token = await browserCredential(sluice);
      tokens.push(token);
      return { sluice: sluice.url, token };
    });
    sluice = await startServer({ SLUICE_CORS_ORIGINS: app.origin, SLUICE_ALLOWED_TYPES: "image/*" });
  });
  after(async () => {
    await sluice?.stop();
    await app?.close();
  });

  it("the Dashboard with @uppy/tus: an image is archived, a text file named .png is shown failed", async () => {
    const image = { name: "cat.png", data: png(200 * KiB) };
    const fake = { name: "fake.png", data: NOT_AN_IMAGE };
    const run = await uploadWithUppy({ app, sluiceUrl: sluice.url, uploader: "tus", files: [image, fake] });
    await assertArchived(sluice, run, image);
    assertShownFailed(run, fake, /422.*file_rejected.*content/s);
    assertOnlyTheToken(app, sluice, run, tokens);
    assert.deepEqual(run.errors, []);
  });

  it("@uppy/aws-s3 with companionEndpoint: a single upload and one over the multipart threshold are archived, a text file named .png is shown failed", async () => {
    const small = { name: "small.png", data: png(200 * KiB) };
    const large = { name: "large.png", data: png(5 * MiB + 64 * KiB) };
    const fake = { name: "fake.png", data: NOT_AN_IMAGE };
    const run = await uploadWithUppy({ app, sluiceUrl: sluice.url, uploader: "aws-s3", files: [small, large, fake] });
    await assertArchived(sluice, run, small);
    await assertArchived(sluice, run, large);
    assert.ok(run.requests.some((r) => /^POST \/companion\/[^/]+\/s3\/multipart\/[^/]+\/complete$/.test(r)), `the large file went in parts: ${run.requests.join(", ")}`);
    // Uppy's message is its generic "network error"; the answer it kept is Sluice's verdict.
    assertShownFailed(run, fake, /^422 .*"file_rejected".*content/m);
    assertOnlyTheToken(app, sluice, run, tokens);
    assert.deepEqual(run.errors, []);
  });
});

describe("Uppy on another origin, Sluice on Ceph RGW (direct mode)", () => {
  let app: UppyApp;
  let rgw: SluiceOnRgw;
  const tokens: string[] = [];
  before(async () => {
    app = await startUppyApp(bundle, async () => {
      const token = await browserCredential(rgw.server);
      tokens.push(token);
      return { sluice: rgw.server.url, token };
    });
    // A single upload is a browser's POST straight to the bucket, with no `complete` after it:
    // Sluice learns of it from storage (events, or here the sweep, every 2 s).
    rgw = await startSluiceOnRgw({ SLUICE_CORS_ORIGINS: app.origin, SLUICE_ALLOWED_TYPES: "image/*", SLUICE_RECONCILE_INTERVAL: "2" });
    // The buckets' CORS for the page's origin, as an operator applies it.
    await run(process.execPath, [path.join(ROOT, "dist/cli/main.js"), "setup", "--events", "none"], {
      env: { PATH: process.env.PATH ?? "", ...rgw.env, SLUICE_DATA_DIR: rgw.server.dataDir },
    });
  });
  after(async () => {
    await rgw?.close();
    await app?.close();
  });

  it("@uppy/aws-s3 with companionEndpoint: a single POST and a multipart upload go straight to the bucket and are archived", async () => {
    const small = { name: "small.png", data: png(200 * KiB) };
    const large = { name: "large.png", data: png(5 * MiB + 64 * KiB) };
    const run = await uploadWithUppy({ app, sluiceUrl: rgw.server.url, storageUrl: rgw.rgw.endpoint, uploader: "aws-s3", files: [small, large] });
    await assertArchived(rgw.server, run, small, 30_000);
    await assertArchived(rgw.server, run, large);
    const toStorage = run.requests.filter((r) => r.split(" ")[1]?.startsWith(`/${rgw.staging}`));
    assert.ok(toStorage.some((r) => r.startsWith("POST ")), `the small file was a POST to the bucket: ${run.requests.join(", ")}`);
    assert.ok(toStorage.some((r) => r.startsWith("PUT ")), `the large file's parts were PUT to the bucket: ${run.requests.join(", ")}`);
    assertOnlyTheToken(app, rgw.server, run, tokens);
    assert.deepEqual(run.errors, []);
  });
});
