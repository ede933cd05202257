/**
 * The Lambda@Edge entry point: `index.originRequest`, `index.originResponse`. Lambda@Edge
 * has no environment variables, so the stack writes `edge-config.json` beside this file when
 * it bundles the function (infra/sluice-stack.ts): the ticket table and its region. The ticket
 * store's client is made once per container, at module load.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { createLogger } from "../../internal/logger.js";
import { DynamoTicketStore } from "../../tickets/dynamodb.js";
import { edgeHandlers } from "./edge-handlers.js";

export const EdgeSettingsSchema = z.object({
  /** `dynamodb://<table>`: the one ticket store reachable from every edge location without a VPC. */
  tickets: z.string().regex(/^dynamodb:\/\/[A-Za-z0-9_.-]{3,255}$/, "tickets must be dynamodb://<table>"),
  region: z.string().min(1),
});

const settings = EdgeSettingsSchema.parse(JSON.parse(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "edge-config.json"), "utf8")));
// The table's region, not the edge location's (AWS_REGION there is where the function runs);
// credentials from the SDK's default chain (the function's role).
const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
const tickets = Promise.resolve(new DynamoTicketStore({ table: settings.tickets.slice("dynamodb://".length), region: settings.region, ...(endpoint && { endpoint }) }));

export const { originRequest, originResponse } = edgeHandlers(tickets, createLogger({ level: "info" }));
