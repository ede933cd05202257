/**
 * Sluice runs on Node 20, 22 and 24. npm is not engine-strict here, because Uppy's browser
 * packages (dev dependencies, bundled for Chromium in the tests) declare Node 22 for their
 * build tools. This test keeps the guarantee engine-strict gave where it matters: every package
 * that ships with Sluice (a runtime dependency in package-lock.json) accepts each supported Node.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import semver from "semver";

const SUPPORTED = ["20.19.0", "22.12.0", "24.0.0"];

interface LockedPackage {
  dev?: boolean;
  devOptional?: boolean;
  engines?: { node?: string } | string[];
}

/** What each runtime package in a lockfile's `packages` refuses of the supported Node versions. */
function refusedEngines(packages: Record<string, LockedPackage>): string[] {
  return Object.entries(packages)
    .filter(([path, pkg]) => path.startsWith("node_modules/") && !pkg.dev && !pkg.devOptional)
    .flatMap(([path, pkg]) => {
      const range = Array.isArray(pkg.engines) ? undefined : pkg.engines?.node;
      if (!range) return [];
      return SUPPORTED.filter((version) => !semver.satisfies(version, range)).map((version) => `${path} needs node ${range}, not ${version}`);
    });
}

test("every runtime dependency accepts Node 20, 22 and 24", () => {
  const lock = JSON.parse(readFileSync(new URL("../package-lock.json", import.meta.url), "utf8")) as { packages: Record<string, LockedPackage> };
  const runtime = Object.entries(lock.packages).filter(([path, pkg]) => path.startsWith("node_modules/") && !pkg.dev && !pkg.devOptional);
  assert.ok(runtime.length > 50, `expected the runtime tree in package-lock.json, found ${runtime.length} packages`);
  assert.deepEqual(refusedEngines(lock.packages), []);
});

test("a runtime package that needs Node 22 is refused; a dev-only one is not", () => {
  const refused = refusedEngines({
    "": {},
    "node_modules/needs-22": { engines: { node: ">=22" } },
    "node_modules/browser-only": { dev: true, engines: { node: ">=22" } },
    "node_modules/any": { engines: { node: ">=18" } },
  });
  assert.deepEqual(refused, ["node_modules/needs-22 needs node >=22, not 20.19.0"]);
});

// The test command runs the suite on Node versions it installs (scripts/test.sh), and says which
// in SLUICE_TEST_NODE: so a run said to be on Node 24 is on 24, and so is what it starts.
test("the tests run on the Node the test command says, and so do the processes they start", () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { engines: { node: string } };
  assert.ok(semver.satisfies(process.versions.node, pkg.engines.node), `Node ${process.versions.node} is not in engines ${pkg.engines.node}`);
  const expected = process.env.SLUICE_TEST_NODE ?? process.versions.node;
  assert.equal(process.versions.node, expected);
  // Sluice, the CLI and helpers start as process.execPath; a shell script or npm finds `node` on PATH.
  assert.equal(execFileSync(process.execPath, ["-p", "process.versions.node"], { encoding: "utf8" }).trim(), expected);
  if (process.env.SLUICE_TEST_NODE) assert.equal(execFileSync("node", ["-p", "process.versions.node"], { encoding: "utf8" }).trim(), expected);
});
