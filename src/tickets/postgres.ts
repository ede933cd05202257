import { createPostgresKysely } from "../internal/postgres.js";
import { SqlTicketStore, type TicketDatabase } from "./sql.js";

/** How often each instance deletes rows past their tombstone (any instance may; deletes are idempotent). */
const SWEEP_MS = 60_000;

/** Durable tickets in PostgreSQL (see SqlTicketStore), each instance sweeping expired rows every minute. */
export class PostgresTicketStore extends SqlTicketStore {
  constructor(options: { url: string; now?: () => number }) {
    super({
      db: createPostgresKysely<TicketDatabase>(options.url),
      dialect: "postgres",
      name: "postgres ticket store",
      sweepEveryMs: SWEEP_MS,
      ...(options.now && { now: options.now }),
    });
  }
}
