/**
 * SQLite through the optional better-sqlite3 package: the part of its API dpkit uses, and one
 * open that turns a failure into an `io_error` naming the file. Used by the persistent privacy
 * budget, the RAPPOR client store, the example store and the federated service's state.
 * @module
 */
import { DpError } from "../errors.js";
import { importOptional } from "./optional.js";

/** A prepared statement (the part of better-sqlite3's API dpkit uses). @internal */
export interface SqliteStatement {
  run(...args: unknown[]): { lastInsertRowid: number | bigint; changes: number };
  get(...args: unknown[]): unknown;
  all(...args: unknown[]): unknown[];
}

/** A database connection (the part of better-sqlite3's API dpkit uses). @internal */
export interface SqliteDatabase {
  exec(sql: string): unknown;
  prepare(sql: string): SqliteStatement;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): ((...args: A) => R) & { immediate(...args: A): R };
  pragma(sql: string): unknown;
  close(): void;
}

/**
 * Opens (or creates) a SQLite file with better-sqlite3, loaded on first use.
 *
 * @param file - the path, or ":memory:"
 * @param feature - what needs SQLite, for the missing-package error ("A SQLite privacy budget")
 * @param what - how an open failure names the file ("SQLite file", "the RAPPOR store")
 * @param argument - the argument an open failure names
 * @returns the connection
 * @throws {@link DpError} `missing_dependency` without better-sqlite3, `io_error` when the file cannot be opened
 * @example
 * ```ts
 * // inside dpkit:
 * import { openSqliteDatabase } from "../util/sqlite.js";
 * const db = await openSqliteDatabase(":memory:", "A SQLite store", "the store", "file");
 * ```
 * @internal
 */
export async function openSqliteDatabase(file: string, feature: string, what: string, argument: string): Promise<SqliteDatabase> {
  const mod = await importOptional<{ default: new (file: string) => SqliteDatabase }>("better-sqlite3", feature);
  try {
    return new mod.default(file);
  } catch (e) {
    throw new DpError("io_error", `Cannot open ${what} ${JSON.stringify(file)}: ${(e as Error).message}`, argument);
  }
}
