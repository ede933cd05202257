import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceNotFoundException,
  UpdateItemCommand,
  type AttributeValue,
} from "@aws-sdk/client-dynamodb";
import { newSecret } from "../internal/crypto.js";
import { TOMBSTONE_MS, type ClaimResult, type ConsumeResult, type Ticket, type TicketState, type TicketStore } from "./ticket-store.js";

/**
 * Durable tickets in DynamoDB. One item per ticket:
 *   id  partition key     t  the ticket (JSON)     s  state       e  expiresAt (ms)
 *   l   lease, if held    u  lease until (ms)      ttl  when DynamoDB may delete it (epoch s)
 * Every transition is one conditional UpdateItem: DynamoDB applies the condition and the
 * write atomically, so of concurrent claimers exactly one succeeds. Expiry is checked by the
 * condition itself; `ttl` only collects garbage (DynamoDB deletes within days, so reads treat
 * an item past its ttl as gone).
 */
type Item = Record<string, AttributeValue>;

const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });

export interface DynamoTicketStoreOptions {
  table: string;
  client?: DynamoDBClient;
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  now?: () => number;
}

export class DynamoTicketStore implements TicketStore {
  readonly name = "dynamodb ticket store";
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #now: () => number;

  constructor(options: DynamoTicketStoreOptions) {
    this.#client =
      options.client ??
      new DynamoDBClient({
        ...(options.region && { region: options.region }),
        ...(options.endpoint && { endpoint: options.endpoint }),
        ...(options.credentials && { credentials: options.credentials }),
        // Fail fast: a ticket call that cannot be answered within seconds becomes a 503.
        maxAttempts: 2,
        requestHandler: { connectionTimeout: 2000, requestTimeout: 3000 },
      });
    this.#table = options.table;
    this.#now = options.now ?? Date.now;
  }

  /** Creates the table with TTL on `ttl` if it does not exist (development and tests; deployments create it with the stack). */
  async ensureTable(): Promise<void> {
    try {
      await this.#client.send(new DescribeTableCommand({ TableName: this.#table }));
      return;
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
    }
    await this.#client.send(
      new CreateTableCommand({
        TableName: this.#table,
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
  }

  async issue(ticket: Ticket): Promise<void> {
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: { id: S(ticket.id), t: S(JSON.stringify(ticket)), s: S("issued"), e: N(ticket.expiresAt), ttl: N(ttlOf(ticket.expiresAt)) },
          ConditionExpression: "attribute_not_exists(id)",
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) throw new Error(`Ticket ${ticket.id} already exists.`, { cause: err });
      throw err;
    }
  }

  async claim(id: string, { leaseMs }: { leaseMs: number }): Promise<ClaimResult> {
    const now = this.#now();
    const lease = newSecret(12);
    const until = now + leaseMs;
    const item = await this.#update(id, {
      UpdateExpression: "SET s = :claimed, l = :lease, u = :until",
      ConditionExpression: "attribute_exists(id) AND e > :now AND (s = :issued OR (s = :claimed AND u <= :now))",
      ExpressionAttributeValues: { ":claimed": S("claimed"), ":issued": S("issued"), ":lease": S(lease), ":until": N(until), ":now": N(now) },
    });
    if (!item) {
      const why = await this.#why(id, now);
      return { ok: false, reason: why === "lease_lost" ? "claimed" : why };
    }
    await this.#keepUntil(id, item, until);
    return { ok: true, ticket: ticketOf(item), lease };
  }

  async renew(id: string, lease: string, { leaseMs }: { leaseMs: number }): Promise<boolean> {
    const until = this.#now() + leaseMs;
    const item = await this.#update(id, {
      UpdateExpression: "SET u = :until",
      ConditionExpression: "s = :claimed AND l = :lease",
      ExpressionAttributeValues: { ":claimed": S("claimed"), ":lease": S(lease), ":until": N(until) },
    });
    if (item) await this.#keepUntil(id, item, until);
    return item !== undefined;
  }

  async release(id: string, lease: string): Promise<boolean> {
    const item = await this.#update(id, {
      UpdateExpression: "SET s = :issued REMOVE l, u",
      ConditionExpression: "s = :claimed AND l = :lease",
      ExpressionAttributeValues: { ":claimed": S("claimed"), ":issued": S("issued"), ":lease": S(lease) },
    });
    return item !== undefined;
  }

  async consume(id: string, lease: string | null): Promise<ConsumeResult> {
    const now = this.#now();
    const item =
      lease === null
        ? await this.#update(id, {
            UpdateExpression: "SET s = :consumed REMOVE l, u",
            ConditionExpression: "attribute_exists(id) AND e > :now AND (s = :issued OR (s = :claimed AND u <= :now))",
            ExpressionAttributeValues: { ":consumed": S("consumed"), ":issued": S("issued"), ":claimed": S("claimed"), ":now": N(now) },
          })
        : await this.#update(id, {
            UpdateExpression: "SET s = :consumed REMOVE l, u",
            ConditionExpression: "s = :claimed AND l = :lease",
            ExpressionAttributeValues: { ":consumed": S("consumed"), ":claimed": S("claimed"), ":lease": S(lease) },
          });
    if (item) return { ok: true, ticket: ticketOf(item) };
    const why = await this.#why(id, now);
    return { ok: false, reason: lease !== null && why !== "unknown" && why !== "consumed" && why !== "revoked" ? "lease_lost" : why };
  }

  async revoke(id: string): Promise<boolean> {
    const now = this.#now();
    const item = await this.#update(id, {
      UpdateExpression: "SET s = :revoked REMOVE l, u",
      ConditionExpression: "attribute_exists(id) AND (s = :issued OR (s = :claimed AND u <= :now))",
      ExpressionAttributeValues: { ":revoked": S("revoked"), ":issued": S("issued"), ":claimed": S("claimed"), ":now": N(now) },
    });
    return item !== undefined;
  }

  async get(id: string): Promise<{ ticket: Ticket; state: TicketState } | undefined> {
    const item = await this.#read(id);
    if (!item) return undefined;
    const state = item.s?.S as TicketState;
    const lapsed = state === "claimed" && Number(item.u?.N ?? 0) <= this.#now();
    return { ticket: ticketOf(item), state: lapsed ? "issued" : state };
  }

  async ping(): Promise<void> {
    await this.#client.send(new DescribeTableCommand({ TableName: this.#table }));
  }

  close(): Promise<void> {
    this.#client.destroy();
    return Promise.resolve();
  }

  /** The item after a conditional update, or undefined if the condition did not hold. */
  async #update(
    id: string,
    input: { UpdateExpression: string; ConditionExpression: string; ExpressionAttributeValues: Item; ExpressionAttributeNames?: Record<string, string> },
  ): Promise<Item | undefined> {
    try {
      const out = await this.#client.send(new UpdateItemCommand({ TableName: this.#table, Key: { id: S(id) }, ReturnValues: "ALL_NEW", ...input }));
      return out.Attributes;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }

  /** A consistent read; an item past its ttl (which DynamoDB deletes lazily) counts as gone. */
  async #read(id: string): Promise<Item | undefined> {
    const out = await this.#client.send(new GetItemCommand({ TableName: this.#table, Key: { id: S(id) }, ConsistentRead: true }));
    const item = out.Item;
    if (!item || Number(item.ttl?.N ?? 0) * 1000 <= this.#now()) return undefined;
    return item;
  }

  /** A lease may outlast the ticket's own expiry: keep the item (its tombstone) past the lease too. Rarely needed. */
  async #keepUntil(id: string, item: Item, until: number): Promise<void> {
    const wanted = ttlOf(until);
    if (Number(item.ttl?.N ?? 0) >= wanted) return;
    // `ttl` is a reserved word in expressions: it goes by a placeholder name.
    await this.#update(id, { UpdateExpression: "SET #ttl = :ttl", ConditionExpression: "attribute_exists(id) AND #ttl < :ttl", ExpressionAttributeValues: { ":ttl": N(wanted) }, ExpressionAttributeNames: { "#ttl": "ttl" } });
  }

  async #why(id: string, now: number): Promise<"unknown" | "expired" | "claimed" | "consumed" | "revoked" | "lease_lost"> {
    const item = await this.#read(id);
    if (!item) return "unknown";
    const state = item.s?.S;
    if (state === "consumed" || state === "revoked") return state;
    if (state === "claimed" && Number(item.u?.N ?? 0) > now) return "claimed";
    if (Number(item.e?.N ?? 0) <= now) return "expired";
    return "lease_lost";
  }
}

/** DynamoDB's TTL is in epoch seconds; the tombstone keeps a used or expired ticket readable a while. */
function ttlOf(ms: number): number {
  return Math.ceil((ms + TOMBSTONE_MS) / 1000);
}

function ticketOf(item: Item): Ticket {
  return JSON.parse(item.t?.S ?? "null") as Ticket;
}
