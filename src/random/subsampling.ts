/**
 * Subsampling, the sampling the accountants assume: Poisson sampling (`poissonSampledEvent`) and
 * fixed-size samples without replacement (`sampledWithoutReplacementEvent`). The one
 * implementation of each, used for DP-SGD batches, federated client selection and example-level
 * DP on a client.
 *
 * Poisson sampling: each of the N examples joins each batch independently with probability q,
 * so batch sizes are Binomial(N, q) and may be 0. Each inclusion is an exact Bernoulli(q) for
 * the double q (random bits compared lazily with q's binary expansion), from dpkit's secure
 * source by default.
 *
 * @see Zhu & Wang, "Poisson Subsampled Rényi Differential Privacy", ICML 2019
 * @module
 */
import { requireInteger, requirePositiveInteger, requireProbability } from "../errors.js";
import { bernoulli } from "./bernoulli.js";
import { resolveRng, type Rng } from "./rng.js";
import { TWO32, uniformInt } from "./uniform.js";

/** Options for {@link poissonSampleIndices}. */
export interface PoissonSampleOptions {
  /** Number of examples N; an integer >= 0. */
  datasetSize: number;
  /** Inclusion probability q in [0, 1]. */
  samplingProbability: number;
  /** Randomness source; defaults to the secure source. A seeded Rng is insecure (tests only). */
  rng?: Rng;
}

/**
 * One Poisson batch: the indices (ascending) of the examples that joined it.
 *
 * @remarks
 * Every index is included independently with probability exactly q (an exact Bernoulli trial
 * per example: the first 32 random bits decide unless they tie with q's first 32 bits, in which
 * case the comparison continues bit by bit). This is the sampling that
 * `poissonSampledEvent(q, …)` and the RDP/PLD accountants assume, under add/remove-one
 * neighbours. The batch may be empty; a DP-SGD step on an empty batch still adds noise.
 *
 * @param options - dataset size, sampling probability, rng
 * @returns the sampled indices in increasing order
 * @throws {@link DpError} `invalid_parameter` for a negative or fractional dataset size or a
 *   probability outside [0, 1]
 * @example
 * ```ts
 * import { poissonSampleIndices } from "dpkit/random";
 * const batch = poissonSampleIndices({ datasetSize: 60000, samplingProbability: 256 / 60000 });
 * console.log(batch.length); // about 256
 * ```
 * @see https://proceedings.mlr.press/v97/zhu19c.html
 */
export function poissonSampleIndices(options: PoissonSampleOptions): Int32Array {
  const n = requireInteger("datasetSize", options.datasetSize, { min: 0, max: 2 ** 31 - 1 });
  const q = requireProbability("samplingProbability", options.samplingProbability);
  if (n === 0 || q === 0) return new Int32Array(0);
  if (q === 1) return Int32Array.from({ length: n }, (_, i) => i);
  const r = resolveRng(options.rng);
  const scaled = q * TWO32; // exact: a power-of-two scaling
  const head = Math.floor(scaled);
  const rest = scaled - head; // exact, in [0, 1)
  const picked: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = r.nextUint32();
    // Exact Bernoulli(q): compare bits of u with q's first 32 bits, then continue with the rest.
    if (u < head || (u === head && rest > 0 && bernoulli(rest, r))) picked.push(i);
  }
  return Int32Array.from(picked);
}

/** Options for {@link uniformSampleIndices}. */
export interface UniformSampleOptions {
  /** Number of examples N; an integer >= 1. */
  datasetSize: number;
  /** Exactly this many examples; an integer in [0, N]. */
  sampleSize: number;
  /** Randomness source; defaults to the secure source. A seeded Rng is insecure (tests only). */
  rng?: Rng;
}

/**
 * A uniformly random subset of exactly `sampleSize` of `datasetSize` examples (sampling without
 * replacement, drawn afresh for every step), in increasing order.
 *
 * @remarks
 * The matching event is `sampledWithoutReplacementEvent(N, sampleSize, …)`, whose guarantee is
 * for *replace-one* neighbours; an accountant that cannot bound it refuses. Note that this is
 * not the same as shuffling once per epoch and cutting disjoint batches, which no standard
 * accountant covers. Floyd's algorithm with exact uniform integers: `sampleSize` draws, no
 * O(N) work, every subset exactly equally likely.
 *
 * @param options - dataset size, sample size, rng
 * @returns the sampled indices in increasing order
 * @throws {@link DpError} `invalid_parameter` when `sampleSize` exceeds `datasetSize`
 * @see https://doi.org/10.1145/30401.315746 (Bentley & Floyd 1987)
 * @example
 * ```ts
 * import { uniformSampleIndices } from "dpkit/random";
 * const batch = uniformSampleIndices({ datasetSize: 1000, sampleSize: 32 });
 * ```
 */
export function uniformSampleIndices(options: UniformSampleOptions): Int32Array {
  const n = requirePositiveInteger("datasetSize", options.datasetSize);
  const m = requireInteger("sampleSize", options.sampleSize, { min: 0, max: n });
  const r = resolveRng(options.rng);
  const chosen = new Set<number>();
  for (let j = n - m; j < n; j++) {
    const t = uniformInt(j + 1, r);
    chosen.add(chosen.has(t) ? j : t);
  }
  return Int32Array.from(chosen).sort();
}
