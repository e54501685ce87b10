/**
 * A RAPPOR client store in a SQLite file (better-sqlite3), for a device that must keep its
 * secret, cohort and memoised PRRs across restarts.
 *
 * @module
 */
import { DpError, requireObject } from "../../errors.js";
import type { RapporClientStore } from "./store.js";
import { openSqliteDatabase, type SqliteStatement } from "../../util/sqlite.js";

/** A {@link RapporClientStore} backed by a SQLite file; close it when done. */
export interface RapporSqliteStore extends RapporClientStore {
  /** The database file. */
  readonly file: string;
  /** Closes the database. */
  close(): void;
}

/** Options for {@link openRapporSqliteStore}. */
export interface RapporSqliteStoreOptions {
  /** Path of the database file (created if missing). */
  file: string;
  /** Name prefix of the tables, to keep several clients (metrics) in one file; default "rappor". */
  namespace?: string;
}

/**
 * Opens (or creates) a SQLite-backed RAPPOR client store with better-sqlite3.
 *
 * @remarks
 * Node only (better-sqlite3 is a native module, loaded on first use). Tables:
 * `<namespace>_client(key, value)` for the secret and cohort, `<namespace>_prr(key, prr)` for
 * memoised PRRs. The file holds the client secret: protect it like a private key.
 *
 * @param options - {@link RapporSqliteStoreOptions}
 * @returns the open store
 * @throws {@link DpError} `io_error` when the file cannot be opened; `invalid_parameter` for a bad namespace
 * @example
 * ```ts
 * import { createRapporEncoder, openRapporSqliteStore, DEFAULT_RAPPOR_PARAMS } from "dpkit/ldp";
 * const store = await openRapporSqliteStore({ file: "rappor-client.db" });
 * const encoder = createRapporEncoder({ params: DEFAULT_RAPPOR_PARAMS, store });
 * encoder.encode("https://example.com/");
 * store.close();
 * ```
 */
export async function openRapporSqliteStore(options: RapporSqliteStoreOptions): Promise<RapporSqliteStore> {
  requireObject("options", options);
  const file = options.file;
  if (typeof file !== "string" || file.length === 0) {
    throw new DpError("invalid_parameter", `\`file\` must be a non-empty path. Found ${String(file)}.`, "file");
  }
  const ns = options.namespace ?? "rappor";
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(ns)) {
    throw new DpError("invalid_parameter", `\`namespace\` must be an identifier. Found ${JSON.stringify(ns)}.`, "namespace");
  }
  const db = await openSqliteDatabase(file, "A RAPPOR SQLite store", "the RAPPOR store", "file");
  // A file that is not a database (or a held lock) fails here: an io_error naming the file, not a raw SqliteError.
  let statements: SqliteStatement[];
  try {
    db.pragma("journal_mode = WAL");
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${ns}_client (key TEXT PRIMARY KEY, value BLOB NOT NULL);` +
        `CREATE TABLE IF NOT EXISTS ${ns}_prr (key TEXT PRIMARY KEY, prr INTEGER NOT NULL);`,
    );
    statements = [
      db.prepare(`SELECT value FROM ${ns}_client WHERE key = ?`),
      db.prepare(`INSERT INTO ${ns}_client (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
      db.prepare(`SELECT prr FROM ${ns}_prr WHERE key = ?`),
      db.prepare(`INSERT INTO ${ns}_prr (key, prr) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET prr = excluded.prr`),
    ];
  } catch (e) {
    db.close();
    throw new DpError("io_error", `Cannot use the RAPPOR store ${JSON.stringify(file)}: ${(e as Error).message}`, "file");
  }
  const [getMeta, setMeta, getPrr, setPrr] = statements;
  return {
    file,
    getSecret() {
      const row = getMeta.get("secret") as { value: Uint8Array } | undefined;
      return row ? new Uint8Array(row.value) : undefined;
    },
    setSecret(secret: Uint8Array) {
      setMeta.run("secret", Buffer.from(secret));
    },
    getCohort() {
      const row = getMeta.get("cohort") as { value: Uint8Array | string | number } | undefined;
      return row ? Number(String(row.value)) : undefined;
    },
    setCohort(cohort: number) {
      setMeta.run("cohort", String(cohort));
    },
    getPrr(key: string) {
      const row = getPrr.get(key) as { prr: number } | undefined;
      return row ? row.prr : undefined;
    },
    setPrr(key: string, prr: number) {
      setPrr.run(key, prr);
    },
    close() {
      db.close();
    },
  };
}
