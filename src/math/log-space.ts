/**
 * Log-space sums and differences for the accountants: log(e^a + e^b) and log(e^a - e^b) without
 * overflow or cancellation. Pure functions of doubles.
 * @internal
 * @module
 */

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
  return a + (d < -Math.LN2 ? Math.log1p(-Math.exp(d)) : Math.log(-Math.expm1(d)));
}
