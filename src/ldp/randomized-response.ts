/**
 * Randomized response: Warner's binary protocol and its k-ary generalisation (GRR / direct
 * encoding), the simplest local-DP frequency oracles.
 *
 * Parametrised as Google's dp_accounting `RandomizedResponseDpEvent`: with probability
 * `noiseParameter` (nu) the answer is replaced by a uniformly random bucket (possibly the true
 * one), otherwise the true bucket is reported. So the true bucket comes out with probability
 * `p = 1 - nu + nu / k` and each other bucket with `q = nu / k`, and the mechanism is
 * epsilon-LDP with `epsilon = ln(p / q) = ln(1 + k (1 - nu) / nu)`. For a target epsilon,
 * `nu = k / (e^epsilon + k - 1)`, which gives Wang et al.'s `p = e^eps / (e^eps + k - 1)`.
 *
 * @see Warner 1965, "Randomized response: a survey technique for eliminating evasive answer bias", JASA 60(309).
 * @see Wang, Blocki, Li & Jha 2017, "Locally Differentially Private Protocols for Frequency Estimation", USENIX Security (GRR, Section 4.1).
 * @module
 */
import { DpError, requireInteger, requireNonNegative, requireObject, requireProbability } from "../errors.js";
import { randomizedResponseEvent, type RandomizedResponseEvent } from "../accounting/events.js";
import { bernoulli } from "../random/bernoulli.js";
import { uniformInt } from "../random/uniform.js";
import { resolveRng, type Rng } from "../random/rng.js";
import { estimateFromSupportCounts, pureProtocolFrequencyVariance, type FrequencyEstimate } from "./frequency-estimate.js";

/**
 * The epsilon of k-ary randomized response in dp_accounting's parametrisation:
 * `ln(1 + k (1 - noiseParameter) / noiseParameter)` (Infinity when `noiseParameter` is 0).
 *
 * @remarks
 * This is the pure (epsilon, 0) guarantee an accountant attaches to
 * `randomizedResponseEvent(noiseParameter, numBuckets)`: the ratio of the probability of the
 * true bucket, `1 - nu + nu / k`, to that of any other, `nu / k`. It holds for any two inputs
 * of one user (local DP).
 *
 * @param noiseParameter - probability of answering uniformly at random, in [0, 1]
 * @param numBuckets - number of buckets k >= 2
 * @returns epsilon >= 0
 * @throws {@link DpError} `invalid_parameter` for out-of-range arguments
 * @example
 * ```ts
 * import { randomizedResponseEpsilon } from "dpkit/ldp";
 * randomizedResponseEpsilon(0.5, 2); // ln 3 ≈ 1.0986
 * ```
 * @see https://github.com/google/differential-privacy/blob/main/python/dp_accounting/dp_accounting/dp_event.py
 */
export function randomizedResponseEpsilon(noiseParameter: number, numBuckets: number): number {
  const nu = requireProbability("noiseParameter", noiseParameter);
  const k = requireInteger("numBuckets", numBuckets, { min: 2 });
  if (nu === 0) return Infinity;
  return Math.log1p((k * (1 - nu)) / nu);
}

/**
 * The noise parameter (probability of a uniformly random answer) that makes k-ary randomized
 * response epsilon-LDP: the smallest double `nu >= k / (e^epsilon + k - 1)` whose
 * {@link randomizedResponseEpsilon} does not exceed `epsilon`.
 *
 * @param epsilon - target epsilon >= 0 (0 gives nu = 1: the answer carries no information)
 * @param numBuckets - number of buckets k >= 2
 * @returns nu in (0, 1]
 * @throws {@link DpError} `invalid_parameter` for out-of-range arguments, or an epsilon so
 *   large that nu underflows to 0
 * @example
 * ```ts
 * import { randomizedResponseNoiseParameter } from "dpkit/ldp";
 * randomizedResponseNoiseParameter(Math.log(3), 2); // 0.5
 * ```
 */
export function randomizedResponseNoiseParameter(epsilon: number, numBuckets: number): number {
  const eps = requireNonNegative("epsilon", epsilon);
  const k = requireInteger("numBuckets", numBuckets, { min: 2 });
  if (eps === 0) return 1;
  let nu = Math.min(1, k / (Math.expm1(eps) + k));
  if (!(nu > 0)) {
    throw new DpError("invalid_parameter", `\`epsilon\` is too large for randomized response. Found ${eps}.`, "epsilon");
  }
  // Round nu up until the stated epsilon (the accountant's view) does not exceed the target.
  for (let i = 0; i < 64 && randomizedResponseEpsilon(nu, k) > eps; i++) nu = Math.min(1, nu + Math.max(Number.MIN_VALUE, nu * 2 ** -52));
  return nu;
}

/** Options for {@link kRandomizedResponse}. */
export interface KRandomizedResponseOptions {
  /** Privacy parameter epsilon >= 0 (for any two inputs of one user). */
  epsilon: number;
  /** Number of possible values k >= 2; values are the integers 0 … k-1. */
  k: number;
  /** Randomness for `randomize`; defaults to the secure source. A seeded Rng is insecure (tests only). */
  rng?: Rng;
}

/** k-ary randomized response (see {@link kRandomizedResponse}). */
export interface KRandomizedResponse {
  /** The epsilon stated for one report: equals {@link randomizedResponseEpsilon} of `event` and is <= the requested epsilon. */
  readonly epsilon: number;
  /** Number of values k. */
  readonly k: number;
  /** Probability nu of answering uniformly at random. */
  readonly noiseParameter: number;
  /** Probability p that the true value is reported: `1 - nu + nu / k`. */
  readonly keepProbability: number;
  /** Probability q that a given other value is reported: `nu / k`. */
  readonly otherProbability: number;
  /** What one report spends: `randomizedResponseEvent(noiseParameter, k)`. */
  readonly event: RandomizedResponseEvent;
  /** Randomises one value in [0, k). */
  randomize(value: number): number;
  /** Unbiased estimates of how often each value occurs among the users behind `reports`. */
  estimateFrequencies(reports: ArrayLike<number>): FrequencyEstimate;
  /** Exact variance of the frequency estimate of a value with true fraction `trueFrequency` among `n` reports. */
  frequencyVariance(trueFrequency: number, n: number): number;
}

/**
 * k-ary (generalised) randomized response: with probability `noiseParameter` report a uniformly
 * random value in [0, k), otherwise the true one.
 *
 * @remarks
 * Privacy: each report is epsilon-LDP for any two values of the same user (`epsilon` is the
 * accountant's view of `event`, never above the requested one). Randomness is drawn with the
 * exact samplers `bernoulli(noiseParameter)` and `uniformInt(k)`, so the output distribution is
 * exactly the one the event describes. Accuracy: the estimator `(C(v) - n q) / (p - q)` is
 * unbiased with variance `n q (1-q) / (p-q)^2 + n f_v (1-p-q)/(p-q)`; GRR is the best choice
 * when `k < 3 e^epsilon + 2` (Wang et al. 2017).
 *
 * @param options - {@link KRandomizedResponseOptions}
 * @returns a {@link KRandomizedResponse}
 * @throws {@link DpError} `invalid_parameter` for a bad epsilon or k
 * @example
 * ```ts
 * import { kRandomizedResponse } from "dpkit/ldp";
 * const rr = kRandomizedResponse({ epsilon: 1, k: 4 });
 * const reports = [0, 1, 1, 3, 2, 1].map((v) => rr.randomize(v));
 * const { frequencies, standardErrors } = rr.estimateFrequencies(reports);
 * ```
 * @see https://www.usenix.org/conference/usenixsecurity17/technical-sessions/presentation/wang-tianhao
 */
export function kRandomizedResponse(options: KRandomizedResponseOptions): KRandomizedResponse {
  requireObject("options", options);
  const k = requireInteger("k", options.k, { min: 2, max: 2 ** 32 });
  const noiseParameter = randomizedResponseNoiseParameter(options.epsilon, k);
  const rng = options.rng;
  const epsilon = randomizedResponseEpsilon(noiseParameter, k);
  const q = noiseParameter / k;
  const p = 1 - noiseParameter + q;
  const event = randomizedResponseEvent(noiseParameter, k);
  return {
    epsilon,
    k,
    noiseParameter,
    keepProbability: p,
    otherProbability: q,
    event,
    randomize(value: number): number {
      if (!(Number.isInteger(value) && value >= 0 && value < k)) requireInteger("value", value, { min: 0, max: k - 1 });
      const r = resolveRng(rng);
      return bernoulli(noiseParameter, r) ? uniformInt(k, r) : value;
    },
    estimateFrequencies(reports: ArrayLike<number>): FrequencyEstimate {
      const support = new Float64Array(k);
      for (let i = 0; i < reports.length; i++) {
        const y = reports[i];
        if (!(Number.isInteger(y) && y >= 0 && y < k)) requireInteger(`reports[${i}]`, y, { min: 0, max: k - 1 });
        support[y]++;
      }
      return estimateFromSupportCounts(support, reports.length, p, q);
    },
    frequencyVariance(trueFrequency: number, n: number): number {
      return pureProtocolFrequencyVariance({ p, q, n, trueFrequency });
    },
  };
}

/** Options for {@link binaryRandomizedResponse}. */
export interface BinaryRandomizedResponseOptions {
  /** Privacy parameter epsilon >= 0. */
  epsilon: number;
  /** Randomness for `randomize`; defaults to the secure source. A seeded Rng is insecure (tests only). */
  rng?: Rng;
}

/** Warner's binary randomized response (see {@link binaryRandomizedResponse}). */
export interface BinaryRandomizedResponse {
  /** The epsilon stated for one report (the accountant's view of `event`, <= the requested epsilon). */
  readonly epsilon: number;
  /** Probability nu of answering with a fair coin. */
  readonly noiseParameter: number;
  /** Probability that the true answer is reported: `1 - nu / 2 = e^eps / (1 + e^eps)`. */
  readonly keepProbability: number;
  /** What one report spends: `randomizedResponseEvent(noiseParameter, 2)`. */
  readonly event: RandomizedResponseEvent;
  /** Randomises one answer. */
  randomize(value: boolean): boolean;
  /**
   * Unbiased estimates from randomised answers: index 0 is `false`, index 1 is `true`
   * (so `frequencies[1]` estimates the proportion of true answers).
   */
  estimateFrequencies(reports: ArrayLike<boolean>): FrequencyEstimate;
  /** Exact variance of the estimated proportion when the true proportion is `trueFrequency`. */
  frequencyVariance(trueFrequency: number, n: number): number;
}

/**
 * Warner's randomized response for a yes/no answer: with probability `noiseParameter` answer
 * with a fair coin, otherwise truthfully — so the truth is reported with probability
 * `e^epsilon / (1 + e^epsilon)`.
 *
 * @remarks
 * Privacy: each answer is epsilon-LDP for the two possible answers of one user; the event is
 * `randomizedResponseEvent(noiseParameter, 2)` and `epsilon = ln(1 + 2 (1 - nu) / nu)` is its
 * accountant's view. Accuracy: the proportion estimate `(Y/n - q) / (p - q)` is unbiased with
 * variance `q (1 - q) / (n (p - q)^2) + pi (1 - p - q) / (n (p - q))`, which for p + q = 1
 * is `p (1 - p) / (n (2p - 1)^2)`, Warner's formula.
 *
 * @param options - {@link BinaryRandomizedResponseOptions}
 * @returns a {@link BinaryRandomizedResponse}
 * @throws {@link DpError} `invalid_parameter` for a bad epsilon
 * @example
 * ```ts
 * import { binaryRandomizedResponse } from "dpkit/ldp";
 * const rr = binaryRandomizedResponse({ epsilon: Math.log(3) }); // truth with probability 3/4
 * const answers = [true, false, true, true].map((a) => rr.randomize(a));
 * const share = rr.estimateFrequencies(answers).frequencies[1];
 * ```
 * @see Warner 1965, JASA 60(309):63–69.
 */
export function binaryRandomizedResponse(options: BinaryRandomizedResponseOptions): BinaryRandomizedResponse {
  requireObject("options", options);
  const inner = kRandomizedResponse({ epsilon: options.epsilon, k: 2, rng: options.rng });
  return {
    epsilon: inner.epsilon,
    noiseParameter: inner.noiseParameter,
    keepProbability: inner.keepProbability,
    event: inner.event,
    randomize(value: boolean): boolean {
      if (typeof value !== "boolean") {
        throw new DpError("invalid_parameter", `\`value\` must be a boolean. Found ${String(value)}.`, "value");
      }
      return inner.randomize(value ? 1 : 0) === 1;
    },
    estimateFrequencies(reports: ArrayLike<boolean>): FrequencyEstimate {
      const coded = new Uint8Array(reports.length);
      for (let i = 0; i < reports.length; i++) coded[i] = reports[i] ? 1 : 0;
      return inner.estimateFrequencies(coded);
    },
    frequencyVariance(trueFrequency: number, n: number): number {
      return inner.frequencyVariance(trueFrequency, n);
    },
  };
}
