/**
 * Unbiased frequency estimation shared by the "pure" local-DP frequency oracles
 * (Wang, Blocki, Li & Jha 2017, "Locally Differentially Private Protocols for Frequency
 * Estimation", USENIX Security, Section 3).
 *
 * A pure protocol reports a set of supported values for each user: a user holding `v` supports
 * `v` with probability `p`, and supports any other value `u` with probability `q < p`. With `n`
 * reports and `C(v)` the number that support `v`, `(C(v) - n q) / (p - q)` estimates the count of
 * `v` without bias, with variance
 * `n q (1 - q) / (p - q)^2 + n f_v (1 - p - q) / (p - q)` (f_v the true fraction).
 *
 * @see https://www.usenix.org/conference/usenixsecurity17/technical-sessions/presentation/wang-tianhao
 * @module
 */
import { DpError, requireInteger, requireProbability } from "../errors.js";

/**
 * Frequency estimates from local-DP reports.
 *
 * @remarks
 * Estimates are unbiased and may be negative or exceed `n`: clip only for display. The
 * variances are the plug-in value of the exact formula (true fraction replaced by the estimate
 * clipped to [0, 1]); `varianceAtZero` is the variance for a value nobody holds.
 */
export interface FrequencyEstimate {
  /** Number of reports. */
  n: number;
  /** Unbiased estimates of how many users hold each value (index = value). */
  counts: Float64Array;
  /** `counts / n`: unbiased estimates of each value's fraction. */
  frequencies: Float64Array;
  /** Plug-in variance of each entry of `frequencies`. */
  variances: Float64Array;
  /** Square roots of `variances`. */
  standardErrors: Float64Array;
  /** Variance of a frequency estimate whose true fraction is 0 (`q (1 - q) / (n (p - q)^2)`). */
  varianceAtZero: number;
}

/**
 * Variance of the unbiased frequency estimate of a pure protocol (Wang et al. 2017, Eq. 2
 * generalised with the true fraction's term).
 *
 * @param options.p - probability that a user's own value is supported, in [0, 1]
 * @param options.q - probability that another value is supported, in [0, 1], q < p
 * @param options.n - number of reports, >= 1
 * @param options.trueFrequency - the value's true fraction f in [0, 1]
 * @returns `q (1 - q) / (n (p - q)^2) + f (1 - p - q) / (n (p - q))`
 * @throws {@link DpError} `invalid_parameter` for out-of-range arguments or `p <= q`
 * @example
 * ```ts
 * import { pureProtocolFrequencyVariance } from "dpkit/ldp";
 * pureProtocolFrequencyVariance({ p: 0.75, q: 0.25, n: 1000, trueFrequency: 0.5 }); // 0.000625
 * ```
 * @see https://www.usenix.org/conference/usenixsecurity17/technical-sessions/presentation/wang-tianhao
 */
export function pureProtocolFrequencyVariance(options: { p: number; q: number; n: number; trueFrequency: number }): number {
  const p = requireProbability("p", options.p);
  const q = requireProbability("q", options.q);
  const n = requireInteger("n", options.n, { min: 1 });
  const f = requireProbability("trueFrequency", options.trueFrequency);
  if (!(p > q)) throw new DpError("invalid_parameter", `\`p\` must be > \`q\`. Found ${p} <= ${q}.`, "p");
  const d = p - q;
  return (q * (1 - q)) / (n * d * d) + (f * (1 - p - q)) / (n * d);
}

/**
 * Turns support counts into unbiased frequency estimates.
 * @internal
 */
export function estimateFromSupportCounts(support: ArrayLike<number>, n: number, p: number, q: number): FrequencyEstimate {
  const d = support.length;
  const counts = new Float64Array(d);
  const frequencies = new Float64Array(d);
  const variances = new Float64Array(d);
  const standardErrors = new Float64Array(d);
  const gap = p - q;
  const varianceAtZero = n > 0 ? (q * (1 - q)) / (n * gap * gap) : Infinity;
  for (let v = 0; v < d; v++) {
    const c = (support[v] - n * q) / gap;
    counts[v] = c;
    const f = n > 0 ? c / n : 0;
    frequencies[v] = f;
    const fc = Math.min(1, Math.max(0, f));
    const variance = n > 0 ? varianceAtZero + (fc * (1 - p - q)) / (n * gap) : Infinity;
    variances[v] = Math.max(0, variance);
    standardErrors[v] = Math.sqrt(variances[v]);
  }
  return { n, counts, frequencies, variances, standardErrors, varianceAtZero };
}
