/**
 * Optimised local hashing (OLH) of Wang, Blocki, Li & Jha 2017: each user draws a public random
 * hash function H: [d] -> [g] (here: a random 32-bit seed of a fixed hash family), hashes its
 * value and reports the hash through g-ary randomized response, with `g = round(e^eps) + 1`.
 *
 * For a value v the collector counts the reports whose hashed v equals the reported bucket:
 * a holder of v supports it with probability `p = e^eps / (e^eps + g - 1)`, anybody else with
 * probability `1/g` (for a pairwise-independent family), so `(C(v) - n/g) / (p - 1/g)` is
 * unbiased with variance about `4 e^eps / (n (e^eps - 1)^2)` — as good as OUE with reports of
 * 32 + log2(g) bits instead of d bits, at O(n d) decoding cost.
 *
 * @see Wang, Blocki, Li & Jha 2017, "Locally Differentially Private Protocols for Frequency Estimation", USENIX Security, Section 4.4.
 * @module
 */
import { DpError, requireInteger, requireNonNegative, requireObject } from "../errors.js";
import type { RandomizedResponseEvent } from "../accounting/events.js";
import { uniformInt } from "../random/uniform.js";
import { resolveRng, type Rng } from "../random/rng.js";
import { estimateFromSupportCounts, pureProtocolFrequencyVariance, type FrequencyEstimate } from "./frequency-estimate.js";
import { kRandomizedResponse } from "./randomized-response.js";

/** One OLH report: the public hash seed and the randomised bucket. */
export interface LocalHashingReport {
  /** Seed of the hash function (uniform 32-bit integer, drawn independently of the value). */
  seed: number;
  /** Randomised hash bucket in [0, g). */
  bucket: number;
}

/** Options for {@link optimizedLocalHashing}. */
export interface LocalHashingOptions {
  /** Privacy parameter epsilon > 0. */
  epsilon: number;
  /** Domain size d >= 2: values are the integers 0 … d-1. */
  domainSize: number;
  /** Number of hash buckets g; default `round(e^epsilon) + 1` (the optimum), at least 2. */
  buckets?: number;
  /** Randomness for `randomize`; defaults to the secure source. A seeded Rng is insecure (tests only). */
  rng?: Rng;
}

/** An OLH frequency oracle (see {@link optimizedLocalHashing}). */
export interface LocalHashing {
  /** Epsilon of one report (that of g-ary randomized response, <= the requested one). */
  readonly epsilon: number;
  /** Domain size d. */
  readonly domainSize: number;
  /** Number of hash buckets g. */
  readonly buckets: number;
  /** Probability p that the hashed value is reported. */
  readonly p: number;
  /** Probability that another value's hash matches the report: 1/g. */
  readonly q: number;
  /**
   * What one report spends: `randomizedResponseEvent(noiseParameter, g)`. The seed is
   * independent of the value, and for a fixed seed the report is g-ary RR of H(v) (identical
   * outputs when H(v) = H(v')), so g-ary RR dominates OLH in every divergence.
   */
  readonly event: RandomizedResponseEvent;
  /** The hash of `value` under `seed`, in [0, g). */
  hash(seed: number, value: number): number;
  /** Randomises one value in [0, d). */
  randomize(value: number): LocalHashingReport;
  /** Unbiased frequency estimates of all d values (cost O(n d)). */
  estimateFrequencies(reports: ArrayLike<LocalHashingReport>): FrequencyEstimate;
  /** Exact variance of the frequency estimate of a value with true fraction `trueFrequency` (ideal hash family). */
  frequencyVariance(trueFrequency: number, n: number): number;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Optimised local hashing (OLH): report `(seed, GRR_g(H_seed(v)))`.
 *
 * @remarks
 * Privacy: epsilon-LDP for any two values of one user, whatever the hash family (the seed is
 * drawn with `uniformInt(2^32)` independently of the value; the bucket goes through exact
 * g-ary randomized response). Accuracy assumes the hash family is close to pairwise
 * independent: dpkit uses MurmurHash3's 32-bit finaliser of the seed and the value, which is
 * fast and well mixed but not a proven universal family.
 *
 * @param options - {@link LocalHashingOptions}
 * @returns a {@link LocalHashing}
 * @throws {@link DpError} `invalid_parameter` for epsilon <= 0, a bad domain size or bucket count
 * @example
 * ```ts
 * import { optimizedLocalHashing } from "dpkit/ldp";
 * const olh = optimizedLocalHashing({ epsilon: 2, domainSize: 1000 });
 * const reports = [17, 17, 999, 3].map((v) => olh.randomize(v));
 * const est = olh.estimateFrequencies(reports);
 * ```
 * @see https://www.usenix.org/conference/usenixsecurity17/technical-sessions/presentation/wang-tianhao
 */
export function optimizedLocalHashing(options: LocalHashingOptions): LocalHashing {
  requireObject("options", options);
  const eps = requireNonNegative("epsilon", options.epsilon);
  if (!(eps > 0)) throw new DpError("invalid_parameter", `\`epsilon\` must be > 0. Found ${eps}.`, "epsilon");
  const d = requireInteger("domainSize", options.domainSize, { min: 2, max: 2 ** 32 });
  const g =
    options.buckets === undefined
      ? Math.max(2, Math.min(2 ** 31, Math.round(Math.exp(eps)) + 1))
      : requireInteger("buckets", options.buckets, { min: 2, max: 2 ** 31 });
  const rng = options.rng;
  const grr = kRandomizedResponse({ epsilon: eps, k: g, rng });
  const p = grr.keepProbability;
  const q = 1 / g;
  const hash = (seed: number, value: number): number => fmix32((fmix32(value >>> 0) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0) % g;
  return {
    epsilon: grr.epsilon,
    domainSize: d,
    buckets: g,
    p,
    q,
    event: grr.event,
    hash,
    randomize(value: number): LocalHashingReport {
      if (!(Number.isInteger(value) && value >= 0 && value < d)) requireInteger("value", value, { min: 0, max: d - 1 });
      const seed = uniformInt(2 ** 32, resolveRng(rng));
      return { seed, bucket: grr.randomize(hash(seed, value)) };
    },
    estimateFrequencies(reports: ArrayLike<LocalHashingReport>): FrequencyEstimate {
      const n = reports.length;
      const seeds = new Uint32Array(n);
      const buckets = new Uint32Array(n);
      for (let j = 0; j < n; j++) {
        const r = reports[j];
        seeds[j] = r.seed >>> 0;
        buckets[j] = r.bucket;
      }
      const support = new Float64Array(d);
      for (let j = 0; j < n; j++) {
        const sm = Math.imul(seeds[j], 0x9e3779b1);
        const b = buckets[j];
        for (let v = 0; v < d; v++) if (fmix32((fmix32(v) ^ sm) >>> 0) % g === b) support[v]++;
      }
      return estimateFromSupportCounts(support, n, p, q);
    },
    frequencyVariance(trueFrequency: number, n: number): number {
      return pureProtocolFrequencyVariance({ p, q, n, trueFrequency });
    },
  };
}
