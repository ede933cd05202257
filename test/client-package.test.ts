/**
 * The client package (packages/client, `@sluice/client`) stays a client: it installs no server
 * dependency, its built files import nothing but its own dependencies (and, from the Node entry
 * only, Node's modules), its wire types are what the server's OpenAPI document generates now,
 * and the few values it cannot take from the API equal the server's.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { partLength, type MultipartPlan } from "@sluice/client";
import { build } from "esbuild";
import { WIRE_FILE, generateClientWire } from "../scripts/gen-client.js";
import { partLength as serverPartLength, planParts } from "../src/domain/part-plans.js";
import { ROOT } from "./helpers/server.js";

const PACKAGE = path.join(ROOT, "packages/client");

/** What the client may install: anything else is a reviewed change to this list. */
const ALLOWED_DEPENDENCIES = ["@noble/hashes"];
/** The server's drivers and frameworks, named so that a failure says what crept in. */
const SERVER_DEPENDENCIES = /^(better-sqlite3|pg|ioredis|memcached|hono|kysely|kysely-d1|pino|prom-client|rate-limiter-flexible|file-type|zod|@aws-sdk\/.*|@smithy\/.*|@hono\/.*)$/;

interface LsNode {
  dependencies?: Record<string, LsNode>;
}

/** Every package name in an `npm ls --json` tree. */
function namesIn(tree: LsNode, into = new Set<string>()): Set<string> {
  for (const [name, child] of Object.entries(tree.dependencies ?? {})) {
    into.add(name);
    namesIn(child, into);
  }
  return into;
}

describe("the client package installs no server dependency", () => {
  it("declares only its allowed dependencies", async () => {
    const pkg = JSON.parse(await readFile(path.join(PACKAGE, "package.json"), "utf8")) as Record<string, Record<string, string> | undefined>;
    assert.equal(pkg.name, "@sluice/client");
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
      for (const name of Object.keys(pkg[field] ?? {})) assert.ok(ALLOWED_DEPENDENCIES.includes(name), `${field} has ${name}`);
    }
  });

  it("npm ls --omit=dev in it lists none", async () => {
    const { stdout } = await promisify(execFile)("npm", ["ls", "--omit=dev", "--all", "--json"], { cwd: PACKAGE });
    const tree = JSON.parse(stdout) as { dependencies?: Record<string, LsNode & { resolved?: string }> };
    // Run in a workspace, npm answers with the root and the workspace below it.
    const client = tree.dependencies?.["@sluice/client"] ?? tree;
    const names = [...namesIn(client)];
    assert.deepEqual(names.filter((n) => SERVER_DEPENDENCIES.test(n)), []);
    assert.deepEqual(names.filter((n) => !ALLOWED_DEPENDENCIES.includes(n)), []);
    assert.ok(names.includes("@noble/hashes"), `npm ls found no dependencies at all: ${stdout}`);
  });

  for (const [entry, node] of [["index.js", false], ["node.js", true]] as const) {
    it(`its built ${entry} imports only its dependencies${node ? " and Node's modules" : ", nothing of Node's (it runs in browsers)"}`, async () => {
      const file = path.join(PACKAGE, "dist", entry);
      await access(file).catch(() => {
        throw new Error(`${file} is missing: run \`npm run build\` first (npm test does).`);
      });
      // esbuild reads the import graph: every file reached, and every import that leaves it.
      const { metafile } = await build({ entryPoints: [file], bundle: true, write: false, metafile: true, packages: "external", platform: "neutral", logLevel: "silent" });
      const outside: string[] = [];
      for (const [input, { imports }] of Object.entries(metafile.inputs)) {
        assert.ok(path.resolve(ROOT, input).startsWith(path.join(PACKAGE, "dist") + path.sep), `${input} is outside the package's dist`);
        for (const i of imports) if (i.external) outside.push(i.path);
      }
      for (const specifier of outside) {
        const isNode = specifier.startsWith("node:");
        const dependency = ALLOWED_DEPENDENCIES.some((d) => specifier === d || specifier.startsWith(`${d}/`));
        assert.ok(dependency || (node && isNode), `dist/${entry} imports ${specifier}`);
      }
      assert.ok(outside.some((s) => s.startsWith("@noble/hashes/")), `no import of @noble/hashes found: ${outside.join(", ")}`);
    });
  }
});

describe("the client's wire types", () => {
  it("are what the server's OpenAPI document generates (else run npm run gen:client)", async () => {
    const committed = await readFile(WIRE_FILE, "utf8");
    assert.ok(committed === (await generateClientWire()), `${path.relative(ROOT, WIRE_FILE)} differs from the API: run npm run gen:client and commit it`);
  });
});

describe("what the client cannot read from the API equals the server's", () => {
  it("cuts a multipart file into the same part lengths", () => {
    const MIB = 1024 ** 2;
    for (const size of [0, 1, 5 * MIB - 1, 5 * MIB, 5 * MIB + 1, 64 * MIB + 3, 1024 ** 3 + 7, 5 * 1024 ** 4]) {
      for (const preferred of [5 * MIB, 8 * MIB, 100 * MIB]) {
        const plan: MultipartPlan = planParts(size, preferred);
        const ticket = { size, multipart: plan } as Parameters<typeof serverPartLength>[0];
        for (const n of new Set([1, 2, plan.partCount - 1, plan.partCount].filter((n) => n >= 1 && n <= plan.partCount))) {
          assert.equal(partLength(plan, size, n), serverPartLength(ticket, n), `size ${size}, plan ${JSON.stringify(plan)}, part ${n}`);
        }
      }
    }
  });
});
