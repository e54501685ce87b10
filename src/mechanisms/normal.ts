/**
 * The standard normal distribution, accurate in the tails: the scaled complementary error
 * function erfcx(x) = e^{x²} erfc(x), the CDF Φ and its inverse. Used by the analytic Gaussian
 * calibration (Balle & Wang 2018), where δ is a difference of two tiny tail probabilities and a
 * naive `1 - Φ(x)` would lose every digit.
 *
 * @module
 */

const SQRT_PI = Math.sqrt(Math.PI);
const SQRT2 = Math.SQRT2;

/** erf(x) for |x| < 0.5 by its Taylor series (full double accuracy there). */
function erfSeries(x: number): number {
  let sum = 0;
  let term = x;
  for (let n = 0; n < 60; n++) {
    const t = term / (2 * n + 1);
    sum += t;
    if (Math.abs(t) <= 1e-17 * Math.abs(sum)) break;
    term *= (-x * x) / (n + 1);
  }
  return (2 / SQRT_PI) * sum;
}

/**
 * The scaled complementary error function erfcx(x) = e^{x²}·erfc(x), to about 1e-15 relative.
 *
 * @remarks
 * |x| < 0.5: Taylor series of erf; x >= 0.5: Laplace's continued fraction
 * erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated backwards;
 * x < 0: erfcx(x) = 2e^{x²} - erfcx(-x) (overflows to Infinity below about -26.6).
 *
 * @param x - any number
 * @returns e^{x²}·erfc(x)
 * @example
 * ```ts
 * import { erfcx } from "dpkit/mechanisms";
 * erfcx(10); // 0.05614099274382259
 * ```
 */
export function erfcx(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 * Math.exp(x * x) - erfcx(-x);
  if (x < 0.5) return Math.exp(x * x) * (1 - erfSeries(x));
  if (x === Infinity) return 0;
  const terms = x < 2 ? 1000 : x < 5 ? 200 : 60;
  let f = x;
  for (let k = terms; k >= 1; k--) f = x + k / 2 / f;
  return 1 / (SQRT_PI * f);
}

/**
 * Upper tail of the standard normal, Q(z) = P[Z > z] = 1 - Φ(z), accurate for large z
 * (no cancellation: it is computed as erfc(z/√2)/2, through erfcx).
 * @param z - any number
 * @returns P[Z > z]
 * @example
 * ```ts
 * import { standardNormalTail } from "dpkit/mechanisms";
 * standardNormalTail(10); // 7.61985302416047e-24
 * ```
 */
export function standardNormalTail(z: number): number {
  const x = z / SQRT2;
  if (x >= 0) return 0.5 * erfcx(x) * Math.exp(-x * x);
  return 1 - 0.5 * erfcx(-x) * Math.exp(-x * x);
}

/**
 * The standard normal CDF Φ(z), accurate in the lower tail.
 * @param z - any number
 * @returns P[Z <= z]
 * @example
 * ```ts
 * import { standardNormalCdf } from "dpkit/mechanisms";
 * standardNormalCdf(-10); // 7.61985302416047e-24
 * ```
 */
export function standardNormalCdf(z: number): number {
  return standardNormalTail(-z);
}

/**
 * The inverse of Φ: the z with Φ(z) = p, by bisection on {@link standardNormalCdf}
 * (to a relative width of about 1e-15).
 * @param p - probability in (0, 1)
 * @returns z with Φ(z) = p
 * @example
 * ```ts
 * import { standardNormalQuantile } from "dpkit/mechanisms";
 * standardNormalQuantile(0.975); // 1.959963984540054
 * ```
 */
export function standardNormalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) return p === 0 ? -Infinity : p === 1 ? Infinity : NaN;
  if (p > 0.5) return -standardNormalQuantile(1 - p);
  // p <= 0.5: z <= 0. Bracket in [-40, 0].
  let lo = -40;
  let hi = 0;
  for (let i = 0; i < 200 && hi - lo > 1e-15 * Math.max(1, Math.abs(lo)); i++) {
    const mid = (lo + hi) / 2;
    if (standardNormalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
