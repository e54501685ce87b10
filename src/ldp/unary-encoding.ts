/**
 * Unary encoding frequency oracles: symmetric unary encoding (SUE, the "basic one-time RAPPOR"
 * of Erlingsson et al. 2014) and optimised unary encoding (OUE) of Wang et al. 2017.
 *
 * A user with value v in [0, d) one-hot encodes it and reports each of the d bits independently:
 * the bit of v is 1 with probability p, every other bit with probability q. Two values differ
 * in two bits, so the report is epsilon-LDP with `epsilon = ln(p (1 - q) / ((1 - p) q))`.
 * SUE: `p = e^{eps/2} / (e^{eps/2} + 1)`, `q = 1 - p`. OUE: `p = 1/2`, `q = 1 / (e^eps + 1)`,
 * which minimises the estimator's variance, `4 e^eps / (n (e^eps - 1)^2)` at f = 0.
 *
 * @see Wang, Blocki, Li & Jha 2017, "Locally Differentially Private Protocols for Frequency Estimation", USENIX Security, Section 4.3.
 * @module
 */
import { DpError, requireInteger, requireNonNegative, requireObject } from "../errors.js";
import { epsilonDeltaEvent, type EpsilonDeltaEvent } from "../accounting/events.js";
import { bernoulli } from "../random/bernoulli.js";
import { resolveRng, type Rng } from "../random/rng.js";
import { estimateFromSupportCounts, pureProtocolFrequencyVariance, type FrequencyEstimate } from "./frequency-estimate.js";

/** Options for {@link symmetricUnaryEncoding} and {@link optimizedUnaryEncoding}. */
export interface UnaryEncodingOptions {
  /** Privacy parameter epsilon > 0 (for any two values of one user). */
  epsilon: number;
  /** Domain size d >= 2: values are the integers 0 … d-1, reports have d bits. */
  domainSize: number;
  /** Randomness for `randomize`; defaults to the secure source. A seeded Rng is insecure (tests only). */
  rng?: Rng;
}

/** A unary-encoding frequency oracle. */
export interface UnaryEncoding {
  /** Which variant: `"symmetric"` (SUE) or `"optimized"` (OUE). */
  readonly variant: "symmetric" | "optimized";
  /** Epsilon of one report, computed from the probabilities actually used (<= the requested one). */
  readonly epsilon: number;
  /** Domain size d. */
  readonly domainSize: number;
  /** Probability that the bit of the user's value is 1. */
  readonly p: number;
  /** Probability that any other bit is 1. */
  readonly q: number;
  /** What one report spends: `epsilonDeltaEvent(epsilon, 0)` (d-bit reports are not a randomized-response event). */
  readonly event: EpsilonDeltaEvent;
  /** Randomises one value in [0, d): returns d bits (0/1). */
  randomize(value: number): Uint8Array;
  /** Unbiased frequency estimates from reports (each an array of d bits). */
  estimateFrequencies(reports: ArrayLike<ArrayLike<number>>): FrequencyEstimate;
  /** Unbiased estimates from per-bit sums over `n` reports (for aggregated data). */
  estimateFromBitSums(bitSums: ArrayLike<number>, n: number): FrequencyEstimate;
  /** Exact variance of the frequency estimate of a value with true fraction `trueFrequency`. */
  frequencyVariance(trueFrequency: number, n: number): number;
}

function unaryEpsilon(p: number, q: number): number {
  return Math.log(p / (1 - p)) + Math.log((1 - q) / q);
}

function makeUnaryEncoding(variant: "symmetric" | "optimized", options: UnaryEncodingOptions): UnaryEncoding {
  requireObject("options", options);
  const eps = requireNonNegative("epsilon", options.epsilon);
  if (!(eps > 0)) throw new DpError("invalid_parameter", `\`epsilon\` must be > 0. Found ${eps}.`, "epsilon");
  const d = requireInteger("domainSize", options.domainSize, { min: 2, max: 2 ** 26 });
  const rng = options.rng;
  let p: number;
  let q: number;
  if (variant === "symmetric") {
    q = 1 / (Math.exp(eps / 2) + 1);
    p = 1 - q;
  } else {
    p = 0.5;
    q = 1 / (Math.exp(eps) + 1);
  }
  if (!(q > 0)) throw new DpError("invalid_parameter", `\`epsilon\` is too large. Found ${eps}.`, "epsilon");
  // Nudge q up (less signal) until the epsilon computed from the doubles used is <= the target.
  for (let i = 0; i < 64 && unaryEpsilon(p, q) > eps; i++) q += q * 2 ** -52;
  const epsilon = unaryEpsilon(p, q);
  const event = epsilonDeltaEvent(epsilon, 0);
  return {
    variant,
    epsilon,
    domainSize: d,
    p,
    q,
    event,
    randomize(value: number): Uint8Array {
      if (!(Number.isInteger(value) && value >= 0 && value < d)) requireInteger("value", value, { min: 0, max: d - 1 });
      const r = resolveRng(rng);
      const out = new Uint8Array(d);
      for (let i = 0; i < d; i++) out[i] = bernoulli(i === value ? p : q, r) ? 1 : 0;
      return out;
    },
    estimateFrequencies(reports: ArrayLike<ArrayLike<number>>): FrequencyEstimate {
      const sums = new Float64Array(d);
      for (let j = 0; j < reports.length; j++) {
        const rep = reports[j];
        if (!rep || rep.length !== d) {
          throw new DpError("invalid_parameter", `\`reports[${j}]\` must have ${d} bits. Found ${rep?.length}.`, `reports[${j}]`);
        }
        for (let i = 0; i < d; i++) sums[i] += rep[i] ? 1 : 0;
      }
      return estimateFromSupportCounts(sums, reports.length, p, q);
    },
    estimateFromBitSums(bitSums: ArrayLike<number>, n: number): FrequencyEstimate {
      requireInteger("n", n, { min: 0 });
      if (bitSums.length !== d) {
        throw new DpError("invalid_parameter", `\`bitSums\` must have ${d} entries. Found ${bitSums.length}.`, "bitSums");
      }
      return estimateFromSupportCounts(bitSums, n, p, q);
    },
    frequencyVariance(trueFrequency: number, n: number): number {
      return pureProtocolFrequencyVariance({ p, q, n, trueFrequency });
    },
  };
}

/**
 * Symmetric unary encoding (SUE; basic one-time RAPPOR): each bit of the one-hot vector is kept
 * with probability `p = e^{eps/2} / (e^{eps/2} + 1)` and flipped otherwise.
 *
 * @remarks
 * Privacy: epsilon-LDP for any two values of one user; the event is `epsilonDelta(epsilon, 0)`.
 * Bits are drawn with the exact sampler `bernoulli(p)` / `bernoulli(q)`. Accuracy: unbiased,
 * variance `q(1-q)/(n(p-q)^2) + f(1-p-q)/(n(p-q))`, i.e. `e^{eps/2} / (n (e^{eps/2} - 1)^2)`.
 *
 * @param options - {@link UnaryEncodingOptions}
 * @returns a {@link UnaryEncoding}
 * @throws {@link DpError} `invalid_parameter` for epsilon <= 0 or a bad domain size
 * @example
 * ```ts
 * import { symmetricUnaryEncoding } from "dpkit/ldp";
 * const sue = symmetricUnaryEncoding({ epsilon: 2, domainSize: 8 });
 * const est = sue.estimateFrequencies([3, 3, 5, 0].map((v) => sue.randomize(v)));
 * ```
 * @see https://www.usenix.org/conference/usenixsecurity17/technical-sessions/presentation/wang-tianhao
 */
export function symmetricUnaryEncoding(options: UnaryEncodingOptions): UnaryEncoding {
  return makeUnaryEncoding("symmetric", options);
}

/**
 * Optimised unary encoding (OUE): the bit of the user's value is 1 with probability 1/2, every
 * other bit with probability `1 / (e^eps + 1)`.
 *
 * @remarks
 * Privacy: epsilon-LDP for any two values of one user (`ln(p(1-q)/((1-p)q)) = eps`); the event is
 * `epsilonDelta(epsilon, 0)`. Accuracy: unbiased, variance `4 e^eps / (n (e^eps - 1)^2)` for a
 * value nobody holds — the lowest of the unary encodings, independent of d (communication d bits).
 *
 * @param options - {@link UnaryEncodingOptions}
 * @returns a {@link UnaryEncoding}
 * @throws {@link DpError} `invalid_parameter` for epsilon <= 0 or a bad domain size
 * @example
 * ```ts
 * import { optimizedUnaryEncoding } from "dpkit/ldp";
 * const oue = optimizedUnaryEncoding({ epsilon: 1, domainSize: 100 });
 * const report = oue.randomize(42); // 100 bits
 * ```
 * @see https://www.usenix.org/conference/usenixsecurity17/technical-sessions/presentation/wang-tianhao
 */
export function optimizedUnaryEncoding(options: UnaryEncodingOptions): UnaryEncoding {
  return makeUnaryEncoding("optimized", options);
}
