/**
 * Exact binomial confidence bounds (Clopper & Pearson 1934) and the special functions they need:
 * ln Γ, the regularised incomplete beta function and its inverse, and binomial tails.
 *
 * Pure numerics, no tfjs: promoted from the test helper that every mechanism audit uses
 * (docs/testing.md section 3), so tests and users share one implementation.
 *
 * @see Clopper & Pearson, "The use of confidence or fiducial limits illustrated in the case of the binomial", Biometrika 1934
 * @module
 */
import { DpError, requireInteger, requireOpenProbability, requireProbability } from "../errors.js";

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/**
 * ln Γ(x) for x > 0 (Lanczos approximation, g = 7; about 1e-15 relative).
 *
 * @param x - a positive number
 * @returns ln Γ(x)
 * @example
 * ```ts
 * import { logGamma } from "dpkit/audit";
 * logGamma(5); // ln 24 ≈ 3.1780538
 * ```
 */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = LANCZOS[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  // Modified Lentz (Numerical Recipes 6.4).
  const FPMIN = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < FPMIN) d = FPMIN;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 100_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) return h;
  }
  throw new DpError("invalid_state", `The incomplete beta continued fraction did not converge (x=${x}, a=${a}, b=${b}).`, "x");
}

/**
 * The regularised incomplete beta function I_x(a, b) = P[Beta(a, b) <= x].
 *
 * @param x - in [0, 1]
 * @param a - > 0
 * @param b - > 0
 * @returns I_x(a, b)
 * @example
 * ```ts
 * import { regularizedIncompleteBeta } from "dpkit/audit";
 * regularizedIncompleteBeta(0.5, 2, 2); // 0.5
 * ```
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(1 - x, b, a)) / b;
}

/**
 * The p-quantile of Beta(a, b), by bisection on I_x(a, b) (to about 1e-15 absolute).
 *
 * @param p - probability in [0, 1]
 * @param a - > 0
 * @param b - > 0
 * @returns x with I_x(a, b) = p
 * @example
 * ```ts
 * import { betaQuantile } from "dpkit/audit";
 * betaQuantile(0.5, 1, 1); // 0.5 (the uniform distribution)
 * ```
 */
export function betaQuantile(p: number, a: number, b: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 200 && hi - lo > 1e-16; i++) {
    const mid = (lo + hi) / 2;
    if (regularizedIncompleteBeta(mid, a, b) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** One-sided Clopper–Pearson bounds, see {@link clopperPearson}. */
export interface ClopperPearsonBounds {
  /** A level-(1 − alpha) lower confidence bound for p. */
  lower: number;
  /** A level-(1 − alpha) upper confidence bound for p. */
  upper: number;
}

/**
 * One-sided Clopper–Pearson bounds for a binomial proportion: `lower` is a level-(1 − alpha)
 * lower confidence bound for p given k successes in n trials, `upper` a level-(1 − alpha)
 * upper bound (each one-sided at `alpha`; both together hold with probability >= 1 − 2·alpha).
 *
 * @remarks
 * Exact (conservative) for every n: lower = Beta quantile alpha of Beta(k, n − k + 1) (0 when
 * k = 0), upper = quantile 1 − alpha of Beta(k + 1, n − k) (1 when k = n).
 *
 * @param k - successes, an integer in [0, n]
 * @param n - trials, an integer >= 1
 * @param alpha - one-sided failure probability in (0, 1)
 * @returns the lower and upper bounds
 * @throws {@link DpError} `invalid_parameter` for a bad count or level
 * @example
 * ```ts
 * import { clopperPearson } from "dpkit/audit";
 * clopperPearson(0, 10, 0.05).upper; // 1 − 0.05^(1/10) ≈ 0.2589
 * ```
 * @see https://doi.org/10.1093/biomet/26.4.404
 */
export function clopperPearson(k: number, n: number, alpha: number): ClopperPearsonBounds {
  requireInteger("n", n, { min: 1 });
  requireInteger("k", k, { min: 0, max: n });
  requireOpenProbability("alpha", alpha);
  const lower = k === 0 ? 0 : betaQuantile(alpha, k, n - k + 1);
  const upper = k === n ? 1 : betaQuantile(1 - alpha, k + 1, n - k);
  return { lower, upper };
}

/**
 * The upper tail P[X >= v] of X ~ Binomial(n, p), summed in log space from the exact PMF (accurate
 * for tiny tails).
 *
 * @param v - threshold (any integer; v <= 0 gives 1, v > n gives 0)
 * @param n - trials, an integer >= 0
 * @param p - success probability in [0, 1]
 * @returns P[X >= v]
 * @throws {@link DpError} `invalid_parameter` for a bad n or p
 * @example
 * ```ts
 * import { binomialUpperTail } from "dpkit/audit";
 * binomialUpperTail(10, 10, 0.5); // 2^-10
 * ```
 */
export function binomialUpperTail(v: number, n: number, p: number): number {
  requireInteger("n", n, { min: 0 });
  requireProbability("p", p);
  if (v <= 0) return 1;
  if (v > n) return 0;
  return binomialUpperTails(n, p)[Math.ceil(v)];
}

/**
 * All upper tails: out[v] = P[Binomial(n, p) >= v] for v = 0..n+1. O(n). @internal
 */
export function binomialUpperTails(n: number, p: number): Float64Array {
  const out = new Float64Array(n + 2);
  if (p <= 0) {
    out[0] = 1;
    return out;
  }
  if (p >= 1) {
    out.fill(1, 0, n + 1);
    return out;
  }
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  const base = logGamma(n + 1);
  // Sum from the top so small tails keep their relative accuracy; scale by the largest log-PMF.
  const logPmf = new Float64Array(n + 1);
  let maxLog = -Infinity;
  for (let k = 0; k <= n; k++) {
    logPmf[k] = base - logGamma(k + 1) - logGamma(n - k + 1) + k * lp + (n - k) * lq;
    if (logPmf[k] > maxLog) maxLog = logPmf[k];
  }
  let acc = 0;
  for (let k = n; k >= 0; k--) {
    acc += Math.exp(logPmf[k] - maxLog);
    out[k] = acc;
  }
  const total = out[0];
  for (let k = 0; k <= n; k++) out[k] = Math.min(1, out[k] / total);
  return out;
}
