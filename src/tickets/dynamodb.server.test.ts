import type { AddressInfo } from "node:net";
import dynalite from "dynalite";
import { DynamoTicketStore } from "./dynamodb.js";
import { describeSharedTicketStore } from "./ticket-store.conformance.js";

/** A DynamoDB-compatible server from npm (dynalite, in memory), on a free loopback port. */
let endpoint: string;
describeSharedTicketStore(
  "dynamodb (dynalite, a local DynamoDB-compatible server)",
  async () => {
    const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new DynamoTicketStore({ table: "sluice-tickets", endpoint, ...local }).ensureTable();
    return [{ stop: () => new Promise<void>((resolve) => server.close(() => resolve())) }];
  },
  () => new DynamoTicketStore({ table: "sluice-tickets", endpoint, ...local }),
);

const local = { region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } };
