/**
 * A {@link PrivacyBudget} persisted in a SQLite file (better-sqlite3), so that a restarted
 * process — or a second process on the same file — cannot forget what was spent.
 * @module
 */
import { DpError, describeValue, requireInteger } from "../errors.js";
import { type DpEvent, validateEvent } from "./events.js";
import { DpEventBuilder } from "./ledger.js";
import { PrivacyBudget, type PrivacyBudgetJson, type PrivacyBudgetOptions, type SpentPrivacy } from "./budget.js";
import { openSqliteDatabase } from "../util/sqlite.js";

/** Options of {@link openSqlitePrivacyBudget}. */
export interface SqlitePrivacyBudgetOptions extends PrivacyBudgetOptions {
  /** The database file (created if missing). */
  file: string;
  /** Budget name within the file (several budgets may share one file); default `"default"`. */
  name?: string;
  /** How long a call waits for another process's lock before failing with `io_error`, in ms; default 5000. */
  busyTimeoutMs?: number;
}

/** A persistent budget: every spend is written (in an immediate transaction) before it counts. */
export interface SqlitePrivacyBudget {
  /** The budget name. */
  readonly name: string;
  /** Whether spending `event` would exceed the budget (including spends by other processes). */
  wouldExceed(event: DpEvent, count?: number): boolean;
  /** Spends or throws `budget_exceeded`; the spend is durable when this returns. */
  spend(event: DpEvent, count?: number): void;
  /** ε spent (at the budget's δ). */
  spent(): SpentPrivacy;
  /** ε left (a guide; see {@link PrivacyBudget.remaining}). */
  remaining(): SpentPrivacy;
  /** The current state as JSON. */
  toJSON(): PrivacyBudgetJson;
  /** Closes the database. */
  close(): void;
}

interface StoredConfig {
  epsilon: number;
  delta: number;
  accountant: string;
  neighboringRelation: string;
  valueDiscretizationInterval?: number;
}

/**
 * Opens (or creates) a persistent privacy budget in a SQLite file.
 *
 * @remarks
 * Tables `dpkit_privacy_budget(name, config)` and `dpkit_privacy_spend(id, name, event, at)`.
 * A spend re-reads spends committed by other processes, checks the budget, and inserts its row in
 * one IMMEDIATE transaction (so two processes cannot both spend the last of a budget). Reopening
 * an existing budget with different ε, δ or accountant is refused (`invalid_state`): a budget is
 * never silently enlarged. Node only (better-sqlite3 is a native module, loaded on first use).
 *
 * @param options - the budget ({@link PrivacyBudgetOptions}), file and name
 * @returns the persistent budget
 * @throws {@link DpError} `invalid_parameter`, `invalid_state` (config mismatch), `io_error`
 * @example
 * ```ts
 * import { openSqlitePrivacyBudget, gaussianEvent } from "dpkit/accounting";
 * const budget = await openSqlitePrivacyBudget({ file: "budget.db", epsilon: 3, delta: 1e-5 });
 * budget.spend(gaussianEvent(20));
 * console.log(budget.spent());
 * budget.close();
 * ```
 * @see https://arxiv.org/abs/1605.08294
 */
export async function openSqlitePrivacyBudget(options: SqlitePrivacyBudgetOptions): Promise<SqlitePrivacyBudget> {
  if (options === null || typeof options !== "object") {
    throw new DpError("invalid_parameter", `\`options\` must be an object. Found ${describeValue(options)}.`, "options");
  }
  if (typeof options.file !== "string" || options.file === "") {
    throw new DpError("invalid_parameter", `\`file\` must be a non-empty path. Found ${describeValue(options.file)}.`, "file");
  }
  const name = options.name ?? "default";
  if (typeof name !== "string" || name === "") throw new DpError("invalid_parameter", "`name` must be a non-empty string.", "name");
  const busyTimeout =
    options.busyTimeoutMs === undefined ? 5000 : requireInteger("busyTimeoutMs", options.busyTimeoutMs, { min: 0, max: 600_000 });
  // Validate the budget options before touching the file.
  const template = new PrivacyBudget(options);
  if (template.accountant === undefined) {
    throw new DpError("invalid_parameter", '`accountant` must be "rdp" or "pld" for a stored budget.', "accountant");
  }
  const config: StoredConfig = {
    epsilon: template.epsilon,
    delta: template.delta,
    accountant: template.accountant,
    neighboringRelation: template.neighboringRelation,
    ...(options.valueDiscretizationInterval === undefined ? {} : { valueDiscretizationInterval: options.valueDiscretizationInterval }),
  };
  const db = await openSqliteDatabase(options.file, "A SQLite privacy budget", "SQLite file", "file");
  // Every database call goes through `io`: a file that is not a database, a lock held past the
  // busy timeout or a full disk is an `io_error` naming the file, never a raw SqliteError.
  const io = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof DpError) throw e;
      const code = (e as { code?: unknown }).code;
      throw new DpError(
        "io_error",
        `Privacy budget ${JSON.stringify(options.file)}: cannot ${what}: ${(e as Error).message}${typeof code === "string" ? ` (${code})` : ""}`,
        "file",
      );
    }
  };
  try {
    io("open the database", () => {
      db.pragma(`busy_timeout = ${busyTimeout}`);
      db.pragma("journal_mode = WAL");
    });
  } catch (e) {
    db.close();
    throw e;
  }
  io("create its tables", () =>
    db.exec(`CREATE TABLE IF NOT EXISTS dpkit_privacy_budget (name TEXT PRIMARY KEY, config TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS dpkit_privacy_spend (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, event TEXT NOT NULL, count INTEGER NOT NULL, at TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS dpkit_privacy_spend_name ON dpkit_privacy_spend(name, id);`),
  );
  const [getConfig, putConfig, rowsAfter, insert] = io("prepare its statements", () => [
    db.prepare("SELECT config FROM dpkit_privacy_budget WHERE name = ?"),
    db.prepare("INSERT INTO dpkit_privacy_budget (name, config) VALUES (?, ?)"),
    db.prepare("SELECT id, event, count FROM dpkit_privacy_spend WHERE name = ? AND id > ? ORDER BY id"),
    db.prepare("INSERT INTO dpkit_privacy_spend (name, event, count, at) VALUES (?, ?, ?, ?)"),
  ]);

  io("read its configuration", () =>
    db
      .transaction(() => {
        const row = getConfig.get(name) as { config: string } | undefined;
        if (!row) {
          putConfig.run(name, JSON.stringify(config));
          return;
        }
        const stored = JSON.parse(row.config) as StoredConfig;
        for (const k of ["epsilon", "delta", "accountant", "neighboringRelation", "valueDiscretizationInterval"] as const) {
          if (stored[k] !== config[k]) {
            db.close();
            throw new DpError(
              "invalid_state",
              `Budget ${JSON.stringify(name)} in ${options.file} was created with ${k} = ${String(stored[k])}; refusing to reopen it with ${String(config[k])}.`,
              k,
            );
          }
        }
      })
      .immediate(),
  );

  let budget = template;
  let lastId = 0;
  const ledger = new DpEventBuilder();
  const sync = (): void => {
    const rows = rowsAfter.all(name, lastId) as { id: number; event: string; count: number }[];
    if (rows.length === 0) return;
    for (const r of rows) {
      ledger.compose(validateEvent(JSON.parse(r.event), "event"), r.count);
      lastId = r.id;
    }
    budget = PrivacyBudget.fromJSON({ ...budget.toJSON(), ledger: ledger.events });
  };
  const refresh = (): void => io("read the spends", () => db.transaction(sync).immediate());
  refresh();

  return {
    name,
    wouldExceed(event, count = 1) {
      refresh();
      return budget.wouldExceed(event, count);
    },
    spend(event, count = 1) {
      const ev = validateEvent(event, "event");
      io("record the spend", () =>
        db
          .transaction(() => {
            sync();
            const prepared = budget.prepareSpend(ev, count); // throws before anything is written
            const info = insert.run(name, JSON.stringify(ev), count, new Date().toISOString());
            prepared.commit();
            ledger.compose(ev, count);
            lastId = Number(info.lastInsertRowid);
          })
          .immediate(),
      );
    },
    spent() {
      refresh();
      return budget.spent();
    },
    remaining() {
      refresh();
      return budget.remaining();
    },
    toJSON() {
      // Includes the spends other processes committed since the last call (it was stale before).
      refresh();
      return budget.toJSON();
    },
    close() {
      db.close();
    },
  };
}
