/**
 * An {@link ExampleStore} in a SQLite file (better-sqlite3), for a Node client.
 * @module
 */
import { DpError } from "../../errors.js";
import { openSqliteDatabase } from "../../util/sqlite.js";
import {
  checkExample,
  checkExamples,
  checkSelector,
  oldestAllowed,
  resolveExampleStoreOptions,
  type ExampleSelector,
  type ExampleStore,
  type ExampleStoreOptions,
  type StoredExample,
} from "./example-store.js";

/** Options for {@link openSqliteExampleStore}. */
export interface SqliteExampleStoreOptions extends ExampleStoreOptions {
  /** Path of the database file (created if missing); ":memory:" for a throw-away store. */
  file: string;
}

/** Rows read per page by the iterator. */
const PAGE = 512;

/**
 * Opens (or creates) an example store in a SQLite file.
 *
 * @remarks
 * Node only (better-sqlite3 is a native module, loaded on first use). One table
 * `examples(id INTEGER PRIMARY KEY, added_at, label, features BLOB)`; features are stored as
 * little-endian float32. Expired rows are deleted on open, on `add` and on `expire()`, and are
 * never returned in between. The file holds the user's raw examples: they never leave the
 * device, only a privatised model update does.
 *
 * @param options - file, featureLength, timeToLiveMs, maxExamples, now
 * @returns the open store
 * @throws {@link DpError} `io_error` when the file cannot be opened or belongs to a store of another width; `invalid_parameter` for bad options
 * @example
 * ```ts
 * import { openSqliteExampleStore } from "dpkit/federated";
 * const store = await openSqliteExampleStore({ file: ":memory:", featureLength: 3, timeToLiveMs: 60_000, maxExamples: 1000 });
 * await store.add([0, 0.5, 1], 2);
 * for await (const e of store.examples({ labels: [2] })) console.log(e.label);
 * await store.close();
 * ```
 */
export async function openSqliteExampleStore(options: SqliteExampleStoreOptions): Promise<ExampleStore> {
  const o = resolveExampleStoreOptions(options);
  const file = options.file;
  if (typeof file !== "string" || file.length === 0) {
    throw new DpError("invalid_parameter", `\`file\` must be a non-empty path. Found ${String(file)}.`, "file");
  }
  const db = await openSqliteDatabase(file, "A SQLite example store", "the example store", "file");
  try {
    if (file !== ":memory:") db.pragma("journal_mode = WAL");
    db.exec(
      "CREATE TABLE IF NOT EXISTS example_store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);" +
        "CREATE TABLE IF NOT EXISTS examples (id INTEGER PRIMARY KEY AUTOINCREMENT, added_at REAL NOT NULL, label INTEGER NOT NULL, features BLOB NOT NULL);" +
        "CREATE INDEX IF NOT EXISTS examples_added_at ON examples(added_at);",
    );
    const width = db.prepare("SELECT value FROM example_store_meta WHERE key = 'featureLength'").get() as { value: string } | undefined;
    if (width === undefined)
      db.prepare("INSERT INTO example_store_meta (key, value) VALUES ('featureLength', ?)").run(String(o.featureLength));
    else if (Number(width.value) !== o.featureLength) {
      throw new DpError(
        "io_error",
        `The example store ${JSON.stringify(file)} holds features of length ${width.value}, not ${o.featureLength}.`,
        "featureLength",
      );
    }
  } catch (e) {
    db.close();
    if (e instanceof DpError) throw e;
    throw new DpError("io_error", `Cannot open the example store ${JSON.stringify(file)}: ${(e as Error).message}`, "file");
  }
  const insert = db.prepare("INSERT INTO examples (added_at, label, features) VALUES (?, ?, ?)");
  const deleteOld = db.prepare("DELETE FROM examples WHERE added_at < ?");
  const countAll = db.prepare("SELECT COUNT(*) AS n FROM examples");
  const trim = db.prepare("DELETE FROM examples WHERE id IN (SELECT id FROM examples ORDER BY id ASC LIMIT ?)");
  let closed = false;
  const live = (): void => {
    if (closed) throw new DpError("invalid_state", "The example store is closed.");
  };
  const expireNow = (): number => deleteOld.run(o.now() - o.timeToLiveMs).changes;
  const enforceBound = (): void => {
    const n = (countAll.get() as { n: number }).n;
    if (n > o.maxExamples) trim.run(n - o.maxExamples);
  };
  const addRows = db.transaction((rows: { features: Float32Array; label: number }[]) => {
    const t = o.now();
    for (const r of rows) insert.run(t, r.label, Buffer.from(r.features.buffer, r.features.byteOffset, r.features.byteLength));
    expireNow();
    enforceBound();
  });
  expireNow();

  function where(selector: ExampleSelector): { sql: string; args: unknown[] } {
    const parts = ["added_at >= ?"];
    const args: unknown[] = [oldestAllowed(selector, o)];
    if (selector.labels !== undefined) {
      if (selector.labels.length === 0) parts.push("0");
      else {
        parts.push(`label IN (${selector.labels.map(() => "?").join(",")})`);
        args.push(...selector.labels);
      }
    }
    return { sql: parts.join(" AND "), args };
  }

  const store: ExampleStore = {
    featureLength: o.featureLength,
    async add(features, label) {
      live();
      addRows([{ features: checkExample(features, label, o.featureLength), label }]);
    },
    async addMany(examples) {
      live();
      const rows = checkExamples(examples, o.featureLength);
      addRows(rows);
      return rows.length;
    },
    async count(selector) {
      live();
      const s = checkSelector(selector);
      const w = where(s);
      const n = (db.prepare(`SELECT COUNT(*) AS n FROM examples WHERE ${w.sql}`).get(...w.args) as { n: number }).n;
      return s.limit !== undefined ? Math.min(n, s.limit) : n;
    },
    examples(selector) {
      const s = checkSelector(selector);
      return {
        async *[Symbol.asyncIterator](): AsyncGenerator<StoredExample> {
          live();
          const w = where(s);
          const newestFirst = s.limit !== undefined;
          let remaining = s.limit ?? Infinity;
          let cursor = newestFirst ? Number.MAX_SAFE_INTEGER : 0;
          while (remaining > 0) {
            live();
            const take = Math.min(PAGE, remaining);
            const rows = db
              .prepare(
                `SELECT id, added_at, label, features FROM examples WHERE ${w.sql} AND id ${newestFirst ? "<" : ">"} ? ORDER BY id ${newestFirst ? "DESC" : "ASC"} LIMIT ?`,
              )
              .all(...w.args, cursor, take) as { id: number; added_at: number; label: number; features: Uint8Array }[];
            for (const r of rows) {
              const bytes = new Uint8Array(r.features);
              yield {
                id: r.id,
                addedAt: r.added_at,
                label: r.label,
                features: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4),
              };
            }
            remaining -= rows.length;
            if (rows.length < take) break;
            cursor = rows[rows.length - 1].id;
          }
        },
      };
    },
    async expire() {
      live();
      return expireNow();
    },
    async clear() {
      live();
      db.exec("DELETE FROM examples");
    },
    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
  return store;
}
