/**
 * Rounding to the nearest integer, as `Math.round` does, at a fraction of its cost in V8's hot
 * loops (the grid rounding of the exact noise passes). @module @internal
 */

/**
 * `Math.round(x)` — the nearest integer, ties toward +∞ — computed as `Math.floor(x + 0.5)`,
 * falling back to `Math.round` where that sum is inexact in a way that matters. Equal to
 * `Math.round(x)` for every double x, except that a zero result is always +0 (`Math.round`
 * returns -0 for x in [-0.5, -0]); the exact-noise passes add a noise integer that is never -0 to
 * it, and -0 + 0 = +0 + 0 = +0, so their outputs are bit for bit the same.
 *
 * @remarks
 * Why it is exact. Let y = x + 0.5 as a real number and ŷ its double. If ŷ = y, floor(ŷ) is
 * Math.round(x). For 0.5 <= |x| < 2^52, 0.5 is a multiple of x's ulp, and y is either smaller
 * in magnitude than x (x < 0: representable on x's grid) or, for x > 0, representable unless it
 * crosses into the next binade 2^(e+1), where the rounding cannot cross an integer (integers lie
 * on both grids, and y >= 2^(e+1) already). For |x| < 0.5 only x = 0.5 − 2^−54 rounds y up to 1.
 * For |x| >= 2^52, x is an integer and y may round up by one. In every wrong case the floor is one
 * too large, i.e. k − 0.5 > x; for |k| < 2^52 the half-integer k − 0.5 is exact, and above it the
 * wrong k is even (x odd, the tie of x + 0.5 went to even), so k − 0.5 ties back to k > x, while a
 * right k = x gives k − 0.5 <= x. Only then is `Math.round` called. NaN and ±∞ pass through as
 * `Math.round` gives them.
 *
 * @param x - any double
 * @returns the nearest integer to x (ties toward +∞); +0 for a zero result
 */
export function roundHalfUp(x: number): number {
  const k = Math.floor(x + 0.5);
  return k - 0.5 > x ? Math.round(x) : k;
}
