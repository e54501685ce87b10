/**
 * Exact samplers on integers and rationals, and a fast vector Gaussian sampler.
 *
 * The exact samplers follow Canonne, Kamath & Steinke, "The Discrete Gaussian for Differential
 * Privacy" (NeurIPS 2020, arXiv:2004.00010), Algorithms 1–3: they use only uniform random
 * integers and exact rational (bigint) arithmetic, so their output distribution is exactly the
 * stated one — no floating-point rounding reaches the result.
 *
 * @see https://arxiv.org/abs/2004.00010
 * @module
 */
import { DpError, requireFinite, requireInteger, requireNonNegative, requirePositive, requireProbability } from "../errors.js";
import { bernoulliExpApprox, fastDiscreteGaussian, fastDiscreteLaplace, geometricByInversion } from "./expBernoulli.js";
import { resolveRng, SecureRng, type Rng } from "./rng.js";

const TWO32 = 4294967296;
const TWO53 = 9007199254740992;
const TWO21 = 2097152;
const TWO46 = 2 ** 46;
const TWO52 = 2 ** 52;
const BIG_TWO53 = 2n ** 53n;
const BIG_TWO46 = 2n ** 46n;

// ---------------------------------------------------------------------------------------------
// Uniform integers
// ---------------------------------------------------------------------------------------------

/**
 * A uniformly random integer in [0, n), n a safe integer in [1, 2^53], without validation.
 * Rejection on the largest multiple of n below 2^32 (or 2^53): no modulo bias.
 * @internal
 */
export function uniformBelow(n: number, r: Rng): number {
  if (n <= TWO32) {
    if (n === 1) return 0;
    // Accept x < limit, the largest multiple of n not above 2^32.
    const limit = TWO32 - (TWO32 % n);
    for (;;) {
      const x = r.nextUint32();
      if (x < limit) return x % n;
    }
  }
  const limit = TWO53 - (TWO53 % n);
  for (;;) {
    const hi = r.nextUint32() & (TWO21 - 1);
    const x = hi * TWO32 + r.nextUint32();
    if (x < limit) return x % n;
  }
}

/**
 * A uniformly random integer in [0, n) by rejection sampling (no modulo bias).
 *
 * @remarks
 * Draws 32-bit words (two words, 53 bits, when n > 2^32) and rejects the values at or above the
 * largest multiple of n that fits, so every residue is equally likely.
 *
 * @param n - an integer in [1, 2^53]
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns an integer in [0, n)
 * @throws {@link DpError} `invalid_parameter` when `n` is not an integer in [1, 2^53]
 * @example
 * ```ts
 * import { uniformInt } from "dpkit/random";
 * const die = uniformInt(6) + 1;
 * ```
 */
export function uniformInt(n: number, rng?: Rng): number {
  if (!(Number.isInteger(n) && n >= 1 && n <= TWO53)) requireInteger("n", n, { min: 1, max: TWO53 });
  return uniformBelow(n, resolveRng(rng));
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/**
 * A uniformly random bigint in [0, n) by rejection on the smallest power of two above n.
 *
 * @remarks
 * Draws ceil(log2 n) random bits (masked to the bit length of n - 1) and rejects values >= n:
 * every value is exactly equally likely; fewer than 2 attempts are needed on average.
 *
 * @param n - a bigint >= 1
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns a bigint in [0, n)
 * @throws {@link DpError} `invalid_parameter` unless n is a bigint >= 1
 * @example
 * ```ts
 * import { uniformBigInt } from "dpkit/random";
 * uniformBigInt(2n ** 100n);
 * ```
 */
export function uniformBigInt(n: bigint, rng?: Rng): bigint {
  if (typeof n !== "bigint" || n < 1n) {
    throw new DpError("invalid_parameter", `\`n\` must be a bigint >= 1. Found ${String(n)}.`, "n");
  }
  if (n <= BigInt(TWO53)) return BigInt(uniformInt(Number(n), rng));
  const r = resolveRng(rng);
  const bits = bitLength(n - 1n);
  const words = Math.ceil(bits / 32);
  const topBits = bits - 32 * (words - 1);
  const topMask = topBits === 32 ? 0xffffffff : (1 << topBits) - 1;
  for (;;) {
    let x = BigInt((r.nextUint32() & topMask) >>> 0);
    for (let i = 1; i < words; i++) x = (x << 32n) | BigInt(r.nextUint32());
    if (x < n) return x;
  }
}

/**
 * A uniform double k / 2^53 in [0, 1) (53 random bits).
 *
 * @remarks
 * For simulations and for the tests' naive fixtures. Do not build privacy noise from it by
 * floating-point transformations (that is exactly the Mironov 2012 attack surface); use the
 * exact samplers or the grid mechanisms.
 *
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns a double in [0, 1)
 * @example
 * ```ts
 * import { uniform01 } from "dpkit/random";
 * uniform01(); // e.g. 0.4183...
 * ```
 */
export function uniform01(rng?: Rng): number {
  const r = resolveRng(rng);
  const hi = r.nextUint32() & (TWO21 - 1);
  return (hi * TWO32 + r.nextUint32()) / TWO53;
}

// ---------------------------------------------------------------------------------------------
// Rationals
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Bernoulli
// ---------------------------------------------------------------------------------------------

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
function bernoulliExpMinusOne(r: Rng): boolean {
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

/**
 * gamma = num / den with den a power of two, both safe integers (num <= 2^46), or undefined.
 * @internal
 */
function dyadic(x: number): { num: number; den: number } | undefined {
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

// ---------------------------------------------------------------------------------------------
// Geometric, discrete Laplace, discrete Gaussian
// ---------------------------------------------------------------------------------------------

/**
 * Exact geometric with P[X = k] ∝ e^{-k s / t} for safe integers t <= 2^46, s <= 2^53, by
 * inversion of one lazily refined uniform (see expBernoulli.ts). @internal
 */
function geometricExpNumber(t: number, s: number, r: Rng): number {
  // Inversion needs V resolved to about s/t relative; the double enclosure is 2^-44 wide, so
  // it is used directly up to t/s = 2^32 (bigint refinement in about 2^-11 of the draws).
  if (t <= INVERSION_MAX_SCALE * s) return geometricByInversion(t, s, r);
  // Larger scales: CKS Algorithm 2's split X = U + t·V with U uniform in [0, t) accepted with
  // probability e^{-U/t}, and V geometric with rate 1 (by inversion: thresholds e^{-v}).
  let u: number;
  for (;;) {
    u = uniformBelow(t, r);
    const a = u / t;
    if (bernoulliExpApprox(a, a * 2 ** -50, (uu) => [BigInt(uu), BigInt(t)], u, r)) break;
  }
  const v = geometricByInversion(1, 1, r);
  if (v > (TWO53 - t) / t) return Number((BigInt(u) + BigInt(t) * BigInt(v)) / BigInt(s));
  const x = u + t * v; // exact: below 2^53
  if (s === 1) return x;
  let q = Math.floor(x / s);
  while (q * s > x) q--;
  while ((q + 1) * s <= x) q++;
  return q;
}
const INVERSION_MAX_SCALE = 2 ** 32;

/**
 * Exact geometric sample: P[X = k] = (1 - e^{-s/t}) e^{-k s/t}, k = 0, 1, ...,
 * for a rational scale t/s (the magnitude step of CKS Algorithm 2).
 * @param t - scale numerator >= 1
 * @param s - scale denominator >= 1
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns a non-negative bigint
 * @throws {@link DpError} `invalid_parameter` for a non-positive scale
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { geometricExpRational } from "dpkit/random";
 * geometricExpRational(3n, 1n); // P[k] ∝ e^{-k/3}
 * ```
 */
export function geometricExpRational(t: bigint, s: bigint, rng?: Rng): bigint {
  if (typeof t !== "bigint" || typeof s !== "bigint" || t < 1n || s < 1n) {
    throw new DpError("invalid_parameter", `\`scale\` must be a rational > 0. Found ${String(t)}/${String(s)}.`, "scale");
  }
  const r = resolveRng(rng);
  if (t <= BIG_TWO46 && s <= BIG_TWO53) return BigInt(geometricExpNumber(Number(t), Number(s), r));
  for (;;) {
    const u = uniformBigInt(t, r);
    if (!bernoulliExpRational(u, t, r)) continue;
    let v = 0n;
    while (bernoulliExpMinusOne(r)) v++;
    const x = u + t * v; // geometric with parameter e^{-1/t}
    return x / s; // floor: geometric with parameter e^{-s/t}
  }
}

/**
 * Exact geometric sample with P[X = k] = (1 - e^{-1/scale}) e^{-k/scale}, k >= 0.
 * @param scale - > 0 (its exact double value is used)
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns a non-negative integer
 * @throws {@link DpError} when `scale` is not a finite number > 0
 * @example
 * ```ts
 * import { geometricExp } from "dpkit/random";
 * geometricExp(2); // P[k] ∝ e^{-k/2}
 * ```
 */
export function geometricExp(scale: number, rng?: Rng): number {
  requirePositive("scale", scale);
  const r = resolveRng(rng);
  const d = dyadic(scale);
  if (d !== undefined) return geometricExpNumber(d.num, d.den, r);
  const { num, den } = doubleToRational(scale);
  return Number(geometricExpRational(num, den, r));
}

/**
 * Exact geometric sample: number of failures before the first success of Bernoulli(p) trials.
 * Cost is O(1/p) trials; for small p use {@link geometricExp}.
 * @param p - success probability in (0, 1]
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns k >= 0 with P[k] = (1 - p)^k p
 * @throws {@link DpError} when `p` is not in (0, 1]
 * @example
 * ```ts
 * import { geometric } from "dpkit/random";
 * geometric(0.5); // 0 with probability 1/2, 1 with 1/4, ...
 * ```
 */
export function geometric(p: number, rng?: Rng): number {
  requireProbability("p", p);
  if (p === 0) throw new DpError("invalid_parameter", "`p` must be > 0. Found 0.", "p");
  const r = resolveRng(rng);
  let k = 0;
  while (!bernoulli(p, r)) k++;
  return k;
}

/** Discrete Laplace with integer-friendly scale t/s (t <= 2^46, s <= 2^53), doubles. @internal */
function discreteLaplaceNumber(t: number, s: number, r: Rng): number {
  for (;;) {
    const y = geometricExpNumber(t, s, r);
    const negative = (r.nextUint32() & 1) === 1;
    if (negative) {
      if (y === 0) continue;
      return -y;
    }
    return y;
  }
}

/**
 * Exact discrete Laplace sample with scale t/s: P[X = x] ∝ exp(-|x| s / t), x ∈ ℤ
 * (CKS 2020, Algorithm 2).
 * @param t - scale numerator >= 1
 * @param s - scale denominator >= 1
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns a bigint
 * @throws {@link DpError} `invalid_parameter` for a non-positive scale
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { discreteLaplaceRational } from "dpkit/random";
 * discreteLaplaceRational(10n, 3n); // scale 10/3
 * ```
 */
export function discreteLaplaceRational(t: bigint, s: bigint, rng?: Rng): bigint {
  if (typeof t !== "bigint" || typeof s !== "bigint" || t < 1n || s < 1n) {
    throw new DpError("invalid_parameter", `\`scale\` must be a rational > 0. Found ${String(t)}/${String(s)}.`, "scale");
  }
  const r = resolveRng(rng);
  if (t <= BIG_TWO46 && s <= BIG_TWO53) return BigInt(discreteLaplaceNumber(Number(t), Number(s), r));
  for (;;) {
    const y = geometricExpRational(t, s, r);
    const negative = (r.nextUint32() & 1) === 1;
    if (negative && y === 0n) continue;
    return negative ? -y : y;
  }
}

/**
 * Exact discrete Laplace sample: P[X = x] ∝ exp(-|x| / scale), x ∈ ℤ.
 *
 * @remarks
 * Adding it to an integer query of sensitivity Δ gives (Δ / scale)-differential privacy; the
 * output is an integer, so no floating-point artefact can leak the input (CKS 2020, Algorithm 2).
 *
 * @param scale - > 0 (its exact double value is used)
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns an integer (never -0)
 * @throws {@link DpError} when `scale` is not a finite number > 0
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { discreteLaplace } from "dpkit/random";
 * const noise = discreteLaplace(2); // e.g. -1, 0, 3, ...
 * ```
 */
export function discreteLaplace(scale: number, rng?: Rng): number {
  if (lastLaplace === undefined || lastLaplace.scale !== scale) {
    lastLaplace = { scale, sample: discreteLaplaceSampler(scale) };
  }
  return lastLaplace.sample(resolveRng(rng));
}
let lastLaplace: { scale: number; sample: (r: Rng) => number } | undefined;

/**
 * A discrete Laplace sampler for one scale (P[x] ∝ exp(-|x|/scale)), with the parameter work
 * (exact rational form, double fast path) done once. @internal
 */
export function discreteLaplaceSampler(scale: number): (r: Rng) => number {
  requirePositive("scale", scale);
  const d = dyadic(scale);
  if (d !== undefined && d.den === 1 && d.num <= TWO32) return fastDiscreteLaplace(d.num);
  if (d !== undefined) return (r) => discreteLaplaceNumber(d.num, d.den, r);
  const { num, den } = doubleToRational(scale);
  return (r) => Number(discreteLaplaceRational(num, den, r));
}

/**
 * Exact discrete Gaussian sample with variance parameter sigma² = num/den:
 * P[X = x] ∝ exp(-x² / (2 sigma²)), x ∈ ℤ (CKS 2020, Algorithm 3).
 * @param sigma2Num - numerator of sigma² (>= 1)
 * @param sigma2Den - denominator of sigma² (>= 1)
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns a bigint
 * @throws {@link DpError} `invalid_parameter` for a non-positive sigma²
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { discreteGaussianRational } from "dpkit/random";
 * discreteGaussianRational(9n, 4n); // sigma = 1.5
 * ```
 */
export function discreteGaussianRational(sigma2Num: bigint, sigma2Den: bigint, rng?: Rng): bigint {
  if (typeof sigma2Num !== "bigint" || typeof sigma2Den !== "bigint" || sigma2Num < 1n || sigma2Den < 1n) {
    throw new DpError(
      "invalid_parameter",
      `\`sigma^2\` must be a rational > 0. Found ${String(sigma2Num)}/${String(sigma2Den)}.`,
      "sigma",
    );
  }
  const r = resolveRng(rng);
  const a = sigma2Num;
  const b = sigma2Den;
  // t = floor(sigma) + 1, computed exactly: largest t0 with t0^2 <= a/b, then + 1.
  let t0 = BigInt(Math.floor(Math.sqrt(Number(a) / Number(b))));
  while (t0 * t0 * b > a) t0--;
  while ((t0 + 1n) * (t0 + 1n) * b <= a) t0++;
  const t = t0 + 1n;
  const twoABT2 = 2n * a * b * t * t;
  for (;;) {
    const y = discreteLaplaceRational(t, 1n, r);
    const absY = y < 0n ? -y : y;
    const diff = absY * t * b - a;
    if (bernoulliExpRational(diff * diff, twoABT2, r)) return y;
  }
}

/** Unit roundoff of doubles. */
const U = 2 ** -53;

/**
 * A discrete Gaussian sampler for one double sigma in (2^-400, 2^46): CKS Algorithm 3 in double
 * arithmetic. The proposal (discrete Laplace with integer scale t) is exact in doubles; the
 * acceptance Bernoulli(exp(-g)), g = (|y| - sigma²/t)² / (2 sigma²), uses a rigorous enclosure
 * [gLo, gHi] of g computed in doubles and falls back to exact bigint arithmetic only when a
 * uniform lands inside the enclosure (probability about 2^-45 per comparison), so the output
 * distribution is exactly the discrete Gaussian.
 * @internal
 */
export function discreteGaussianSampler(sigma: number): (r: Rng) => number {
  requirePositive("sigma", sigma);
  if (!(sigma > 2 ** -400 && sigma < TWO46)) {
    const { num, den } = doubleToRational(sigma);
    return (r) => Number(discreteGaussianRational(num * num, den * den, r));
  }
  const t = Math.floor(sigma) + 1;
  const s2 = sigma * sigma;
  const c = s2 / t;
  const twoS2 = 2 * s2;
  let exactParts: { m2: bigint; fourE: bigint; bt: bigint; den: bigint } | undefined;
  const exactG = (absY: number): Rational => {
    // sigma = M / 2^E exactly, so g = (|y| t 4^E - M²)² / (2 M² t² 4^E).
    if (!exactParts) {
      const q = doubleToRational(sigma);
      const fourE = q.den * q.den;
      const m2 = q.num * q.num;
      const bt = BigInt(t);
      exactParts = { m2, fourE, bt, den: 2n * m2 * bt * bt * fourE };
    }
    const p = exactParts;
    const diff = BigInt(absY) * p.bt * p.fourE - p.m2;
    return { num: diff * diff, den: p.den };
  };
  const exactPair = (absY: number): [bigint, bigint] => {
    const e = exactG(absY);
    return [e.num, e.den];
  };
  if (sigma >= 0.5 && sigma < 2 ** 31) return fastDiscreteGaussian(sigma, exactPair);
  return (r) => {
    for (;;) {
      const y = discreteLaplaceNumber(t, 1, r);
      const absY = y < 0 ? -y : y;
      if (absY > TWO46) {
        // Astronomically unlikely: decide exactly.
        const g = exactG(absY);
        if (bernoulliExpRational(g.num, g.den, r)) return y;
        continue;
      }
      const d = absY - c;
      const errD = 4 * U * (c + absY);
      const ad = d < 0 ? -d : d;
      const g = (d * d) / twoS2;
      const err = 2 * (((2 * ad * errD + errD * errD) / twoS2) * (1 + 8 * U) + g * 8 * U) + 2 ** -1000;
      const accept = bernoulliExpApprox(g, err, exactPair, absY, r);
      if (accept) return y;
    }
  };
}

/**
 * Exact discrete Gaussian sample: P[X = x] ∝ exp(-x² / (2 sigma²)), x ∈ ℤ.
 *
 * @remarks
 * Canonne, Kamath & Steinke (2020), Algorithm 3: rejection sampling from a discrete Laplace
 * proposal, with every acceptance decided exactly (doubles with a rigorous error enclosure and
 * an exact bigint fallback), so the distribution is exactly the discrete Gaussian.
 * Adding it to an integer query of L2 sensitivity Δ gives (Δ²/(2 sigma²))-zCDP.
 *
 * @param sigma - > 0 (its exact double value is used; sigma² is formed exactly)
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns an integer (never -0)
 * @throws {@link DpError} when `sigma` is not a finite number > 0
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { discreteGaussian } from "dpkit/random";
 * const noise = discreteGaussian(3);
 * ```
 */
export function discreteGaussian(sigma: number, rng?: Rng): number {
  if (lastGaussian === undefined || lastGaussian.sigma !== sigma) {
    lastGaussian = { sigma, sample: discreteGaussianSampler(sigma) };
  }
  return lastGaussian.sample(resolveRng(rng));
}
let lastGaussian: { sigma: number; sample: (r: Rng) => number } | undefined;

// ---------------------------------------------------------------------------------------------
// Binomial
// ---------------------------------------------------------------------------------------------

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * Exact Binomial(n, p) sample for a double p in [0, 1].
 *
 * @remarks
 * n exact Bernoulli(p) trials; for p = 1/2 it counts random bits 32 at a time. Cost O(n)
 * (O(n/32) for p = 1/2).
 *
 * @param n - number of trials, an integer >= 0
 * @param p - success probability in [0, 1]
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns the number of successes
 * @throws {@link DpError} for a bad `n` or `p`
 * @example
 * ```ts
 * import { binomial } from "dpkit/random";
 * binomial(100, 0.5); // about 50
 * ```
 */
export function binomial(n: number, p: number, rng?: Rng): number {
  requireInteger("n", n, { min: 0 });
  requireProbability("p", p);
  const r = resolveRng(rng);
  if (p === 0 || n === 0) return 0;
  if (p === 1) return n;
  if (p === 0.5) {
    let count = 0;
    let left = n;
    while (left >= 32) {
      count += popcount32(r.nextUint32());
      left -= 32;
    }
    if (left > 0) count += popcount32(r.nextUint32() & ((1 << left) - 1) >>> 0);
    return count;
  }
  let count = 0;
  for (let i = 0; i < n; i++) if (bernoulli(p, r)) count++;
  return count;
}

// ---------------------------------------------------------------------------------------------
// Continuous Gaussian vectors (for DP-SGD noise)
// ---------------------------------------------------------------------------------------------

const SCRATCH_WORDS = 16_384;
/** Half the smallest float32 subnormal: anything smaller rounds to ±0 in a Float32Array. */
const TINY = 2 ** -150;

// Ziggurat tables (Marsaglia & Tsang 2000, 256 layers of equal area V; the base layer is the
// rectangle [0, R] x [0, f(R)] plus the tail beyond R). ZX[i] is the right edge of layer i
// (ZX[0] = V / f(R) is the base layer's pseudo-width), ZF[i] = f(ZX[i]), f(x) = exp(-x²/2).
const ZIG_LAYERS = 256;
const ZIG_R = 3.654152885361008796;
const ZIG_V = 0.00492867323399;
const ZX = new Float64Array(ZIG_LAYERS + 1);
const ZF = new Float64Array(ZIG_LAYERS + 1);
{
  const f = (x: number): number => Math.exp(-0.5 * x * x);
  ZX[0] = ZIG_V / f(ZIG_R);
  ZX[1] = ZIG_R;
  for (let i = 1; i < ZIG_LAYERS - 1; i++) ZX[i + 1] = Math.sqrt(-2 * Math.log(ZIG_V / ZX[i] + f(ZX[i])));
  ZX[ZIG_LAYERS] = 0;
  for (let i = 0; i <= ZIG_LAYERS; i++) ZF[i] = f(ZX[i]);
}

/**
 * Fills `out` with independent N(0, sigma²) draws from the secure source.
 *
 * @remarks
 * A ziggurat sampler (Marsaglia & Tsang 2000, 256 layers) on 53-bit uniforms from the secure
 * source: two 32-bit words per draw in about 99% of cases (8 bits choose the layer, 1 bit the
 * sign, 53 bits the position), the exact Marsaglia tail beyond 3.65 sigma (reaching about
 * 13.7 sigma). It is continuous noise computed in floating point, meant for vector noise added
 * to floating-point model updates (DP-SGD, DP-FedAvg): like every floating-point sampler it is
 * **not** immune to the floating-point (Mironov 2012) attack on its low-order bits. Releases of
 * real-valued statistics should use `gaussianMechanism` in `dpkit/mechanisms`, whose outputs are
 * exact multiples of a power-of-two grid. No output is NaN, ±Infinity or -0 (also after
 * rounding into a Float32Array).
 *
 * @param out - array to fill (Float32Array, Float64Array or number[])
 * @param sigma - standard deviation >= 0
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns `out`
 * @throws {@link DpError} when `sigma` is negative or not finite
 * @see https://doi.org/10.18637/jss.v005.i08
 * @example
 * ```ts
 * import { fillGaussian } from "dpkit/random";
 * const noise = fillGaussian(new Float32Array(1_000_000), 1.1);
 * ```
 */
export function fillGaussian<T extends Float32Array | Float64Array | number[]>(out: T, sigma: number, rng?: Rng): T {
  requireNonNegative("sigma", sigma);
  const n = out.length;
  if (sigma === 0) {
    for (let i = 0; i < n; i++) out[i] = 0;
    return out;
  }
  const r = resolveRng(rng);
  const words = new Uint32Array(Math.min(SCRATCH_WORDS, 2 * n + 64));
  let w = words.length;
  const refill = (): void => {
    if (r instanceof SecureRng) r.fillUint32(words);
    else for (let j = 0; j < words.length; j++) words[j] = r.nextUint32();
    w = 0;
  };
  /** A uniform in (0, 1] with 53 random bits. */
  const open01 = (): number => {
    if (w + 2 > words.length) refill();
    const v = ((words[w] & (TWO21 - 1)) * TWO32 + words[w + 1] + 1) / TWO53;
    w += 2;
    return v;
  };
  for (let i = 0; i < n; i++) {
    let z: number;
    for (;;) {
      if (w + 2 > words.length) refill();
      const a = words[w];
      const layer = a & 255;
      const u = ((a >>> 11) * TWO32 + words[w + 1]) / TWO53; // 53 bits in [0, 1)
      w += 2;
      const x = u * ZX[layer];
      if (x < ZX[layer + 1]) {
        z = a & 256 ? -x : x;
        break;
      }
      if (layer === 0) {
        // Marsaglia's tail beyond R.
        let t: number;
        for (;;) {
          t = -Math.log(open01()) / ZIG_R;
          const e = -Math.log(open01());
          if (e + e > t * t) break;
        }
        z = a & 256 ? -(ZIG_R + t) : ZIG_R + t;
        break;
      }
      const y = ZF[layer] + open01() * (ZF[layer + 1] - ZF[layer]);
      if (y < Math.exp(-0.5 * x * x)) {
        z = a & 256 ? -x : x;
        break;
      }
    }
    // Values at or below half the smallest float32 subnormal become +0, so no output is -0
    // (not even after rounding into a Float32Array).
    const v = sigma * z;
    out[i] = v <= TINY && v >= -TINY ? 0 : v;
  }
  return out;
}

/**
 * A new Float64Array of `n` independent N(0, sigma²) draws from the secure source.
 *
 * @remarks
 * See {@link fillGaussian}: continuous floating-point noise, not immune to the floating-point
 * attack; for released statistics use the grid `gaussianMechanism`.
 *
 * @param n - length, an integer >= 0
 * @param sigma - standard deviation >= 0
 * @param rng - randomness source; defaults to the secure source (a seeded Rng is insecure)
 * @returns the noise vector
 * @throws {@link DpError} for a bad `n` or `sigma`
 * @example
 * ```ts
 * import { gaussianVector } from "dpkit/random";
 * const noise = gaussianVector(784, 1.1);
 * ```
 */
export function gaussianVector(n: number, sigma: number, rng?: Rng): Float64Array {
  requireInteger("n", n, { min: 0 });
  return fillGaussian(new Float64Array(n), sigma, rng);
}
