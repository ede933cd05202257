import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";

const INT8_OID = 20;
const parseInt8 = (value: string): number => Number(value);
/** pg's own parsers for every type but BIGINT. */
const typeParser = (oid: number, format?: "text" | "binary"): unknown =>
  oid === INT8_OID ? parseInt8 : (pg.types.getTypeParser(oid, format ?? "text") as unknown);

/**
 * A Kysely instance on a PostgreSQL pool that fails fast: a connection is given up after 2 s
 * and a statement after 5 s, so that an unreachable database turns into a 503 within
 * seconds rather than a request that hangs, and the pool reconnects on its own when the
 * server returns. BIGINT columns (epoch milliseconds, byte sizes: all below 2^53) are read
 * as numbers.
 */
export function createPostgresKysely<DB>(url: string, options: { max?: number } = {}): Kysely<DB> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 5000,
    query_timeout: 6000,
    application_name: "sluice",
    types: { getTypeParser: typeParser as typeof pg.types.getTypeParser },
  });
  // A client whose server went away emits 'error'. The pool listens only while a client is
  // idle in it; one checked out (inside a transaction, between two statements) has no
  // listener, and the event would end the process. So every client gets one: the query in
  // flight fails with the error, and on release the pool drops the client (it is no longer
  // queryable), so the next query connects anew.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}
