/**
 * Exact Bernoulli samplers: Bernoulli(p) for a double or rational p, and Bernoulli(exp(-gamma))
 * (Canonne, Kamath & Steinke, "The Discrete Gaussian for Differential Privacy", NeurIPS 2020,
 * Algorithm 1). Only uniform integers and exact rational (bigint) arithmetic reach the outcome.
 *
 * @see https://arxiv.org/abs/2004.00010
 * @module
 */
import { DpError, requireNonNegative, requireProbability } from "../errors.js";
import { bernoulliExpApprox } from "./exp-bernoulli.js";
import { doubleToRational } from "./rational.js";
import { resolveRng, type Rng } from "./rng.js";
import { TWO32, TWO53, uniformBelow, uniformBigInt } from "./uniform.js";

const BIG_TWO53 = 2n ** 53n;

/**
 * Exact Bernoulli(p) for a double p in [0, 1].
 *
 * @remarks
 * Compares random bits lazily with the binary expansion of p (every double is a dyadic
 * rational), 32 bits at a time, so P[true] is exactly p. Expected cost: one 32-bit word.
 *
 * @param p - probability in [0, 1]
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns `true` with probability exactly `p`
 * @throws {@link DpError} when `p` is not in [0, 1]
 * @example
 * ```ts
 * import { bernoulli } from "dpkit/random";
 * const coin = bernoulli(0.25);
 * ```
 */
export function bernoulli(p: number, rng?: Rng): boolean {
  if (!(p >= 0 && p <= 1)) requireProbability("p", p);
  const r = resolveRng(rng);
  let rest = p;
  for (;;) {
    const scaled = rest * TWO32; // exact: multiplication by a power of two
    const chunk = Math.floor(scaled);
    rest = scaled - chunk; // exact
    const u = r.nextUint32();
    if (u < chunk) return true;
    if (u > chunk) return false;
    if (rest === 0) return false;
  }
}

/**
 * Exact Bernoulli(num/den) for bigints 0 <= num <= den, den >= 1.
 * @param num - numerator, 0 <= num <= den
 * @param den - denominator >= 1
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns `true` with probability exactly num/den
 * @throws {@link DpError} `invalid_parameter` for a bad fraction
 * @example
 * ```ts
 * import { bernoulliRational } from "dpkit/random";
 * bernoulliRational(1n, 3n); // true with probability exactly 1/3
 * ```
 */
export function bernoulliRational(num: bigint, den: bigint, rng?: Rng): boolean {
  if (typeof num !== "bigint" || typeof den !== "bigint" || den < 1n || num < 0n || num > den) {
    throw new DpError(
      "invalid_parameter",
      `\`num/den\` must satisfy 0 <= num <= den, den >= 1. Found ${String(num)}/${String(den)}.`,
      "num",
    );
  }
  if (num === den) return true;
  if (num === 0n) return false;
  const r = resolveRng(rng);
  if (den <= BigInt(TWO53)) return uniformBelow(Number(den), r) < Number(num);
  return uniformBigInt(den, r) < num;
}

/** CKS Algorithm 1 for gamma = n/d in [0, 1], safe integers. @internal */
function bernoulliExpUnitNumber(n: number, d: number, r: Rng): boolean {
  if (n === 0) return true;
  let k = 1;
  for (;;) {
    const dk = d * k;
    const a = dk <= TWO53 ? uniformBelow(dk, r) < n : bernoulliRational(BigInt(n), BigInt(d) * BigInt(k), r);
    if (!a) break;
    k++;
  }
  return (k & 1) === 1;
}

/** Exact Bernoulli(exp(-1)). @internal */
export function bernoulliExpMinusOne(r: Rng): boolean {
  return bernoulliExpApprox(1, 0, ONE_OVER_ONE, 0, r);
}
const ONE_OVER_ONE = (): [bigint, bigint] => [1n, 1n];

function bernoulliExpUnit(num: bigint, den: bigint, r: Rng): boolean {
  // CKS Algorithm 1 for gamma = num/den in [0, 1].
  if (num <= BIG_TWO53 && den <= BIG_TWO53) return bernoulliExpUnitNumber(Number(num), Number(den), r);
  let k = 1n;
  for (;;) {
    if (!bernoulliRational(num, den * k, r)) break;
    k++;
  }
  return k % 2n === 1n;
}

/**
 * Exact Bernoulli(exp(-gamma)) for a rational gamma = num/den >= 0
 * (Canonne–Kamath–Steinke 2020, Algorithm 1).
 *
 * @remarks
 * For gamma in [0, 1]: draw Bernoulli(gamma/k) for k = 1, 2, ... until one fails and return
 * whether the number of draws is odd. For gamma > 1: floor(gamma) independent Bernoulli(exp(-1))
 * trials and one Bernoulli(exp(-(gamma - floor(gamma)))) must all succeed. Only exact integer
 * arithmetic is used.
 *
 * @param num - numerator >= 0
 * @param den - denominator >= 1
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns `true` with probability exactly exp(-num/den)
 * @throws {@link DpError} `invalid_parameter` for a negative or malformed rational
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { bernoulliExpRational } from "dpkit/random";
 * bernoulliExpRational(1n, 2n); // true with probability exp(-1/2)
 * ```
 */
export function bernoulliExpRational(num: bigint, den: bigint, rng?: Rng): boolean {
  if (typeof num !== "bigint" || typeof den !== "bigint" || den < 1n || num < 0n) {
    throw new DpError("invalid_parameter", `\`gamma\` must be a rational >= 0. Found ${String(num)}/${String(den)}.`, "gamma");
  }
  const r = resolveRng(rng);
  const approx = Number(num) / Number(den);
  if (Number.isFinite(approx)) return bernoulliExpApprox(approx, approx * 2 ** -50, () => [num, den], 0, r);
  if (num <= den) return bernoulliExpUnit(num, den, r);
  const whole = num / den;
  for (let i = 0n; i < whole; i++) {
    if (!bernoulliExpMinusOne(r)) return false;
  }
  return bernoulliExpUnit(num - whole * den, den, r);
}

/**
 * Exact Bernoulli(exp(-gamma)) for a double gamma >= 0 (taken as its exact rational value).
 * @param gamma - finite, >= 0
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns `true` with probability exactly exp(-gamma)
 * @throws {@link DpError} when `gamma` is negative or not finite
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { bernoulliExp } from "dpkit/random";
 * bernoulliExp(0.5); // true with probability exp(-0.5)
 * ```
 */
export function bernoulliExp(gamma: number, rng?: Rng): boolean {
  requireNonNegative("gamma", gamma);
  const r = resolveRng(rng);
  return bernoulliExpApprox(gamma, 0, exactOfDouble, gamma, r);
}

/** The exact rational of a double, as a pair. */
function exactOfDouble(x: number): [bigint, bigint] {
  const q = doubleToRational(x);
  return [q.num, q.den];
}
