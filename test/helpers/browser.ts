/** Debian's chromium, driven by playwright-core, for the browser tests. */
import fs from "node:fs/promises";
import { chromium, type Browser } from "playwright-core";
import { needsServerTier } from "./tier.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Headless Chromium; fails with what to install when it is missing (never skips). */
export async function launchChromium(): Promise<Browser> {
  needsServerTier("Chromium");
  await fs.access(CHROMIUM).catch(() => {
    throw new Error(`Chromium is not at ${CHROMIUM}. Install Debian's chromium (npm test does it when run as root) or set CHROMIUM_PATH.`);
  });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
