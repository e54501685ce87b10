/**
 * Log-space special functions for the accountants: `log(erfc(x))`, `log(Phi(x))` (the standard
 * normal CDF) and log-sum/difference helpers. Pure functions of doubles, no state.
 *
 * `logErfc` uses erfc(z) = t·exp(-z² + P(4t - 2)) with t = 2/(2 + z) for z >= 0 (the form of
 * Numerical Recipes' `erfccheb`), with a 32-term Chebyshev expansion of P fitted here to 50-digit
 * values (mpmath); the logarithm is formed without ever computing exp(-z²), so it is accurate to a
 * few ulps for every finite z, including z = 1e6 where erfc underflows.
 *
 * @internal
 * @module
 */

/** Chebyshev coefficients of P on [-1, 1] (argument x = 2t - 1 = (4t - 2) / 2). */
const CHEB = [
  -0.6513268598908547,
  0.6419697923564902,
  0.019476473204185836,
  -0.009561514786808632,
  -0.0009465953444820369,
  0.00036683949785276145,
  4.252332480690777e-05,
  -2.0278578112534242e-05,
  -1.6242900046470256e-06,
  1.3036558355805232e-06,
  1.5626441722066142e-08,
  -8.523809591492654e-08,
  6.5290544390988515e-09,
  5.059343495551469e-09,
  -9.91364156493033e-10,
  -2.273651222931836e-10,
  9.646791102015527e-11,
  2.3940380830391146e-12,
  -6.886027526497553e-12,
  8.944879273090725e-13,
  3.130921399342958e-13,
  -1.1270822361367252e-13,
  3.810905255189232e-16,
  7.106097613609237e-15,
  -1.5230282014571043e-15,
  -9.457494571291233e-17,
  1.210237189224279e-16,
  -2.816663087747177e-17,
  5.003005559445902e-20,
  2.3281042579529253e-18,
  -8.446077682509006e-19,
  7.376840893227907e-20,
];

const LN2 = Math.LN2;

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

/** log(erfc(z)) for z >= 0 (never underflows). */
function logErfcNonNegative(z: number): number {
  if (z === Infinity) return -Infinity;
  const t = 2 / (2 + z);
  return Math.log(t) - z * z + chebP(2 * t - 1);
}

/** erfc(z) for z >= 0. */
function erfcNonNegative(z: number): number {
  return Math.exp(logErfcNonNegative(z));
}

/**
 * log(erfc(x)) with high relative accuracy for every x (erfc(x) in (0, 2)).
 * @internal
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= 0) return logErfcNonNegative(x);
  // erfc(x) = 2 - erfc(-x)
  return Math.log(2) + Math.log1p(-0.5 * erfcNonNegative(-x));
}

/** erfc(x) for every x. @internal */
export function erfc(x: number): number {
  if (x >= 0) return erfcNonNegative(x);
  return 2 - erfcNonNegative(-x);
}

/**
 * log(Phi(x)), Phi the standard normal CDF: Phi(x) = erfc(-x / sqrt 2) / 2.
 * @internal
 */
export function logNormalCdf(x: number): number {
  if (x > 0) return Math.log1p(-0.5 * erfcNonNegative(x / Math.SQRT2));
  return logErfcNonNegative(-x / Math.SQRT2) - LN2;
}

/** Phi(x), the standard normal CDF. @internal */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** log(exp(a) + exp(b)) without overflow. @internal */
export function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  if (a === Infinity || b === Infinity) return Infinity;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/**
 * log(exp(a) - exp(b)) for a >= b; returns -Infinity when a == b. Throws (a bug, never data) when
 * a < b, which would make the result negative.
 * @internal
 */
export function logSubExp(a: number, b: number): number {
  if (b === -Infinity) return a;
  if (a === b) return -Infinity;
  if (!(a > b)) throw new RangeError(`logSubExp: result would be negative (log terms ${a} < ${b}).`);
  const d = b - a;
  // log(1 - e^d), d < 0: log1p(-e^d) when e^d is small, log(-expm1(d)) near 0.
  return a + (d < -LN2 ? Math.log1p(-Math.exp(d)) : Math.log(-Math.expm1(d)));
}

/** log(1 - exp(x)) for x <= 0, accurate near 0 and for very negative x. @internal */
export function log1mExp(x: number): number {
  if (x > 0) return NaN;
  if (x === 0) return -Infinity;
  return x < -LN2 ? Math.log1p(-Math.exp(x)) : Math.log(-Math.expm1(x));
}
