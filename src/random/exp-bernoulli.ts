/**
 * Fast exact Bernoulli(exp(-x)) and exact geometric sampling by inversion.
 *
 * A uniform V in (0, 1) is compared with e^{-x}. Almost always the comparison is decided by the
 * first 53 bits of V against a rigorous double-precision enclosure of e^{-x} (tables of e^{-n}
 * and e^{-j/64} computed with bigint arithmetic, a degree-6 Taylor polynomial, and a relative
 * margin of 2^-44 that is about 800 times the worst rounding error). When V's 53-bit prefix falls
 * inside the enclosure (probability about 2^-43), more bits of V are drawn and compared with a
 * bigint enclosure of e^{-x} of matching precision, computed from the exact rational x, until
 * they separate. The outcome is therefore exactly Bernoulli(e^{-x}): no floating-point error
 * reaches the distribution, only the running time.
 *
 * This replaces the loops of Canonne, Kamath & Steinke (2020) Algorithm 1 (several uniform
 * integers per Bernoulli) by one 53-bit uniform in the common case.
 *
 * @see https://arxiv.org/abs/2004.00010
 * @module
 */
import type { Rng } from "./rng.js";
import { TWO21, TWO32, TWO53 } from "./uniform.js";

/** Relative margin around the double enclosure (rounding error is below 2^-48). */
let margin = 2 ** -44;

/**
 * Widens the double enclosure (tests use a large margin to force the exact bigint path).
 * Returns the previous margin. @internal
 */
export function setExpEnclosureMarginForTesting(m: number): number {
  const old = margin;
  margin = m;
  return old;
}

/** The current relative margin of the double enclosure (2^-44 unless a test widened it). @internal */
export function expEnclosureMargin(): number {
  return margin;
}

// ---------------------------------------------------------------------------------------------
// Rigorous bigint enclosures of e^{-N/D}
// ---------------------------------------------------------------------------------------------

function bitLen(n: bigint): number {
  return n <= 0n ? 0 : n.toString(2).length;
}

/**
 * [lo, hi] with lo <= e^{-N/D} · 2^q <= hi, for bigints N >= 0, D >= 1 and q >= 0.
 *
 * e^{-g} = (e^{-g/m})^m with m = max(1, ceil(g)); the alternating series of e^{-y}, y = g/m <= 1,
 * is summed in fixed point with floored terms (term k is low by at most k units), then raised to
 * the m-th power with floors for the lower and ceilings for the upper bound, with enough guard
 * bits that the final enclosure is a few units wide at scale 2^q. @internal
 */
export function expNegEnclosure(N: bigint, D: bigint, q: number): [bigint, bigint] {
  if (N === 0n) {
    const one = 1n << BigInt(q);
    return [one, one];
  }
  const m = N <= D ? 1n : (N + D - 1n) / D;
  const guard = 48 + 2 * bitLen(m) + Math.ceil(1.45 * Number(m));
  const s = BigInt(q + guard);
  const scale = 1n << s;
  const Dm = D * m;
  // Series for e^{-y}, y = N / (D m) in (0, 1].
  let term = scale;
  let sum = scale;
  let k = 0n;
  for (;;) {
    k++;
    term = (term * N) / (Dm * k);
    if (term === 0n) break;
    sum += k % 2n === 1n ? -term : term;
  }
  const err = k * k + 4n * k + 4n;
  let lo = sum - err;
  let hi = sum + err;
  if (lo < 0n) lo = 0n;
  if (hi > scale) hi = scale;
  // Power m.
  let pl = lo;
  let ph = hi;
  for (let i = 1n; i < m; i++) {
    pl = (pl * lo) >> s;
    ph = (ph * hi + scale - 1n) >> s;
  }
  const shift = BigInt(guard);
  return [pl >> shift, (ph + (1n << shift) - 1n) >> shift];
}

// ---------------------------------------------------------------------------------------------
// Double enclosure of e^{-x}
// ---------------------------------------------------------------------------------------------

const EXP_INT = new Float64Array(65); // e^{-n}, n = 0..64
const EXP_FRAC = new Float64Array(64); // e^{-j/64}, j = 0..63
{
  // Correctly rounded doubles of bigint enclosures 200 bits wide: within 2^-53 relative.
  const q = 200;
  const toDouble = ([lo, hi]: [bigint, bigint]): number => Number((lo + hi) / 2n) / 2 ** q;
  for (let n = 0; n <= 64; n++) EXP_INT[n] = toDouble(expNegEnclosure(BigInt(n), 1n, q));
  for (let j = 0; j < 64; j++) EXP_FRAC[j] = toDouble(expNegEnclosure(BigInt(j), 64n, q));
}

/** The tables of {@link expNegApprox} (e^{-n}, n = 0..64; e^{-j/64}, j = 0..63), for its WebAssembly copy; read-only. @internal */
export function expNegTables(): { readonly int: Float64Array; readonly frac: Float64Array } {
  return { int: EXP_INT, frac: EXP_FRAC };
}

/**
 * e^{-x} for 0 <= x < 64 in doubles, within 2^-48 relative of the truth:
 * e^{-n} · e^{-j/64} · e^{-r}, r in [0, 1/64), with exact argument reduction (x - floor(x) and
 * f - j/64 are exact in doubles) and a degree-6 Taylor polynomial (truncation below 2^-54).
 * @internal
 */
export function expNegApprox(x: number): number {
  const n = Math.floor(x);
  const f = x - n;
  const j = Math.floor(f * 64);
  const r = f - j / 64;
  const p = 1 - r * (1 - r * (0.5 - r * (1 / 6 - r * (1 / 24 - r * (1 / 120 - r / 720)))));
  return EXP_INT[n] * EXP_FRAC[j] * p;
}

/** A lower bound of e^{-x'} for every x' <= x (x >= 0). */
function expNegLower(x: number): number {
  if (!(x < 64)) return 0;
  return expNegApprox(x) * (1 - margin);
}

/** An upper bound of e^{-x'} for every x' >= x. */
function expNegUpper(x: number): number {
  if (!(x > 0)) return 1;
  if (!(x < 64)) return EXP_INT[64] * (1 + margin);
  const v = expNegApprox(x) * (1 + margin);
  return v > 1 ? 1 : v;
}

// ---------------------------------------------------------------------------------------------
// A lazily refined uniform
// ---------------------------------------------------------------------------------------------

/**
 * A uniform V in [0, 1) known to `bits` bits: V in [prefix, prefix + 1) / 2^bits. Starts with 53
 * bits (a double comparison suffices almost always); more bits are drawn only when needed.
 * @internal
 */
export class LazyUniform {
  /** The first 53 bits as an integer in [0, 2^53). */
  j: number;
  private prefix: bigint | undefined;
  private bits = 53;

  constructor(private r: Rng) {
    this.j = (r.nextUint32() & (TWO21 - 1)) * TWO32 + r.nextUint32();
  }

  /** Resets to the uniform whose first 53 bits are `j` (more bits will come from `r`). */
  fromPrefix(j: number, r: Rng): this {
    this.r = r;
    this.j = j;
    this.prefix = undefined;
    this.bits = 53;
    return this;
  }

  /** Resets to a fresh uniform drawn from `r` (reuses the object: no allocation). */
  redraw(r: Rng): this {
    this.r = r;
    this.j = (r.nextUint32() & (TWO21 - 1)) * TWO32 + r.nextUint32();
    this.prefix = undefined;
    this.bits = 53;
    return this;
  }

  /**
   * Exactly decides V < e^{-x}, given a double approximation `approx` of x with absolute error
   * at most `err`, and the exact x = exact(arg) = [N, D] (evaluated only if needed).
   */
  lessThanExpNeg(approx: number, err: number, exact: (arg: number) => [bigint, bigint], arg: number): boolean {
    if (this.prefix === undefined) {
      if (approx >= 0 && approx < 48 && err < 2 ** -30) {
        // One evaluation: e^{-(x ± err)} lies within a factor 1 ± 1.01·err of e^{-x}.
        const e = expNegApprox(approx);
        const w = margin + 1.01 * err;
        if ((this.j + 1) / TWO53 <= e * (1 - w)) return true;
        if (this.j / TWO53 >= e * (1 + w)) return false;
      } else {
        const lo = expNegLower(approx + err);
        if ((this.j + 1) / TWO53 <= lo) return true;
        const hi = expNegUpper(approx - err);
        if (this.j / TWO53 >= hi) return false;
      }
      this.prefix = BigInt(this.j);
    }
    return this.refine(exact, arg);
  }

  /**
   * Exactly decides V < e^{-x} given `e`, an approximation of e^{-x} within a relative 2^-45
   * (so that e·(1 ± margin) encloses it), and the exact x = exact(arg).
   */
  lessThanValue(e: number, exact: (arg: number) => [bigint, bigint], arg: number): boolean {
    if (this.prefix === undefined) {
      if ((this.j + 1) / TWO53 <= e * (1 - margin)) return true;
      if (this.j / TWO53 >= e * (1 + margin)) return false;
      this.prefix = BigInt(this.j);
    }
    return this.refine(exact, arg);
  }

  private refine(exact: (arg: number) => [bigint, bigint], arg: number): boolean {
    let prefix = this.prefix as bigint;
    const [N, D] = exact(arg);
    for (;;) {
      const [lo, hi] = expNegEnclosure(N, D, this.bits);
      if (prefix + 1n <= lo) return true;
      if (prefix >= hi) return false;
      prefix = (prefix << 32n) | BigInt(this.r.nextUint32());
      this.prefix = prefix;
      this.bits += 32;
    }
  }
}

// Two reusable uniforms (the samplers are synchronous and never nest a use of the same one).
let bernoulliUniform: LazyUniform | undefined;
let inversionUniform: LazyUniform | undefined;

/**
 * Exact Bernoulli(e^{-x}) for x >= 0 given as a double approximation with absolute error bound
 * `err` and the exact rational x = exact(arg) = [N, D] (evaluated only if needed). @internal
 */
export function bernoulliExpApprox(approx: number, err: number, exact: (arg: number) => [bigint, bigint], arg: number, r: Rng): boolean {
  if (approx - err > 32) {
    // Large x: Bernoulli(e^{-x}) = Bernoulli(e^{-32}) AND Bernoulli(e^{-(x - 32)}), so the exact
    // refinement never has to resolve a uniform to e^{-x} for huge x.
    let shifts = 0n;
    while (approx - err > 32) {
      if (!fresh(r).lessThanExpNeg(32, 0, EXACT_32, 0)) return false;
      approx -= 32;
      err += 2 ** -40 * (approx + 32); // the subtraction's rounding
      shifts++;
    }
    const k = shifts;
    const shifted = (a: number): [bigint, bigint] => {
      const [N, D] = exact(a);
      return [N - 32n * k * D, D];
    };
    return fresh(r).lessThanExpNeg(approx, err, shifted, arg);
  }
  return fresh(r).lessThanExpNeg(approx, err, exact, arg);
}

function fresh(r: Rng): LazyUniform {
  return bernoulliUniform === undefined ? (bernoulliUniform = new LazyUniform(r)) : bernoulliUniform.redraw(r);
}
const EXACT_32 = (): [bigint, bigint] => [32n, 1n];

/** Exact ratio y·s/t for the geometric thresholds. */
class Thresholds {
  /** e^{-s/t} within 2^-49 relative (NaN when s/t >= 16: the general path is used). */
  readonly factor: number;
  constructor(
    readonly s: number,
    readonly t: number,
  ) {
    this.factor = s / t < 16 ? expNegApprox(s / t) : NaN;
  }
  readonly exact = (y: number): [bigint, bigint] => [BigInt(y) * BigInt(this.s), BigInt(this.t)];
}

let lastThresholds: Thresholds | undefined;

function thresholds(t: number, s: number): Thresholds {
  const th = lastThresholds;
  if (th !== undefined && th.t === t && th.s === s) return th;
  return (lastThresholds = new Thresholds(s, t));
}

/**
 * Exact geometric sample with P[X >= x] = e^{-x s / t} (x = 0, 1, ...) for safe integers t, s
 * (t/s is the scale), by inversion of one lazily refined uniform V: X is the largest x with
 * V < e^{-x s/t}. Math.log only supplies the first guess; every comparison is exact. @internal
 */
export function geometricByInversion(t: number, s: number, r: Rng): number {
  const v = inversionUniform === undefined ? (inversionUniform = new LazyUniform(r)) : inversionUniform.redraw(r);
  return geometricFromUniform(v, t, s);
}

/** The inversion of {@link geometricByInversion} for a given lazily refined uniform. */
function geometricFromUniform(v: LazyUniform, t: number, s: number): number {
  const th = thresholds(t, s);
  const guess = Math.floor((-Math.log((v.j + 0.5) / TWO53) * t) / s);
  let x = guess > 0 && guess < TWO53 ? guess : 0;
  for (;;) {
    // V < e^{-y s / t}; y·s/t is computed with at most 2 roundings (relative 2^-52).
    const a = (x * s) / t;
    if (a < 48 && !Number.isNaN(th.factor)) {
      // One exp evaluation for both thresholds: e^{-x s/t} within 2^-50 + a·2^-52 <= 2^-45.9
      // relative, and e^{-(x+1) s/t} = that · e^{-s/t} within 2^-45.4: inside the 2^-44 margin.
      const ea = x > 0 ? expNegApprox(a) : 1;
      if (x > 0 && !v.lessThanValue(ea, th.exact, x)) {
        x--;
        continue;
      }
      if (v.lessThanValue(ea * th.factor, th.exact, x + 1)) {
        x++;
        continue;
      }
      return x;
    }
    if (x > 0 && !v.lessThanExpNeg(a, a * 2 ** -50, th.exact, x)) {
      x--;
      continue;
    }
    const b = ((x + 1) * s) / t;
    if (v.lessThanExpNeg(b, b * 2 ** -50, th.exact, x + 1)) {
      x++;
      continue;
    }
    return x;
  }
}

/**
 * A fast exact discrete Laplace sampler, P[y] ∝ e^{-|y|/t}, for an integer scale 1 <= t <= 2^32:
 * the magnitude by inversion of one lazily refined uniform (one double evaluation of e^{-x/t}
 * for both thresholds), the sign from a spare bit, (negative, 0) rejected (CKS Algorithm 2's
 * symmetrisation). Undecided comparisons are finished exactly by the bigint refinement. @internal
 */
export function fastDiscreteLaplace(t: number): (r: Rng) => number {
  const factor = expNegApprox(1 / t);
  let lazy: LazyUniform | undefined;
  return (r: Rng): number => {
    for (;;) {
      const w0 = r.nextUint32();
      const j = (w0 & (TWO21 - 1)) * TWO32 + r.nextUint32();
      const negative = w0 >>> 31 === 1;
      let x = Math.floor(-Math.log((j + 0.5) / TWO53) * t);
      if (!(x >= 0 && x < TWO53)) x = 0;
      let decided = false;
      const a = x / t;
      if (a < 48) {
        const ea = x > 0 ? expNegApprox(a) : 1;
        decided = (x === 0 || (j + 1) / TWO53 <= ea * (1 - margin)) && j / TWO53 >= ea * factor * (1 + margin);
      }
      if (!decided)
        x = geometricFromUniform(lazy === undefined ? (lazy = new LazyUniform(r)).fromPrefix(j, r) : lazy.fromPrefix(j, r), t, 1);
      if (negative) {
        if (x === 0) continue;
        return -x;
      }
      return x;
    }
  };
}
