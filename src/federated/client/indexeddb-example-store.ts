/**
 * An {@link ExampleStore} in IndexedDB, for a browser client.
 * @module
 */
import { DpError, requireObject } from "../../errors.js";
import {
  exampleWriters,
  checkSelector,
  oldestAllowed,
  resolveExampleStoreOptions,
  type ExampleSelector,
  type ExampleStore,
  type ExampleStoreOptions,
  type StoredExample,
} from "./example-store.js";

/** Options for {@link openIndexedDbExampleStore}. */
export interface IndexedDbExampleStoreOptions extends ExampleStoreOptions {
  /** Database name; default "dpkit-examples". One database holds one store. */
  name?: string;
  /** The IndexedDB factory; default `globalThis.indexedDB`. */
  indexedDB?: IDBFactory;
}

interface Row {
  id?: number;
  addedAt: number;
  label: number;
  features: ArrayBuffer;
}

const PAGE = 512;

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(new DpError("io_error", `IndexedDB request failed: ${r.error?.message ?? "unknown error"}`));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = tx.onerror = () => reject(new DpError("io_error", `IndexedDB transaction failed: ${tx.error?.message ?? "aborted"}`));
  });
}

/**
 * Opens (or creates) an example store in the page's IndexedDB.
 *
 * @remarks
 * Object store `examples` (auto-increment id, index on `addedAt`) and `meta` (the feature
 * width). Features are stored as float32 ArrayBuffers. Reading goes page by page (512 rows per
 * read-only transaction), so an iteration never holds a transaction across the caller's awaits.
 * Expired examples are deleted on open, on every add and on `expire()`, and never returned.
 * The examples stay in the browser; only a privatised model update leaves the page.
 *
 * @param options - featureLength, timeToLiveMs, maxExamples, name, now
 * @returns the open store
 * @throws {@link DpError} `io_error` without IndexedDB, or when the database holds another width
 * @example
 * ```ts
 * import { openIndexedDbExampleStore } from "dpkit/federated";
 * const store = await openIndexedDbExampleStore({ featureLength: 784, timeToLiveMs: 86_400_000 });
 * await store.add(new Float32Array(784), 3);
 * await store.count(); // 1
 * ```
 */
export async function openIndexedDbExampleStore(options: IndexedDbExampleStoreOptions): Promise<ExampleStore> {
  requireObject("options", options);
  const o = resolveExampleStoreOptions(options);
  const idb = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!idb) throw new DpError("io_error", "IndexedDB is not available here (a browser page is needed).", "indexedDB");
  const name = options.name ?? "dpkit-examples";
  if (typeof name !== "string" || name.length === 0 || name.length > 200) {
    throw new DpError("invalid_parameter", `\`name\` must be a non-empty string. Found ${String(name)}.`, "name");
  }
  const open = idb.open(name, 1);
  open.onupgradeneeded = () => {
    const db = open.result;
    const examples = db.createObjectStore("examples", { keyPath: "id", autoIncrement: true });
    examples.createIndex("addedAt", "addedAt");
    db.createObjectStore("meta");
  };
  const db = await request(open);
  {
    const tx = db.transaction("meta", "readwrite");
    const meta = tx.objectStore("meta");
    const width = await request(meta.get("featureLength") as IDBRequest<number | undefined>);
    if (width === undefined) meta.put(o.featureLength, "featureLength");
    await done(tx);
    if (width !== undefined && width !== o.featureLength) {
      db.close();
      throw new DpError(
        "io_error",
        `The example store ${JSON.stringify(name)} holds features of length ${width}, not ${o.featureLength}.`,
        "featureLength",
      );
    }
  }
  let closed = false;
  const live = (): void => {
    if (closed) throw new DpError("invalid_state", "The example store is closed.");
  };

  /** Deletes expired rows and trims to the size bound inside `tx`. */
  function maintain(store: IDBObjectStore): Promise<number> {
    return new Promise((resolve, reject) => {
      let deleted = 0;
      const cur = store.index("addedAt").openCursor(IDBKeyRange.upperBound(o.now() - o.timeToLiveMs, true));
      cur.onerror = () => reject(cur.error);
      cur.onsuccess = () => {
        const c = cur.result;
        if (c) {
          c.delete();
          deleted++;
          c.continue();
          return;
        }
        const cnt = store.count();
        cnt.onerror = () => reject(cnt.error);
        cnt.onsuccess = () => {
          let excess = cnt.result - o.maxExamples;
          if (excess <= 0) return resolve(deleted);
          const oldest = store.openCursor();
          oldest.onerror = () => reject(oldest.error);
          oldest.onsuccess = () => {
            const k = oldest.result;
            if (k && excess > 0) {
              k.delete();
              excess--;
              k.continue();
            } else resolve(deleted);
          };
        };
      };
    });
  }

  async function addRows(rows: { features: Float32Array; label: number }[]): Promise<void> {
    const tx = db.transaction("examples", "readwrite");
    const store = tx.objectStore("examples");
    const t = o.now();
    for (const r of rows) store.add({ addedAt: t, label: r.label, features: r.features.slice().buffer as ArrayBuffer } satisfies Row);
    await maintain(store);
    await done(tx);
  }

  const matches = (r: Row, s: ExampleSelector, oldest: number): boolean =>
    r.addedAt >= oldest && (s.labels === undefined || s.labels.includes(r.label));

  /** One page of rows after (or before, newest first) the key `after`. */
  function page(
    after: number | undefined,
    newestFirst: boolean,
    want: number,
    s: ExampleSelector,
    oldest: number,
  ): Promise<{ rows: Row[]; last: number | undefined }> {
    return new Promise((resolve, reject) => {
      const tx = db.transaction("examples", "readonly");
      const range = after === undefined ? null : newestFirst ? IDBKeyRange.upperBound(after, true) : IDBKeyRange.lowerBound(after, true);
      const cur = tx.objectStore("examples").openCursor(range, newestFirst ? "prev" : "next");
      const rows: Row[] = [];
      let last: number | undefined;
      let scanned = 0;
      cur.onerror = () => reject(new DpError("io_error", `IndexedDB read failed: ${cur.error?.message}`));
      cur.onsuccess = () => {
        const c = cur.result;
        if (!c) return resolve({ rows, last: undefined });
        const r = c.value as Row;
        last = r.id;
        scanned++;
        if (matches(r, s, oldest)) rows.push(r);
        if (rows.length >= want || scanned >= 4 * PAGE) return resolve({ rows, last });
        c.continue();
      };
    });
  }

  {
    const tx = db.transaction("examples", "readwrite");
    await maintain(tx.objectStore("examples"));
    await done(tx);
  }

  return {
    featureLength: o.featureLength,
    ...exampleWriters(o.featureLength, live, addRows),
    async count(selector) {
      live();
      const s = checkSelector(selector);
      const oldest = oldestAllowed(s, o);
      let n: number;
      if (s.labels === undefined) {
        const tx = db.transaction("examples", "readonly");
        n = await request(tx.objectStore("examples").index("addedAt").count(IDBKeyRange.lowerBound(oldest)));
      } else {
        n = 0;
        let after: number | undefined;
        for (;;) {
          const p = await page(after, false, PAGE, s, oldest);
          n += p.rows.length;
          if (p.last === undefined) break;
          after = p.last;
        }
      }
      return s.limit !== undefined ? Math.min(n, s.limit) : n;
    },
    examples(selector) {
      const s = checkSelector(selector);
      return {
        async *[Symbol.asyncIterator](): AsyncGenerator<StoredExample> {
          live();
          const oldest = oldestAllowed(s, o);
          const newestFirst = s.limit !== undefined;
          let remaining = s.limit ?? Infinity;
          let after: number | undefined;
          while (remaining > 0) {
            live();
            const p = await page(after, newestFirst, Math.min(PAGE, remaining), s, oldest);
            for (const r of p.rows) yield { id: r.id!, addedAt: r.addedAt, label: r.label, features: new Float32Array(r.features) };
            remaining -= p.rows.length;
            if (p.last === undefined) break;
            after = p.last;
          }
        },
      };
    },
    async expire() {
      live();
      const tx = db.transaction("examples", "readwrite");
      const n = await maintain(tx.objectStore("examples"));
      await done(tx);
      return n;
    },
    async clear() {
      live();
      const tx = db.transaction("examples", "readwrite");
      tx.objectStore("examples").clear();
      await done(tx);
    },
    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
