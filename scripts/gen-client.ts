/**
 * Generates the client's wire types (packages/client/src/wire.ts) from the server's own
 * OpenAPI document, so that the client cannot drift from the API: `npm run gen:client`.
 * The document is produced in-process by the app itself on embedded backends in a temporary
 * directory (no server, no port); test/client-wire.test.ts fails when the committed file
 * differs from a fresh generation.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import openapiTS, { astToString, type OpenAPI3 } from "openapi-typescript";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/internal/logger.js";
import { createSluice } from "../src/runtime/compose.js";

export const WIRE_FILE = path.resolve(import.meta.dirname, "../packages/client/src/wire.ts");

const HEADER = `/**
 * The Sluice HTTP API's types, generated from the server's OpenAPI document (/openapi.json)
 * by openapi-typescript. Do not edit: run \`npm run gen:client\` after changing the API.
 */

/* eslint-disable */
`;

/** The OpenAPI document exactly as GET /openapi.json serves it. */
export async function openApiDocument(): Promise<OpenAPI3> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-openapi-"));
  try {
    const config = loadConfig({
      SLUICE_DATA_DIR: dir,
      SLUICE_API_KEYS: "sk_openapi_generation_only_0123456789",
      SLUICE_PUBLIC_URL: "http://localhost:8080",
      SLUICE_LOG_LEVEL: "silent",
    });
    const sluice = await createSluice(config, { logger: createLogger({ level: "silent" }) });
    try {
      const response = await sluice.app.request("/openapi.json");
      if (!response.ok) throw new Error(`GET /openapi.json answered ${response.status}`);
      return (await response.json()) as OpenAPI3;
    } finally {
      await sluice.close();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The contents wire.ts must have for the API as it is now. */
export async function generateClientWire(): Promise<string> {
  const ast = await openapiTS(await openApiDocument());
  return HEADER + astToString(ast);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await fs.writeFile(WIRE_FILE, await generateClientWire());
  console.log(`wrote ${path.relative(process.cwd(), WIRE_FILE)}`);
}
