/**
 * The standard normal distribution at full double precision: erfc, log erfc, the scaled erfcx,
 * Φ, log Φ, the upper tail Q = 1 - Φ and the quantile Φ⁻¹. The one home of these functions in
 * dpkit (the accountants, the analytic Gaussian calibration, RAPPOR's significance tests and the
 * Netflix-like generator all use it). Pure functions of doubles, no imports.
 *
 * erfc(z) = t·exp(-z² + P(2t - 1)) with t = 2/(2 + z) for z >= 0.5 (the form of Numerical
 * Recipes' `erfccheb`), with a 32-term Chebyshev expansion of P fitted to 50-digit values
 * (mpmath); the logarithm and erfcx = e^{z²}·erfc(z) are formed without computing exp(-z²), so
 * they are accurate to a few ulps for every finite z, including z = 1e6 where erfc underflows.
 * For |z| < 0.5 the Taylor series of erf is used. The quantile starts from Acklam's rational
 * approximation (relative error 1.2e-9) and takes two Halley steps on the accurate Φ.
 *
 * @module
 */

/** Chebyshev coefficients of P on [-1, 1] (argument x = 2t - 1 = (4t - 2) / 2). */
const CHEB = [
  -0.6513268598908547, 0.6419697923564902, 0.019476473204185836, -0.009561514786808632, -0.0009465953444820369, 0.00036683949785276145,
  4.252332480690777e-5, -2.0278578112534242e-5, -1.6242900046470256e-6, 1.3036558355805232e-6, 1.5626441722066142e-8, -8.523809591492654e-8,
  6.5290544390988515e-9, 5.059343495551469e-9, -9.91364156493033e-10, -2.273651222931836e-10, 9.646791102015527e-11, 2.3940380830391146e-12,
  -6.886027526497553e-12, 8.944879273090725e-13, 3.130921399342958e-13, -1.1270822361367252e-13, 3.810905255189232e-16,
  7.106097613609237e-15, -1.5230282014571043e-15, -9.457494571291233e-17, 1.210237189224279e-16, -2.816663087747177e-17,
  5.003005559445902e-20, 2.3281042579529253e-18, -8.446077682509006e-19, 7.376840893227907e-20,
];

const SQRT_PI = Math.sqrt(Math.PI);
const SQRT_2PI = Math.sqrt(2 * Math.PI);

function chebP(x: number): number {
  // Clenshaw recurrence for sum_k c_k T_k(x).
  let b1 = 0;
  let b2 = 0;
  const x2 = 2 * x;
  for (let k = CHEB.length - 1; k >= 1; k--) {
    const b0 = x2 * b1 - b2 + CHEB[k];
    b2 = b1;
    b1 = b0;
  }
  return x * b1 - b2 + CHEB[0];
}

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

/** log(erfc(z)) for z >= 0.5 (never underflows). */
function logErfcLarge(z: number): number {
  if (z === Infinity) return -Infinity;
  const t = 2 / (2 + z);
  return Math.log(t) - z * z + chebP(2 * t - 1);
}

/**
 * log(erfc(x)) with high relative accuracy for every x (erfc(x) in (0, 2)).
 * @internal
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= 0.5) return logErfcLarge(x);
  if (x > -0.5) return Math.log1p(-erfSeries(x));
  return Math.LN2 + Math.log1p(-0.5 * Math.exp(logErfcLarge(-x))); // erfc(x) = 2 - erfc(-x)
}

/** erfc(x) for every x. @internal */
export function erfc(x: number): number {
  if (x >= 0.5) return Math.exp(logErfcLarge(x));
  if (x > -0.5) return 1 - erfSeries(x);
  if (x <= -0.5) return 2 - Math.exp(logErfcLarge(-x));
  return NaN;
}

/**
 * The scaled complementary error function erfcx(x) = e^{x²}·erfc(x), to a few ulps.
 *
 * @remarks
 * x >= 0.5: t·exp(P(2t - 1)) with t = 2/(2 + x) (no exp(-x²) is formed, so no underflow);
 * |x| < 0.5: e^{x²}(1 - erf(x)) by the Taylor series of erf; x < 0: erfcx(x) = 2e^{x²} - erfcx(-x)
 * (overflows to Infinity below about -26.6).
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
  const t = 2 / (2 + x);
  return t * Math.exp(chebP(2 * t - 1));
}

/**
 * Upper tail of the standard normal, Q(z) = P[Z > z] = 1 - Φ(z), accurate for large z
 * (no cancellation: it is computed as erfc(z/√2)/2).
 * @param z - any number
 * @returns P[Z > z]
 * @example
 * ```ts
 * import { standardNormalTail } from "dpkit/mechanisms";
 * standardNormalTail(10); // 7.61985302416047e-24
 * ```
 */
export function standardNormalTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
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
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** log Φ(x), accurate for every x (no underflow in the lower tail). @internal */
export function logStandardNormalCdf(x: number): number {
  if (x > 0) return Math.log1p(-0.5 * erfc(x / Math.SQRT2));
  return logErfc(-x / Math.SQRT2) - Math.LN2;
}

const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];

/**
 * The inverse of Φ: the z with Φ(z) = p, to about 1e-15 relative.
 *
 * @remarks
 * Acklam's rational approximation, then two Halley steps on {@link standardNormalCdf}; for
 * p > 1/2 it returns -Φ⁻¹(1 - p), so the lower tail keeps its relative accuracy.
 *
 * @param p - probability in (0, 1); 0 and 1 give ∓Infinity
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
  let x: number;
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  } else {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) /
      (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
  }
  for (let step = 0; step < 2; step++) {
    const u = (standardNormalCdf(x) - p) * SQRT_2PI * Math.exp((x * x) / 2);
    if (!Number.isFinite(u)) break;
    x -= u / (1 + (x * u) / 2);
  }
  return x;
}
