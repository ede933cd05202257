import type BetterSqlite3 from "better-sqlite3";
import type { CompiledQuery, QueryResult, SqliteDatabase, SqliteStatement } from "kysely";

/**
 * SQLite for the embedded metadata store, on the binding this Node has. From Node 24 that is
 * its built-in `node:sqlite`: no native module to build at install, and no warning at start.
 * Before, better-sqlite3 (an optional dependency): Node 20 has no `node:sqlite`, and Node 22's
 * prints an ExperimentalWarning on every start, so it is used there only when better-sqlite3
 * cannot load. docs/decisions.md, "Runtime", says why.
 */
export type SqliteDriver = "node:sqlite" | "better-sqlite3";

/** One open database, either binding, with the same results (plain-object rows). */
export interface SqliteConnection {
  readonly driver: SqliteDriver;
  /** What Kysely's SqliteDialect drives. Prepared statements are cached by their SQL text. */
  readonly database: SqliteDatabase;
  /** Runs SQL that returns nothing (pragmas, schema). */
  exec(sql: string): void;
  /**
   * Runs the queries as one transaction, from BEGIN IMMEDIATE to COMMIT, without yielding to
   * the event loop. Through Kysely's transaction the write lock would be held across
   * event-loop turns; a lock is waited for synchronously (busy_timeout), so a second
   * connection in the same process waiting for it would block the very loop that must
   * commit, and both would time out. Run whole, a transaction never waits on its own process.
   */
  runImmediate(queries: readonly CompiledQuery[]): QueryResult<unknown>[];
  close(): void;
}

/** The part of `node:sqlite` used here (@types/node stays at Node 20's, which has none). */
interface NodeSqlite {
  DatabaseSync: new (file: string, options?: { readOnly?: boolean }) => NodeDatabase;
}
interface NodeDatabase {
  readonly isTransaction: boolean;
  exec(sql: string): void;
  prepare(sql: string): NodeStatement;
  close(): void;
}
interface NodeStatement {
  columns(): unknown[];
  all(...parameters: unknown[]): object[];
  run(...parameters: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  iterate(...parameters: unknown[]): IterableIterator<object>;
}

const NODE_MAJOR = Number(process.versions.node.split(".")[0]);

/**
 * The bindings `openSqlite` tries, in order, unless told which: from Node 24 its own; before,
 * better-sqlite3, then Node 22's (with its warning) where better-sqlite3 did not install.
 */
export function preferredSqliteDrivers(): SqliteDriver[] {
  return NODE_MAJOR >= 24 ? ["node:sqlite", "better-sqlite3"] : ["better-sqlite3", "node:sqlite"];
}

/** Every binding that opens a database on this Node (the tests run each). */
export async function sqliteDriversHere(): Promise<SqliteDriver[]> {
  const here: SqliteDriver[] = [];
  for (const driver of preferredSqliteDrivers()) {
    try {
      (await openSqlite(":memory:", { driver })).close();
      here.push(driver);
    } catch {
      // Node 20 has no node:sqlite; better-sqlite3 may be missing, or built for another
      // Node's ABI (the test command installs it for Node 20 and runs the suite on 24 too).
    }
  }
  return here;
}

/** Opens (creating unless read-only) a database file, or `:memory:`, waiting up to 5 s for a lock. */
export async function openSqlite(file: string, options: { readonly?: boolean; driver?: SqliteDriver } = {}): Promise<SqliteConnection> {
  const readonly = options.readonly ?? false;
  const open = async (driver: SqliteDriver) => (driver === "node:sqlite" ? openBuiltin(file, readonly) : openBetterSqlite(file, readonly));
  let connection: SqliteConnection;
  if (options.driver) {
    connection = await open(options.driver);
  } else {
    const [first, second] = preferredSqliteDrivers() as [SqliteDriver, SqliteDriver];
    try {
      connection = await open(first);
    } catch (err) {
      // Only a binding that cannot load falls through; a file that cannot be opened fails the same on both.
      if (!(err instanceof SqliteUnavailable)) throw err;
      connection = await open(second).catch(() => {
        throw err;
      });
    }
  }
  connection.exec("PRAGMA busy_timeout = 5000");
  return connection;
}

/** This Node cannot load the binding at all (not that it failed to open a file). */
class SqliteUnavailable extends Error {}

/** `node:sqlite` where it has what is used here (StatementSync#columns: Node 22.16 and 24). */
function builtinSqlite(): NodeSqlite | undefined {
  try {
    const sqlite = process.getBuiltinModule("node:sqlite") as (NodeSqlite & { StatementSync?: { prototype: Partial<NodeStatement> } }) | undefined;
    return typeof sqlite?.StatementSync?.prototype.columns === "function" ? sqlite : undefined;
  } catch {
    // Node 22 before 22.13 keeps it behind --experimental-sqlite.
    return undefined;
  }
}

function openBuiltin(file: string, readOnly: boolean): SqliteConnection {
  const sqlite = builtinSqlite();
  if (!sqlite) throw new SqliteUnavailable(`node:sqlite is not available on Node ${process.versions.node}`);
  const db = new sqlite.DatabaseSync(file, { readOnly });
  const database = withStatementCache(db, (sql) => builtinStatement(db.prepare(sql)));
  return {
    driver: "node:sqlite",
    database,
    exec: (sql) => db.exec(sql),
    runImmediate: (queries) => immediately(db, () => db.isTransaction, database, queries),
    close: () => db.close(),
  };
}

/**
 * better-sqlite3's statement, as Kysely expects it: rows as plain objects (node:sqlite's have
 * a null prototype), parameters as an array, `reader` when the statement returns rows.
 */
function builtinStatement(statement: NodeStatement): SqliteStatement {
  return {
    reader: statement.columns().length > 0,
    all: (parameters) => statement.all(...parameters).map((row) => ({ ...row })),
    run: (parameters) => statement.run(...parameters),
    *iterate(parameters) {
      for (const row of statement.iterate(...parameters)) yield { ...row };
    },
  };
}

async function openBetterSqlite(file: string, readonly: boolean): Promise<SqliteConnection> {
  let Database: typeof BetterSqlite3;
  try {
    ({ default: Database } = await import("better-sqlite3"));
    // Its native module loads at the first database, not at import: a throwaway one tells
    // "cannot load" (not installed, or built for another Node) from "cannot open this file".
    new Database(":memory:").close();
  } catch (err) {
    throw new SqliteUnavailable(
      `SQLite on Node ${process.versions.node} needs better-sqlite3 (an optional dependency; Node 24 has SQLite built in): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const db = new Database(file, { readonly });
  const database = withStatementCache(db, (sql) => db.prepare(sql));
  return {
    driver: "better-sqlite3",
    database,
    exec: (sql) => void db.exec(sql),
    runImmediate: (queries) => immediately(db, () => db.inTransaction, database, queries),
    close: () => db.close(),
  };
}

function immediately(db: { exec(sql: string): unknown }, inTransaction: () => boolean, database: SqliteDatabase, queries: readonly CompiledQuery[]): QueryResult<unknown>[] {
  db.exec("BEGIN IMMEDIATE");
  try {
    const results = queries.map((q): QueryResult<unknown> => {
      const statement = database.prepare(q.sql);
      if (statement.reader) {
        const rows = statement.all(q.parameters);
        return { rows, numAffectedRows: BigInt(rows.length) };
      }
      return { rows: [], numAffectedRows: BigInt(statement.run(q.parameters).changes) };
    });
    db.exec("COMMIT");
    return results;
  } catch (err) {
    // A failed COMMIT, or SQLite's own rollback on some errors, may have ended it already.
    if (inTransaction()) db.exec("ROLLBACK");
    throw err;
  }
}

/**
 * Kysely's SQLite driver prepares every query anew. The stores' SQL comes from a small, fixed
 * set of query shapes (values are bound, never inlined), so prepared statements are cached by
 * their text; the cache is bounded all the same.
 */
function withStatementCache(db: { close(): void }, prepare: (sql: string) => SqliteStatement, max = 256): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (!statement) {
        statement = prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}
