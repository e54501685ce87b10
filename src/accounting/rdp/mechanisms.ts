/**
 * Rényi DP curves of the Laplace mechanism, randomized response, a generic (ε, δ) guarantee and
 * the Gaussian mechanism subsampled without replacement: pure functions of the parameters and one
 * order α > 1.
 *
 * - Laplace: Mironov 2017, "Rényi Differential Privacy", Prop. 6 (exact).
 * - k-ary randomized response (replace-one): the Rényi divergence between
 *   P = [1 - p + p/k, p/k, …] and Q = [p/k, 1 - p + p/k, p/k, …] (exact), as dp_accounting.
 * - ε-DP part of an (ε, δ) event: the RDP of binary randomized response with parameter ε, which
 *   dominates every ε-DP mechanism (as dp_accounting; the δ is carried separately).
 * - Gaussian sampled without replacement (replace-one): Wang, Balle & Kasiviswanathan 2019,
 *   "Subsampled Rényi DP and Analytical Moments Accountant", Theorem 9 at integer orders.
 *
 * @module
 */
import { logAddExp } from "../../math/log-space.js";

/**
 * RDP at order α of the Laplace mechanism whose pure-DP parameter is ε = sensitivity / b:
 * ε + log(1 + (α-1)(e^{(1-2α)ε} - 1)/(2α-1)) / (α-1).
 * @internal
 */
export function laplaceRdpValue(epsilon: number, order: number): number {
  const a = order;
  return epsilon + Math.log1p(((a - 1) * Math.expm1(epsilon * (1 - 2 * a))) / (2 * a - 1)) / (a - 1);
}

/**
 * RDP at order α of k-ary randomized response in dp_accounting's parametrisation (report the
 * truth with probability 1 - p + p/k, each other bucket with p/k), replace-one relation.
 * @internal
 */
export function randomizedResponseRdpValue(p: number, k: number, order: number): number {
  if (p === 1) return 0;
  if (p === 0) return Infinity;
  const a = order;
  const log1 = Math.log(k / p - k + 1);
  const terms = [Math.log(p / k) + a * log1, Math.log(1 - p + p / k) - a * log1];
  const rest = (1 - 2 / k) * p;
  let s = logAddExp(terms[0], terms[1]);
  if (rest > 0) s = logAddExp(s, Math.log(rest));
  return Math.max(0, s) / (a - 1);
}

/**
 * RDP at order α implied by pure ε-DP (the binary randomized-response curve with parameter ε):
 * (εα + log(1 + e^{ε(1-2α)}) - log(1 + e^ε)) / (α - 1).
 * @internal
 */
export function pureDpRdpValue(epsilon: number, order: number): number {
  if (epsilon === 0) return 0;
  const a = order;
  const v = (epsilon * a + logAddExp(0, epsilon * (1 - 2 * a)) - logAddExp(0, epsilon)) / (a - 1);
  return Math.min(Math.max(0, v), epsilon);
}

function logBinomialInteger(n: number, k: number): number {
  let s = 0;
  const kk = Math.min(k, n - k);
  for (let i = 1; i <= kk; i++) s += Math.log(n - kk + i) - Math.log(i);
  return s;
}

/**
 * RDP at order α of the Gaussian mechanism (noise multiplier σ with respect to the replace-one
 * sensitivity of the subsample query) run on a subsample of m = q·n records drawn without
 * replacement, replace-one relation: Wang, Balle & Kasiviswanathan 2019, Theorem 9 with
 * ε(α) = α/(2σ²) and ε(∞) = ∞:
 *
 * ε'(α) <= log(1 + q² C(α,2) min{4(e^{ε(2)} - 1), 2 e^{ε(2)}} + Σ_{j=3}^{α} 2 q^j C(α,j) e^{(j-1)ε(j)}) / (α - 1).
 *
 * The minimum with the unsampled ε(α) is taken (a subsample of replace-one neighbours differs in at
 * most one record). Only integer orders have this bound; fractional orders return Infinity (they
 * are excluded, never guessed).
 * @internal
 */
export function sampledWithoutReplacementGaussianRdpValue(q: number, sigma: number, order: number): number {
  if (q === 0) return 0;
  if (q === 1) return order / (2 * sigma * sigma);
  if (!Number.isInteger(order)) return Infinity;
  const a = order;
  const eps = (x: number): number => x / (2 * sigma * sigma);
  const logq = Math.log(q);
  const e2 = eps(2);
  const logE2m1 = e2 + Math.log1p(-Math.exp(-e2));
  let logA = 0;
  logA = logAddExp(logA, 2 * logq + logBinomialInteger(a, 2) + Math.min(Math.log(4) + logE2m1, e2 + Math.LN2));
  let logC = logBinomialInteger(a, 2);
  for (let j = 3; j <= a; j++) {
    logC += Math.log(a - j + 1) - Math.log(j);
    logA = logAddExp(logA, Math.LN2 + j * logq + logC + (j - 1) * eps(j));
  }
  // A subsample of neighbours is a pair of neighbours (or equal), so the unsampled bound also holds.
  return Math.min(logA / (a - 1), eps(a));
}
