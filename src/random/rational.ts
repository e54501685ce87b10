/**
 * Exact rationals of doubles: how the exact samplers turn a double parameter into bigints.
 * @module
 */
import { requireFinite } from "../errors.js";

const TWO46 = 2 ** 46;
const TWO52 = 2 ** 52;

/** An exact non-negative rational num/den (den > 0). */
export interface Rational {
  num: bigint;
  den: bigint;
}

/**
 * The exact rational value of a finite double (every double is a dyadic rational).
 *
 * @remarks
 * Used to turn parameters given as doubles (scales, scores, epsilon) into exact rationals so
 * that no rounding reaches a sampling probability.
 *
 * @param x - a finite number
 * @returns num/den in lowest terms, den a power of two
 * @throws {@link DpError} when `x` is not finite
 * @example
 * ```ts
 * import { doubleToRational } from "dpkit/random";
 * doubleToRational(0.375); // { num: 3n, den: 8n }
 * ```
 */
export function doubleToRational(x: number): Rational {
  requireFinite("x", x);
  if (x === 0) return { num: 0n, den: 1n };
  const neg = x < 0;
  let m = Math.abs(x);
  let e = 0;
  // Scale until integral; at most 1074 doublings for subnormals, all exact.
  while (!Number.isInteger(m)) {
    m *= 2;
    e++;
  }
  let num = BigInt(m);
  let den = 1n << BigInt(e);
  while (num % 2n === 0n && den > 1n) {
    num /= 2n;
    den /= 2n;
  }
  return { num: neg ? -num : num, den };
}

/**
 * gamma = num / den with den a power of two, both safe integers (num <= 2^46), or undefined.
 * @internal
 */
export function dyadic(x: number): { num: number; den: number } | undefined {
  let m = x;
  let den = 1;
  while (!Number.isInteger(m)) {
    if (den >= TWO52) return undefined;
    m *= 2;
    den *= 2;
  }
  if (m > TWO46) return undefined;
  return { num: m, den };
}
