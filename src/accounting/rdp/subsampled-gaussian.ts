/**
 * Rényi DP of the Gaussian mechanism and of the Poisson-subsampled Gaussian mechanism under the
 * add-or-remove-one relation: pure functions of (q, sigma, order) in log space.
 *
 * With A_α = E_{z ~ N(0, σ²)}[((1 - q) + q·exp((2z - 1) / (2σ²)))^α], the RDP at order α is
 * log(A_α) / (α - 1) (Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy of the Sampled
 * Gaussian Mechanism", arXiv:1908.10530):
 *
 * - integer α: the exact binomial expansion
 *   A_α = Σ_{i=0}^{α} C(α, i) (1 - q)^{α-i} q^i exp((i² - i) / (2σ²));
 * - fractional α: the two-sided series of their Section 3.3, with the SIGNS of the generalised
 *   binomial coefficients C(α, i) kept (as Opacus and TF Privacy v0.5.1 compute it). Summing
 *   absolute values instead (dp_accounting ≥ 2024-04) is a valid but loose upper bound, off by up to
 *   ~140 % at α = 1.1.
 *
 * Symbols follow the paper (q, σ, α).
 *
 * @module
 */
import { logErfc } from "../../math/normal.js";
import { logAddExp, logSubExp } from "../../math/log-space.js";

/**
 * RDP of the Gaussian mechanism with noise multiplier σ (noise std / L2 sensitivity): α / (2σ²).
 * @internal
 */
export function gaussianRdpValue(sigma: number, order: number): number {
  return order / (2 * sigma * sigma);
}

/** log |C(α, i)| for i = 0..n and the sign of C(α, i), by the product recurrence. */
function logBinomials(alpha: number, n: number): { logAbs: Float64Array; negative: Uint8Array } {
  const logAbs = new Float64Array(n + 1);
  const negative = new Uint8Array(n + 1);
  let acc = 0;
  let neg = 0;
  for (let i = 1; i <= n; i++) {
    const f = alpha - i + 1;
    if (f === 0) {
      for (let j = i; j <= n; j++) logAbs[j] = -Infinity;
      return { logAbs, negative };
    }
    acc += Math.log(Math.abs(f)) - Math.log(i);
    if (f < 0) neg ^= 1;
    logAbs[i] = acc;
    negative[i] = neg;
  }
  return { logAbs, negative };
}

const binomialCache = new Map<number, Float64Array>();

/** log C(α, i) for integer α (cached; orders repeat across calls). */
function integerLogBinomials(alpha: number): Float64Array {
  let c = binomialCache.get(alpha);
  if (!c) {
    c = logBinomials(alpha, alpha).logAbs;
    if (binomialCache.size > 64) binomialCache.clear();
    binomialCache.set(alpha, c);
  }
  return c;
}

/**
 * log(A_α - 1) for integer α >= 2 and 0 < q < 1, from the exact binomial expansion: since the
 * binomial weights sum to 1, A_α - 1 = Σ_{i>=2} C(α, i) (1 - q)^{α-i} q^i (exp((i² - i)/(2σ²)) - 1),
 * a sum of positive terms, so no cancellation occurs even when A_α - 1 ≈ 1e-12.
 * @internal
 */
export function logAMinusOneInteger(q: number, sigma: number, alpha: number): number {
  const logq = Math.log(q);
  const log1mq = Math.log1p(-q);
  const lc = integerLogBinomials(alpha);
  const inv2s2 = 1 / (2 * sigma * sigma);
  const terms = new Float64Array(alpha + 1);
  let max = -Infinity;
  for (let i = 2; i <= alpha; i++) {
    const x = (i * i - i) * inv2s2;
    // log(e^x - 1) = x + log(1 - e^-x)
    const logExpm1 = x > 1 ? x + Math.log1p(-Math.exp(-x)) : Math.log(Math.expm1(x));
    const t = lc[i] + i * logq + (alpha - i) * log1mq + logExpm1;
    terms[i] = t;
    if (t > max) max = t;
  }
  if (max === Infinity || max === -Infinity) return max;
  let sum = 0;
  for (let i = 2; i <= alpha; i++) sum += Math.exp(terms[i] - max);
  return max + Math.log(sum);
}

/**
 * Upward rounding allowance, relative, applied to A_α - 1 (integer orders): covers the few-ulp
 * errors of the logs of terms up to ~700 in magnitude, so the result is never below the exact value.
 */
const INTEGER_ROUND_UP = 1e-12;

/**
 * log(A_α) for integer α >= 2 and 0 < q < 1 (exact expansion, rounded up).
 * @internal
 */
export function logAInteger(q: number, sigma: number, alpha: number): number {
  const lm1 = logAMinusOneInteger(q, sigma, alpha) + INTEGER_ROUND_UP;
  if (lm1 === Infinity) return Infinity;
  // log(1 + e^lm1)
  return lm1 > 0 ? lm1 + Math.log1p(Math.exp(-lm1)) : Math.log1p(Math.exp(lm1));
}

/**
 * Stop the fractional series once both parts' terms fall below e^-30 and are decreasing (Opacus'
 * criterion). The tail alternates in sign with decreasing magnitude, so the partial sums bracket
 * the limit: we return the bracketing partial sum that is an UPPER bound (the sum before the last
 * subtraction), which exceeds the true A_α by less than 2·e^-30 and is never below it.
 */
const FRACTIONAL_SERIES_LOG_THRESHOLD = -30;
/** Upward rounding allowance relative to Σ|terms| (about 4.5 ulps; the observed error is ~1 ulp), so the result is never below the exact value. */
const FRACTIONAL_ROUND_UP = 1e-15;
/** Safety cap on the number of terms; beyond it the order is reported as Infinity (excluded), never guessed. */
const FRACTIONAL_SERIES_MAX_TERMS = 1_000_000;

/**
 * log(A_α) for fractional α > 1 and 0 < q < 1: the signed series of Mironov, Talwar & Zhang
 * (2019, Sec. 3.3), split at z₀ = σ² log(1/q - 1) + 1/2, rounded up as described above. Returns
 * Infinity if the series does not converge numerically (the order is then useless, never
 * optimistic).
 * @internal
 */
export function logAFractional(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  let prevA0 = -Infinity;
  let prevA1 = -Infinity;
  let lastS0 = Infinity;
  let lastS1 = Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const logq = Math.log(q);
  const log1mq = Math.log1p(-q);
  const inv2s2 = 1 / (2 * sigma * sigma);
  const sqrt2s = Math.SQRT2 * sigma;
  let logCoef = 0;
  let negative = false;
  let logAbsSum = -Infinity;
  // Stop when terms are far below A_α - 1 (estimated by its leading term α(α-1)/2 · q² (e^{1/σ²} - 1)),
  // so that the bracketing error is ~1e-8 of the RDP value, and in any case below e^-30.
  const logAMinusOneEstimate = Math.log((alpha * (alpha - 1)) / 2) + 2 * logq + Math.log(Math.expm1(1 / (sigma * sigma)));
  const threshold = Math.min(FRACTIONAL_SERIES_LOG_THRESHOLD, logAMinusOneEstimate - 18);
  for (let i = 0; i < FRACTIONAL_SERIES_MAX_TERMS; i++) {
    if (i > 0) {
      const f = alpha - i + 1;
      logCoef += Math.log(Math.abs(f)) - Math.log(i);
      if (f < 0) negative = !negative;
    }
    const j = alpha - i;
    const logT0 = logCoef + i * logq + j * log1mq;
    const logT1 = logCoef + j * logq + i * log1mq;
    const logE0 = logErfc((i - z0) / sqrt2s) - Math.LN2;
    const logE1 = logErfc((z0 - j) / sqrt2s) - Math.LN2;
    const logS0 = logT0 + (i * i - i) * inv2s2 + logE0;
    const logS1 = logT1 + (j * j - j) * inv2s2 + logE1;
    prevA0 = logA0;
    prevA1 = logA1;
    logAbsSum = logAddExp(logAbsSum, logAddExp(logS0, logS1));
    if (!negative) {
      logA0 = logAddExp(logA0, logS0);
      logA1 = logAddExp(logA1, logS1);
    } else {
      if (!(logA0 >= logS0) || !(logA1 >= logS1)) return Infinity; // numerically lost: refuse this order
      logA0 = logSubExp(logA0, logS0);
      logA1 = logSubExp(logA1, logS1);
    }
    if (logS0 < lastS0 && logS1 < lastS1 && Math.max(logS0, logS1) < threshold) {
      const logA = negative ? logAddExp(prevA0, prevA1) : logAddExp(logA0, logA1);
      // Round up by FRACTIONAL_ROUND_UP × Σ|terms| to cover floating-point error in the signed sums.
      return logAddExp(logA, logAbsSum + Math.log(FRACTIONAL_ROUND_UP));
    }
    lastS0 = logS0;
    lastS1 = logS1;
  }
  return Infinity;
}

/**
 * RDP at one order of the Poisson-subsampled Gaussian mechanism (add-or-remove-one).
 * q = 0 gives 0; q = 1 gives the plain Gaussian α/(2σ²).
 * @internal
 */
export function poissonSubsampledGaussianRdpValue(q: number, sigma: number, order: number): number {
  if (q === 0) return 0;
  if (q === 1) return gaussianRdpValue(sigma, order);
  const logA = Number.isInteger(order) ? logAInteger(q, sigma, order) : logAFractional(q, sigma, order);
  if (!Number.isFinite(logA)) return Infinity;
  // A_α >= 1 mathematically; a tiny negative log from rounding is clamped to 0.
  return Math.max(0, logA) / (order - 1);
}
