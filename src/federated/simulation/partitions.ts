/**
 * Splitting a centralised dataset among simulated clients: IID, pathological non-IID (label
 * shards, McMahan et al. 2017), Dirichlet label skew (Hsu, Qi & Brown 2019; Wang et al. 2020) and
 * unbalanced sizes. Simulation only: the randomness here is not privacy noise, and a seeded Rng
 * is the normal choice (it is insecure, which does not matter for a partition).
 * @module
 */
import { DpError, requireInteger, requireNonNegative, requirePositive, requirePositiveInteger } from "../../errors.js";
import type { Rng } from "../../random/rng.js";
import { fillGaussian } from "../../random/gaussian.js";
import { permutation } from "../../random/permutation.js";
import { uniform01 } from "../../random/uniform.js";
import type { ClientDataset } from "../client/local-training.js";

/**
 * A Gamma(shape, 1) draw (Marsaglia & Tsang 2000; shape < 1 via G(a+1)·U^(1/a)).
 *
 * @remarks
 * For simulation (Dirichlet partitions), not for privacy noise.
 *
 * @param shape - a > 0
 * @param rng - randomness; defaults to the secure source
 * @returns a non-negative draw with mean `shape`
 * @throws {@link DpError} `invalid_parameter` when shape is not > 0
 * @example
 * ```ts
 * import { sampleGamma } from "dpkit/federated";
 * import { SeededRng } from "dpkit/random";
 * sampleGamma(2, new SeededRng(1)); // mean 2
 * ```
 * @see Marsaglia & Tsang, "A Simple Method for Generating Gamma Variables", ACM TOMS 2000.
 */
export function sampleGamma(shape: number, rng?: Rng): number {
  requirePositive("shape", shape);
  if (shape < 1) {
    // G(a) = G(a + 1) · U^(1/a), in log space so tiny shapes do not underflow to exactly 0 too early.
    const g = sampleGamma(shape + 1, rng);
    let u = uniform01(rng);
    while (u === 0) u = uniform01(rng);
    return g * Math.exp(Math.log(u) / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    // Standard normal by Box–Muller on 53-bit uniforms (simulation, not privacy noise).
    const x = Math.sqrt(-2 * Math.log(1 - uniform01(rng))) * Math.cos(2 * Math.PI * uniform01(rng));
    let v = 1 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    let u = uniform01(rng);
    while (u === 0) u = uniform01(rng);
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/**
 * A Dirichlet(alpha·1) draw of dimension `k` (normalised Gamma draws).
 * @param k - dimension >= 1
 * @param alpha - concentration > 0
 * @param rng - randomness; defaults to the secure source
 * @returns probabilities summing to 1
 * @example
 * ```ts
 * import { sampleDirichlet } from "dpkit/federated";
 * sampleDirichlet(3, 0.5); // e.g. [0.7, 0.05, 0.25]
 * ```
 */
export function sampleDirichlet(k: number, alpha: number, rng?: Rng): Float64Array {
  requirePositiveInteger("k", k);
  requirePositive("alpha", alpha);
  for (;;) {
    const g = new Float64Array(k);
    let s = 0;
    for (let i = 0; i < k; i++) s += g[i] = sampleGamma(alpha, rng);
    if (s > 0) {
      for (let i = 0; i < k; i++) g[i] /= s;
      return g;
    }
  }
}

/** A partition: for each client, the indices of its examples in the source dataset. */
export type Partition = number[][];

/**
 * IID: shuffle and deal the examples into `numClients` clients of equal size (±1).
 * @param count - number of examples
 * @param numClients - number of clients
 * @param rng - randomness; defaults to the secure source
 * @returns the partition
 * @example
 * ```ts
 * import { partitionIid } from "dpkit/federated";
 * partitionIid(10, 3).map((c) => c.length); // [4, 3, 3]
 * ```
 */
export function partitionIid(count: number, numClients: number, rng?: Rng): Partition {
  requireInteger("count", count, { min: 0 });
  requirePositiveInteger("numClients", numClients);
  const order = permutation(count, rng);
  const out: Partition = Array.from({ length: numClients }, () => []);
  for (let i = 0; i < count; i++) out[i % numClients].push(order[i]);
  return out;
}

/** Options for {@link partitionShards}. */
export interface ShardPartitionOptions {
  /** Labels of the source dataset. */
  labels: ArrayLike<number>;
  /** Number of clients. */
  numClients: number;
  /** Shards per client. Default 2 (McMahan et al.: 200 shards of 300 for 100 clients). */
  shardsPerClient?: number;
  /** Randomness; defaults to the secure source. */
  rng?: Rng;
}

/**
 * Pathological non-IID (McMahan et al. 2017): sort the examples by label, cut them into
 * `numClients · shardsPerClient` equal shards, give each client `shardsPerClient` random shards.
 * With 2 shards per client most clients see at most two digits.
 * @param options - see {@link ShardPartitionOptions}
 * @returns the partition
 * @throws {@link DpError} `invalid_parameter` when there are fewer examples than shards
 * @example
 * ```ts
 * import { partitionShards } from "dpkit/federated";
 * const labels = Uint8Array.from({ length: 100 }, (_, i) => i % 10);
 * partitionShards({ labels, numClients: 5 }).length; // 5
 * ```
 * @see McMahan et al., "Communication-Efficient Learning of Deep Networks from Decentralized Data", AISTATS 2017.
 */
export function partitionShards(options: ShardPartitionOptions): Partition {
  const { labels, rng } = options;
  const numClients = requirePositiveInteger("numClients", options.numClients);
  const perClient = requirePositiveInteger("shardsPerClient", options.shardsPerClient ?? 2);
  const shards = numClients * perClient;
  if (labels.length < shards) {
    throw new DpError(
      "invalid_parameter",
      `\`labels\` must hold at least numClients·shardsPerClient = ${shards} examples. Found ${labels.length}.`,
      "labels",
    );
  }
  const sorted = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => labels[a] - labels[b] || a - b);
  const shardOrder = permutation(shards, rng);
  const out: Partition = Array.from({ length: numClients }, () => []);
  for (let s = 0; s < shards; s++) {
    const shard = shardOrder[s];
    const from = Math.floor((shard * labels.length) / shards);
    const to = Math.floor(((shard + 1) * labels.length) / shards);
    const client = Math.floor(s / perClient);
    for (let i = from; i < to; i++) out[client].push(sorted[i]);
  }
  return out;
}

/** Options for {@link partitionDirichlet}. */
export interface DirichletPartitionOptions {
  /** Labels of the source dataset. */
  labels: ArrayLike<number>;
  /** Number of clients. */
  numClients: number;
  /** Concentration α > 0: small α, each class concentrated on few clients; large α, near IID. */
  alpha: number;
  /** Randomness; defaults to the secure source. */
  rng?: Rng;
}

/**
 * Dirichlet label skew: for every class c, draw p_c ~ Dir(α·1_N) over the N clients and deal the
 * class's (shuffled) examples to clients in those proportions (Yurochkin et al. 2019; Wang et al.
 * 2020). Client k's share of class c has mean 1/N and variance (1/N)(1 − 1/N)/(Nα + 1).
 * @param options - see {@link DirichletPartitionOptions}
 * @returns the partition (client sizes vary)
 * @example
 * ```ts
 * import { partitionDirichlet } from "dpkit/federated";
 * const labels = Uint8Array.from({ length: 1000 }, (_, i) => i % 10);
 * partitionDirichlet({ labels, numClients: 10, alpha: 0.5 }).length; // 10
 * ```
 * @see Hsu, Qi & Brown, "Measuring the Effects of Non-Identical Data Distribution for Federated Visual Classification", 2019.
 */
export function partitionDirichlet(options: DirichletPartitionOptions): Partition {
  const { labels, rng } = options;
  const numClients = requirePositiveInteger("numClients", options.numClients);
  const alpha = requirePositive("alpha", options.alpha);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    let list = byClass.get(c);
    if (!list) byClass.set(c, (list = []));
    list.push(i);
  }
  const out: Partition = Array.from({ length: numClients }, () => []);
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(c) as number[];
    const order = permutation(members.length, rng);
    const p = sampleDirichlet(numClients, alpha, rng);
    let cum = 0;
    let from = 0;
    for (let k = 0; k < numClients; k++) {
      cum += p[k];
      const to = k === numClients - 1 ? members.length : Math.min(members.length, Math.round(cum * members.length));
      for (let i = from; i < to; i++) out[k].push(members[order[i]]);
      from = Math.max(from, to);
    }
  }
  return out;
}

/** Options for {@link partitionUnbalanced}. */
export interface UnbalancedPartitionOptions {
  /** Number of examples. */
  count: number;
  /** Number of clients. */
  numClients: number;
  /** σ of the log-normal client sizes (0: equal sizes). Default 1. */
  sigma?: number;
  /** Smallest client size. Default 1. */
  minSize?: number;
  /** Randomness; defaults to the secure source. */
  rng?: Rng;
}

/**
 * IID examples, unbalanced sizes: client sizes proportional to log-normal(0, σ²) draws (as in
 * LEAF/FedProx simulations), every client getting at least `minSize`.
 * @param options - see {@link UnbalancedPartitionOptions}
 * @returns the partition
 * @throws {@link DpError} `invalid_parameter` when count < numClients·minSize
 * @example
 * ```ts
 * import { partitionUnbalanced } from "dpkit/federated";
 * partitionUnbalanced({ count: 1000, numClients: 10, sigma: 1 }).map((c) => c.length);
 * ```
 */
export function partitionUnbalanced(options: UnbalancedPartitionOptions): Partition {
  const count = requireInteger("count", options.count, { min: 0 });
  const numClients = requirePositiveInteger("numClients", options.numClients);
  const sigma = requireNonNegative("sigma", options.sigma ?? 1);
  const minSize = requireInteger("minSize", options.minSize ?? 1, { min: 0 });
  if (count < numClients * minSize) {
    throw new DpError("invalid_parameter", `\`count\` must be >= numClients·minSize = ${numClients * minSize}. Found ${count}.`, "count");
  }
  const z = fillGaussian(new Float64Array(numClients), sigma, options.rng);
  const w = Array.from(z, (v) => Math.exp(v));
  const total = w.reduce((a, b) => a + b, 0);
  const spare = count - numClients * minSize;
  const sizes = w.map((v) => minSize + Math.floor((v / total) * spare));
  let left = count - sizes.reduce((a, b) => a + b, 0);
  for (let k = 0; left > 0; k = (k + 1) % numClients, left--) sizes[k]++;
  const order = permutation(count, options.rng);
  const out: Partition = [];
  let off = 0;
  for (const s of sizes) {
    out.push(Array.from(order.subarray(off, off + s)));
    off += s;
  }
  return out;
}

/**
 * Materialises a partition into per-client datasets.
 * @param x - features of the source dataset, row-major `count × width`
 * @param y - labels of the source dataset
 * @param partition - indices per client
 * @returns one {@link ClientDataset} per client
 * @example
 * ```ts
 * import { partitionIid, partitionToDatasets } from "dpkit/federated";
 * const x = new Float32Array([0, 1, 2, 3]), y = new Uint8Array([0, 1, 0, 1]);
 * partitionToDatasets(x, y, partitionIid(4, 2))[0].count; // 2
 * ```
 */
export function partitionToDatasets(x: Float32Array, y: Uint8Array | Int32Array, partition: Partition): ClientDataset[] {
  const width = y.length > 0 ? x.length / y.length : 0;
  if (!Number.isInteger(width)) {
    throw new DpError("invalid_parameter", `\`x\` must hold a whole number of rows for ${y.length} labels. Found ${x.length} values.`, "x");
  }
  return partition.map((idx) => {
    const cx = new Float32Array(idx.length * width);
    const cy = new (y.constructor as Uint8ArrayConstructor | Int32ArrayConstructor)(idx.length);
    idx.forEach((i, r) => {
      cx.set(x.subarray(i * width, (i + 1) * width), r * width);
      cy[r] = y[i];
    });
    return { x: cx, y: cy, count: idx.length };
  });
}
