/**
 * A DynamoDB-compatible server from npm (dynalite, in memory) on a free loopback port, with
 * Sluice's ticket table made: where the serverless deployment keeps its tickets.
 */
import type { AddressInfo } from "node:net";
import dynalite from "dynalite";
import { DynamoTicketStore } from "../../src/tickets/dynamodb.js";
import { needsServerTier } from "./tier.js";

export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };

export interface LocalDynamo {
  endpoint: string;
  /** A ticket store on `table` (its own client: close it). */
  tickets(table?: string, region?: string): DynamoTicketStore;
  close(): Promise<void>;
}

export async function startDynalite(options: { table?: string; region?: string } = {}): Promise<LocalDynamo> {
  needsServerTier("dynalite");
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tickets = (table = options.table ?? "tickets", region = options.region ?? "us-east-1") =>
    new DynamoTicketStore({ table, endpoint, region, credentials: LOCAL_CREDENTIALS });
  const setup = tickets();
  await setup.ensureTable();
  await setup.close();
  return { endpoint, tickets, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
