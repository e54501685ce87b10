/**
 * An {@link ExampleStore} in memory: for tests, simulations and notebooks, and wherever neither
 * SQLite nor IndexedDB is available. Same semantics as the persistent stores (selector,
 * time-to-live, size bound); nothing survives the process.
 * @module
 */
import { DpError } from "../../errors.js";
import {
  exampleWriters,
  checkSelector,
  oldestAllowed,
  resolveExampleStoreOptions,
  type ExampleStore,
  type ExampleStoreOptions,
  type StoredExample,
} from "./example-store.js";

/**
 * Opens an example store held in memory.
 *
 * @param options - featureLength, timeToLiveMs, maxExamples, now
 * @returns the store
 * @throws {@link DpError} `invalid_parameter` for bad options
 * @example
 * ```ts
 * import { openMemoryExampleStore } from "dpkit/federated";
 * const store = openMemoryExampleStore({ featureLength: 2, maxExamples: 100 });
 * await store.add([0.5, 1], 1);
 * await store.count(); // 1
 * ```
 */
export function openMemoryExampleStore(options: ExampleStoreOptions): ExampleStore {
  const o = resolveExampleStoreOptions(options);
  let rows: StoredExample[] = [];
  let nextId = 1;
  let closed = false;
  const live = (): void => {
    if (closed) throw new DpError("invalid_state", "The example store is closed.");
  };
  const expireNow = (): number => {
    const cut = o.now() - o.timeToLiveMs;
    const before = rows.length;
    rows = rows.filter((r) => r.addedAt >= cut);
    return before - rows.length;
  };
  const addRows = (checked: { features: Float32Array; label: number }[]): void => {
    const t = o.now();
    for (const r of checked) rows.push({ id: nextId++, addedAt: t, label: r.label, features: r.features });
    expireNow();
    if (rows.length > o.maxExamples) rows = rows.slice(rows.length - o.maxExamples);
  };
  return {
    featureLength: o.featureLength,
    ...exampleWriters(o.featureLength, live, addRows),
    async count(selector) {
      live();
      const s = checkSelector(selector);
      const oldest = oldestAllowed(s, o);
      const n = rows.filter((r) => r.addedAt >= oldest && (s.labels === undefined || s.labels.includes(r.label))).length;
      return s.limit !== undefined ? Math.min(n, s.limit) : n;
    },
    examples(selector) {
      const s = checkSelector(selector);
      return {
        async *[Symbol.asyncIterator](): AsyncGenerator<StoredExample> {
          live();
          const oldest = oldestAllowed(s, o);
          const chosen = rows.filter((r) => r.addedAt >= oldest && (s.labels === undefined || s.labels.includes(r.label)));
          const ordered = s.limit !== undefined ? chosen.reverse().slice(0, s.limit) : chosen;
          for (const r of ordered) {
            live();
            yield { id: r.id, addedAt: r.addedAt, label: r.label, features: r.features.slice() };
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
      rows = [];
    },
    async close() {
      closed = true;
      rows = [];
    },
  };
}
