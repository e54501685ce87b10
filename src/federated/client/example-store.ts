/**
 * The on-device example store of a federated client (Bonawitz et al. 2019, §3 "example store"):
 * the app writes (features, label) examples as they occur; training reads them back through an
 * async iterator with a selector. Examples expire after a time-to-live and the store keeps at
 * most a bounded number of them (the oldest go first), as a device's cache would.
 *
 * Two implementations share this interface: {@link openSqliteExampleStore} (Node, a SQLite file)
 * and {@link openIndexedDbExampleStore} (a browser page, IndexedDB).
 *
 * @see K. Bonawitz et al., "Towards Federated Learning at Scale: System Design", SysML 2019.
 * @module
 */
import { DpError, requireInteger, requireObject } from "../../errors.js";
import type { ClientDataset } from "./local-training.js";

/** One stored example. */
export interface StoredExample {
  /** Store-assigned id, increasing in insertion order. */
  id: number;
  /** The features (length `featureLength`). */
  features: Float32Array;
  /** Integer class label. */
  label: number;
  /** When it was added (milliseconds since the epoch, the store's clock). */
  addedAt: number;
}

/**
 * Which examples a training task reads (a subset of Google's selector criteria).
 * Every field is optional; an empty selector selects every unexpired example.
 */
export interface ExampleSelector {
  /** Only examples added at most this many milliseconds ago. */
  maxAgeMs?: number;
  /** Only examples with one of these labels. */
  labels?: number[];
  /** At most this many examples (the newest first when set; otherwise insertion order). */
  limit?: number;
}

/** Options shared by every example store. */
export interface ExampleStoreOptions {
  /** Width of every feature vector (e.g. 784 for MNIST). */
  featureLength: number;
  /** Examples older than this are deleted and never read. Default 7 days. */
  timeToLiveMs?: number;
  /** The store keeps at most this many examples; adding more deletes the oldest. Default 100,000. */
  maxExamples?: number;
  /** The clock (ms since the epoch); default `Date.now`. Tests inject one. */
  now?: () => number;
}

/**
 * The interface of an on-device example store. Every method is async so that the same training
 * code reads a SQLite file in Node and IndexedDB in a page.
 */
export interface ExampleStore {
  /** Width of every feature vector. */
  readonly featureLength: number;
  /**
   * Adds one example.
   * @throws {@link DpError} `invalid_parameter` for features of the wrong length, non-finite features or a non-integer label
   */
  add(features: ArrayLike<number>, label: number): Promise<void>;
  /** Adds many examples in one transaction (what a demo loader uses). Same checks as `add`. */
  addMany(examples: Iterable<{ features: ArrayLike<number>; label: number }>): Promise<number>;
  /** The number of unexpired examples the selector selects. */
  count(selector?: ExampleSelector): Promise<number>;
  /** The selected unexpired examples, read in pages (never the whole store in memory at once). */
  examples(selector?: ExampleSelector): AsyncIterable<StoredExample>;
  /** Deletes expired examples now; returns how many were deleted. */
  expire(): Promise<number>;
  /** Deletes every example. */
  clear(): Promise<void>;
  /** Closes the store. */
  close(): Promise<void>;
}

/** Defaults of {@link ExampleStoreOptions}. */
export const EXAMPLE_STORE_DEFAULTS = { timeToLiveMs: 7 * 24 * 3600 * 1000, maxExamples: 100_000 } as const;

/** Checked options. @internal */
export interface ResolvedExampleStoreOptions {
  featureLength: number;
  timeToLiveMs: number;
  maxExamples: number;
  now: () => number;
}

/** Validates store options. @internal */
export function resolveExampleStoreOptions(options: ExampleStoreOptions): ResolvedExampleStoreOptions {
  requireObject("options", options);
  const featureLength = requireInteger("featureLength", options.featureLength, { min: 1, max: 1 << 24 });
  const ttl = options.timeToLiveMs ?? EXAMPLE_STORE_DEFAULTS.timeToLiveMs;
  if (!(typeof ttl === "number" && ttl > 0)) {
    throw new DpError("invalid_parameter", `\`timeToLiveMs\` must be > 0. Found ${String(ttl)}.`, "timeToLiveMs");
  }
  const maxExamples = requireInteger("maxExamples", options.maxExamples ?? EXAMPLE_STORE_DEFAULTS.maxExamples, { min: 1 });
  const now = options.now ?? (() => Date.now());
  if (typeof now !== "function") throw new DpError("invalid_parameter", "`now` must be a function.", "now");
  return { featureLength, timeToLiveMs: ttl, maxExamples, now };
}

/** Checks one example and returns its features as a fresh Float32Array. @internal */
export function checkExample(features: ArrayLike<number>, label: number, featureLength: number): Float32Array {
  if (features === null || typeof features !== "object" || typeof features.length !== "number") {
    throw new DpError("invalid_parameter", "`features` must be an array of numbers.", "features");
  }
  if (features.length !== featureLength) {
    throw new DpError("invalid_parameter", `\`features\` must have length ${featureLength}. Found ${features.length}.`, "features");
  }
  const out = Float32Array.from(features);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]))
      throw new DpError("invalid_parameter", `\`features\` must be finite. Found ${features[i]} at index ${i}.`, "features");
  }
  if (!Number.isSafeInteger(label) || label < 0 || label > 0x7fffffff) {
    throw new DpError("invalid_parameter", `\`label\` must be a non-negative integer. Found ${String(label)}.`, "label");
  }
  return out;
}

/** Checks a batch of examples (see {@link checkExample}) before any of them is stored. @internal */
export function checkExamples(
  examples: Iterable<{ features: ArrayLike<number>; label: number }>,
  featureLength: number,
): { features: Float32Array; label: number }[] {
  const checked: { features: Float32Array; label: number }[] = [];
  for (const e of examples) checked.push({ features: checkExample(e.features, e.label, featureLength), label: e.label });
  return checked;
}

/**
 * A store's `add` and `addMany`: `live()` (which refuses a closed store), the checks, then one
 * `write` of the checked rows. @internal
 */
export function exampleWriters(
  featureLength: number,
  live: () => void,
  write: (rows: { features: Float32Array; label: number }[]) => unknown,
): Pick<ExampleStore, "add" | "addMany"> {
  return {
    async add(features, label) {
      live();
      await write([{ features: checkExample(features, label, featureLength), label }]);
    },
    async addMany(examples) {
      live();
      const rows = checkExamples(examples, featureLength);
      await write(rows);
      return rows.length;
    },
  };
}

/** Validates a selector. @internal */
export function checkSelector(selector: ExampleSelector | undefined): ExampleSelector {
  if (selector === undefined) return {};
  requireObject("selector", selector);
  const out: ExampleSelector = {};
  if (selector.maxAgeMs !== undefined) {
    if (!(typeof selector.maxAgeMs === "number" && selector.maxAgeMs >= 0)) {
      throw new DpError(
        "invalid_parameter",
        `\`selector.maxAgeMs\` must be >= 0. Found ${String(selector.maxAgeMs)}.`,
        "selector.maxAgeMs",
      );
    }
    out.maxAgeMs = selector.maxAgeMs;
  }
  if (selector.labels !== undefined) {
    if (
      !Array.isArray(selector.labels) ||
      selector.labels.length > 65_536 ||
      !selector.labels.every((l) => Number.isSafeInteger(l) && l >= 0)
    ) {
      throw new DpError("invalid_parameter", "`selector.labels` must be an array of non-negative integers.", "selector.labels");
    }
    out.labels = [...selector.labels];
  }
  if (selector.limit !== undefined) out.limit = requireInteger("selector.limit", selector.limit, { min: 0 });
  return out;
}

/** The oldest `addedAt` a selector and the TTL allow. @internal */
export function oldestAllowed(selector: ExampleSelector, options: ResolvedExampleStoreOptions): number {
  const now = options.now();
  let oldest = now - options.timeToLiveMs;
  if (selector.maxAgeMs !== undefined) oldest = Math.max(oldest, now - selector.maxAgeMs);
  return oldest;
}

/**
 * Reads the selected examples of a store into one {@link ClientDataset} (what
 * `trainLocalUpdate` takes), through the store's async iterator.
 *
 * @param store - any {@link ExampleStore}
 * @param selector - which examples; `limit` bounds the memory used
 * @returns features row-major, labels, and the count
 * @example
 * ```ts
 * import { openSqliteExampleStore, readExamples } from "dpkit/federated";
 * const store = await openSqliteExampleStore({ file: ":memory:", featureLength: 2 });
 * await store.add([0.5, 1], 1);
 * (await readExamples(store)).count; // 1
 * ```
 */
export async function readExamples(store: ExampleStore, selector?: ExampleSelector): Promise<ClientDataset> {
  const width = store.featureLength;
  const xs: Float32Array[] = [];
  const ys: number[] = [];
  for await (const e of store.examples(selector)) {
    xs.push(e.features);
    ys.push(e.label);
  }
  const x = new Float32Array(xs.length * width);
  xs.forEach((f, i) => x.set(f, i * width));
  return { x, y: Int32Array.from(ys), count: ys.length };
}
