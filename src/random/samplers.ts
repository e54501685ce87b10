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
import { resolveRng, SecureRng, type Rng } from "./rng.js";

const TWO32 = 4294967296;
const TWO53 = 9007199254740992;
const TWO21 = 2097152;

// ---------------------------------------------------------------------------------------------
// Uniform integers
// ---------------------------------------------------------------------------------------------

/**
 * A uniformly random integer in [0, n) by rejection sampling (no modulo bias).
 * @param n - an integer in [1, 2^53]
 * @param rng - randomness source; defaults to the secure source
 */
export function uniformInt(n: number, rng?: Rng): number {
  if (!(Number.isInteger(n) && n >= 1 && n <= TWO53)) requireInteger("n", n, { min: 1, max: TWO53 });
  const r = resolveRng(rng);
  if (n === 1) return 0;
  if (n <= TWO32) {
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

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/**
 * A uniformly random bigint in [0, n) by rejection on the smallest power of two above n.
 * @param n - a bigint >= 1
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

/** A uniform double k / 2^53 in [0, 1) (53 random bits). */
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
 * @param x - a finite number
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
 * Exact Bernoulli(p) for a double p in [0, 1]: compares random bits lazily with the binary
 * expansion of p (every double is dyadic), 32 bits at a time. Expected cost: one 32-bit word.
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

/** Exact Bernoulli(num/den) for bigints 0 <= num <= den, den >= 1. */
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
  if (den <= BigInt(TWO53)) return uniformInt(Number(den), rng) < Number(num);
  return uniformBigInt(den, rng) < num;
}

function bernoulliExpUnit(num: bigint, den: bigint, r: Rng): boolean {
  // CKS Algorithm 1 for gamma = num/den in [0, 1].
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
 */
export function bernoulliExpRational(num: bigint, den: bigint, rng?: Rng): boolean {
  if (typeof num !== "bigint" || typeof den !== "bigint" || den < 1n || num < 0n) {
    throw new DpError("invalid_parameter", `\`gamma\` must be a rational >= 0. Found ${String(num)}/${String(den)}.`, "gamma");
  }
  const r = resolveRng(rng);
  if (num <= den) return bernoulliExpUnit(num, den, r);
  const whole = num / den;
  for (let i = 0n; i < whole; i++) {
    if (!bernoulliExpUnit(1n, 1n, r)) return false;
  }
  return bernoulliExpUnit(num - whole * den, den, r);
}

/** Exact Bernoulli(exp(-gamma)) for a double gamma >= 0 (taken as its exact rational value). */
export function bernoulliExp(gamma: number, rng?: Rng): boolean {
  requireNonNegative("gamma", gamma);
  const { num, den } = doubleToRational(gamma);
  return bernoulliExpRational(num, den, rng);
}

// ---------------------------------------------------------------------------------------------
// Geometric, discrete Laplace, discrete Gaussian
// ---------------------------------------------------------------------------------------------

/**
 * Exact geometric sample: P[X = k] = (1 - e^{-1/scale}) e^{-k/scale}, k = 0, 1, ...,
 * for a rational scale = t/s (the magnitude step of CKS Algorithm 2).
 */
export function geometricExpRational(t: bigint, s: bigint, rng?: Rng): bigint {
  if (typeof t !== "bigint" || typeof s !== "bigint" || t < 1n || s < 1n) {
    throw new DpError("invalid_parameter", `\`scale\` must be a rational > 0. Found ${String(t)}/${String(s)}.`, "scale");
  }
  const r = resolveRng(rng);
  for (;;) {
    const u = uniformBigInt(t, r);
    if (!bernoulliExpRational(u, t, r)) continue;
    let v = 0n;
    while (bernoulliExpUnit(1n, 1n, r)) v++;
    const x = u + t * v; // geometric with parameter e^{-1/t}
    return x / s; // floor: geometric with parameter e^{-s/t}
  }
}

/**
 * Exact geometric sample with P[X = k] = (1 - e^{-1/scale}) e^{-k/scale}, k >= 0.
 * @param scale - > 0 (its exact double value is used)
 */
export function geometricExp(scale: number, rng?: Rng): number {
  requirePositive("scale", scale);
  const { num, den } = doubleToRational(scale);
  return Number(geometricExpRational(num, den, rng));
}

/**
 * Exact geometric sample: number of failures before the first success of Bernoulli(p) trials.
 * Cost is O(1/p) trials; for small p use {@link geometricExp}.
 * @param p - success probability in (0, 1]
 */
export function geometric(p: number, rng?: Rng): number {
  requireProbability("p", p);
  if (p === 0) throw new DpError("invalid_parameter", "`p` must be > 0. Found 0.", "p");
  const r = resolveRng(rng);
  let k = 0;
  while (!bernoulli(p, r)) k++;
  return k;
}

/**
 * Exact discrete Laplace sample with scale t/s: P[X = x] ∝ exp(-|x| s / t), x ∈ ℤ
 * (CKS 2020, Algorithm 2).
 */
export function discreteLaplaceRational(t: bigint, s: bigint, rng?: Rng): bigint {
  if (typeof t !== "bigint" || typeof s !== "bigint" || t < 1n || s < 1n) {
    throw new DpError("invalid_parameter", `\`scale\` must be a rational > 0. Found ${String(t)}/${String(s)}.`, "scale");
  }
  const r = resolveRng(rng);
  for (;;) {
    const y = geometricExpRational(t, s, r);
    const negative = (r.nextUint32() & 1) === 1;
    if (negative && y === 0n) continue;
    return negative ? -y : y;
  }
}

/**
 * Exact discrete Laplace sample: P[X = x] ∝ exp(-|x| / scale), x ∈ ℤ.
 * @param scale - > 0 (its exact double value is used)
 * @param rng - randomness source; defaults to the secure source
 * @example
 * ```ts
 * import { discreteLaplace } from "dpkit/random";
 * const noise = discreteLaplace(2); // e.g. -1, 0, 3, ...
 * ```
 */
export function discreteLaplace(scale: number, rng?: Rng): number {
  requirePositive("scale", scale);
  const { num, den } = doubleToRational(scale);
  return Number(discreteLaplaceRational(num, den, rng));
}

/**
 * Exact discrete Gaussian sample with variance parameter sigma² = num/den:
 * P[X = x] ∝ exp(-x² / (2 sigma²)), x ∈ ℤ (CKS 2020, Algorithm 3).
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

/**
 * Exact discrete Gaussian sample: P[X = x] ∝ exp(-x² / (2 sigma²)), x ∈ ℤ.
 * @param sigma - > 0 (its exact double value is used; sigma² is formed exactly)
 */
export function discreteGaussian(sigma: number, rng?: Rng): number {
  requirePositive("sigma", sigma);
  const { num, den } = doubleToRational(sigma);
  return Number(discreteGaussianRational(num * num, den * den, rng));
}

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
 * Exact Binomial(n, p) sample for a double p in [0, 1] (exact Bernoulli trials; p = 1/2 counts
 * random bits 32 at a time). Cost O(n) (O(n/32) for p = 1/2).
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

/**
 * Fills `out` with independent N(0, sigma²) draws from the secure source (Box–Muller on
 * 53-bit uniforms, both outputs used).
 *
 * @remarks
 * For vector noise added to floating-point model updates (DP-SGD, DP-FedAvg). Scalar releases
 * of real-valued queries should use the grid mechanisms in `dpkit/mechanisms`, which are immune
 * to the floating-point attack.
 *
 * @param out - array to fill (Float32Array, Float64Array or number[])
 * @param sigma - standard deviation >= 0
 * @param rng - randomness source; defaults to the secure source
 * @returns `out`
 */
export function fillGaussian<T extends Float32Array | Float64Array | number[]>(out: T, sigma: number, rng?: Rng): T {
  requireNonNegative("sigma", sigma);
  const n = out.length;
  if (sigma === 0) {
    for (let i = 0; i < n; i++) out[i] = 0;
    return out;
  }
  const r = resolveRng(rng);
  const words = new Uint32Array(Math.min(SCRATCH_WORDS, 4 * Math.ceil(n / 2)));
  let w = words.length;
  const refill = (): void => {
    if (r instanceof SecureRng) r.fillUint32(words);
    else for (let j = 0; j < words.length; j++) words[j] = r.nextUint32();
    w = 0;
  };
  const twoPi = 2 * Math.PI;
  let i = 0;
  while (i < n) {
    if (w + 4 > words.length) refill();
    // u1 in (0, 1]: never 0, so the log is finite.
    const u1 = ((words[w] & (TWO21 - 1)) * TWO32 + words[w + 1] + 1) / TWO53;
    const u2 = ((words[w + 2] & (TWO21 - 1)) * TWO32 + words[w + 3]) / TWO53;
    w += 4;
    const rad = sigma * Math.sqrt(-2 * Math.log(u1));
    const theta = twoPi * u2;
    out[i++] = rad * Math.cos(theta) + 0; // + 0 turns -0 into 0
    if (i < n) out[i++] = rad * Math.sin(theta) + 0;
  }
  return out;
}

/** A new Float64Array of `n` independent N(0, sigma²) draws from the secure source. */
export function gaussianVector(n: number, sigma: number, rng?: Rng): Float64Array {
  requireInteger("n", n, { min: 0 });
  return fillGaussian(new Float64Array(n), sigma, rng);
}
