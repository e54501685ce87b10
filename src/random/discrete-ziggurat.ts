/**
 * An exact discrete ziggurat: independent samples of the discrete Gaussian
 * P[X = x] ∝ f(|x|), f(k) = exp(-k² / (2 sigma²)), x ∈ ℤ, written into whole vectors at close to the
 * speed of a continuous ziggurat (Marsaglia & Tsang 2000; in bench/noise 2.1-3.2× `tf.randomNormal`
 * and 1.4-1.6× `fillGaussian` at DP-SGD's sigma near 2^30, 1.4-2.8× `tf.randomNormal` at sigma 3),
 * with every decision exact. The discrete form follows Buchmann,
 * Cabarcas, Göpfert, Hülsing & Weiden 2013, whose sampler is only statistically close.
 *
 * **The construction.** The magnitude K >= 0 is drawn by rejection from a cover of the region
 * under f made of L = 256 layers, each chosen with probability exactly 1/L by 8 random bits:
 *
 * - Layers i = 1 .. L-1 are bands of heights [y_i, y_{i-1}) (1 <= y_0, y_{L-1} < ... < y_1) and
 *   integer widths W_i: a proposal is (k, y) with k uniform in {0, ..., W_i - 1} and y uniform in
 *   the band. Every k with f(k) > y_i is below W_i (certified), so the band's part under f is
 *   covered; points with y >= f(k) are rejected.
 * - Layer 0 (the base) is the rectangle {0, ..., R-1} × [0, y_{L-1}) (R = the number of k with
 *   f(k) >= y_{L-1}, certified) plus the tail envelope h(k) = y_{L-1}·2^-j for
 *   k ∈ [R + jB, R + (j+1)B), j >= 0, with B >= sigma²·ln2 / R, so that h >= f beyond R; its
 *   mass is exactly 2B·y_{L-1}. A uniform u in {0, ..., R+2B-1} picks the rectangle's column u
 *   (accepted: f(u) >= y_{L-1}) or the tail (u >= R): j ~ Geometric(1/2) from fair bits, k
 *   uniform in its block, accepted with probability f(k) / h(k).
 * - Equal areas: y_{L-1} is a double (a dyadic rational), A = (R + 2B)·y_{L-1} is the base's area,
 *   and each band has height exactly A / W_i (y_{i-1} = y_i + A/W_i). A layer wider than needed
 *   only adds rejected points. y_{L-1} is tuned so that y_0 >= 1 = f(0) (certified), so the bands
 *   cover everything above the base.
 *
 * With every layer of area A and picked with probability 1/L, a proposal is uniform on the union
 * of the layers, so an accepted k has probability exactly proportional to the height of the
 * region under f at k, which is f(k). The sign is a separate fair bit and (negative, 0) is
 * rejected, giving P[X = x] ∝ f(|x|) on ℤ. Every rejection restarts the whole proposal.
 *
 * **Exactness of each decision.**
 * - Fast accept (about 98-99% of draws for sigma >= 1): k < F_i where F_i is certified at set-up
 *   to satisfy f(F_i - 1) >= y_{i-1}, so the whole column lies under f: an integer comparison,
 *   no exponential.
 * - Wedge (y_i < f(k) < y_{i-1} possible): a 53-bit uniform U decides U·h_i + y_i < f(k) with a
 *   double evaluation of f(k) and an absolute margin of 2^-40 (about 2^10 times the worst
 *   rounding); when U falls inside the margin, the comparison is finished with bigint
 *   enclosures of e^{-x} ({@link expNegEnclosure}) and of y_i at growing precision, drawing more
 *   bits of U until the two sides separate. No floating-point error reaches the distribution.
 * - The tail's acceptance f(k)/h(k) is decided the same way (U·h(k) < f(k)).
 * - The uniform integers are exact: k = floor(J / Q_i) for a 53-bit J below Q_i·W_i, with
 *   Q_i = floor(2^53 / W_i); a J at or above the limit is redrawn inside the same layer (so the
 *   choice of layer stays exactly uniform). The floor of the double quotient is exactly floor(J / Q_i)
 *   (proved at `packFast`), and k < F_i is tested as J < F_i·Q_i, in integers.
 * - Set-up certifies R, the widths W_i, the fast-accept counts F_i and y_0 >= 1 against bigint
 *   enclosures of the exact rationals y_i (which are y_{L-1} + A·Σ 1/W_j), comparing f first in
 *   doubles with a 2^-40 relative margin and with bigint enclosures of f inside it; a bound that
 *   cannot be certified is moved to the safe side (a wider layer, a smaller F_i).
 *
 * One caveat, shared with every sampler that returns doubles: a tail magnitude at or above 2^53
 * (not representable) is rejected; for sigma <= 2^40 its probability is below e^{-2^25}, so the
 * output is the discrete Gaussian conditioned on an event of probability 1 - e^{-2^25}.
 *
 * Random words are read in bulk (one `crypto.getRandomValues` per block of up to 16,384 words from
 * the secure source, sized to the request); the unused rest of a block is discarded at the end of
 * the call (or stream), never carried over to another call or source. A stream
 * ({@link DiscreteZiggurat.stream}) hands out one call's samples piece by piece, so a long vector
 * can be drawn and used in cache-sized pieces with the same samples as one call.
 *
 * The sampling loops run in a small WebAssembly module (src/random/ziggurat.wat) where WebAssembly
 * is available: the same decisions on the same words, so the same samples (the JS loops below are the
 * reference and the fallback); every exact (bigint) decision, the tail and the refills stay in JS.
 * DP-SGD's exact noise (`addRounded`) draws and adds in one pass there, two proposals at a time
 * (issue 19; the same samples and values).
 *
 * @see https://doi.org/10.18637/jss.v005.i08
 * @see https://eprint.iacr.org/2013/510
 * @module
 */
import { roundHalfUp } from "../math/round.js";
import { expEnclosureMargin, expNegApprox, expNegEnclosure, expNegTables } from "./exp-bernoulli.js";
import { doubleToRational } from "./rational.js";
import { SecureRng, type Rng } from "./rng.js";
import { uniformBelow } from "./uniform.js";
import { ZIGGURAT_WASM_BASE64 } from "./ziggurat-wasm.js";
import { base64Bytes, compileWasmModule } from "../util/wasm.js";

// Module-local constants: an imported binding can compile to a getter call per use (tsx/esbuild
// interop), which profiling showed to be the largest cost of the hot loop.
const TWO32 = 4294967296;
const TWO53 = 9007199254740992;

/** Number of layers (8 random bits pick one). */
const LAYERS = 256;
/** Words per bulk read. */
const BLOCK_WORDS = 16_384;
/** Fixed-point precision (bits) of the set-up certificates. */
const Q = 192;
/** Absolute margin of the double wedge test (the doubles are within 2^-48 of the truth). */
const WEDGE_TOL = 2 ** -40;
/** Relative margin of the double tests in the set-up certificates (the errors are below 2^-44). */
const CERT_MARGIN = 2 ** -40;
/** A strict upper bound on ln 2 with 7.6e-5 relative slack (far above double rounding). */
const LN2_UP = 0.6932;

/** The smallest sigma served by the ziggurat (below it, the CKS sampler is used). */
export const ZIGGURAT_MIN_SIGMA = 0.25;
/** The largest sigma served by the ziggurat (widths stay below 2^44, far from 2^53). */
export const ZIGGURAT_MAX_SIGMA = 2 ** 40;

/** A certified ziggurat for one sigma. @internal */
export interface ZigguratTable {
  readonly sigma: number;
  readonly twoS2: number;
  /** x(k) = k² / (2 sigma²) = k²·xNumPerK2 / xDen exactly. */
  readonly xNumPerK2: bigint;
  readonly xDen: bigint;
  /** y_{L-1} = yNum / 2^yShift; A = aNum / 2^yShift. */
  readonly yNum: bigint;
  readonly yShift: number;
  readonly aNum: bigint;
  readonly R: number;
  readonly B: number;
  /** Per layer: width, Q = floor(2^53 / W), limit Q·W, fast-accept count, lower edge, height. */
  readonly W: Float64Array;
  readonly Qd: Float64Array;
  readonly lim: Float64Array;
  readonly F: Float64Array;
  readonly yD: Float64Array;
  readonly hD: Float64Array;
  readonly yTop: number;
  /** Expected proposals per output (for the docs and the bench). */
  readonly proposalsPerSample: number;
}

/** f(k) enclosure [lo, hi] at scale 2^q. */
function fEnclosure(t: Pick<ZigguratTable, "xNumPerK2" | "xDen">, k: number, q: number): [bigint, bigint] {
  const kb = BigInt(k);
  return expNegEnclosure(kb * kb * t.xNumPerK2, t.xDen, q);
}

/** The exact sign of f(k) - yNum/2^yShift (never 0 unless k = 0 and y = 1). */
function compareF(t: Pick<ZigguratTable, "xNumPerK2" | "xDen">, k: number, yNum: bigint, yShift: number): number {
  for (let q = yShift + 64; q < 1 << 16; q += 64) {
    const [lo, hi] = fEnclosure(t, k, q);
    const y = yNum << BigInt(q - yShift);
    if (lo > y) return 1;
    if (hi < y) return -1;
    if (lo === hi && lo === y) return 0;
  }
  throw new Error("discrete ziggurat: comparison did not separate"); // e^{-x} is irrational for rational x > 0
}

/**
 * Certifies f(k) <= y (y = yScaled / 2^Q) — false when it cannot. A double test first:
 * {@link expNegApprox} is within 2^-48 relative of e^{-x} for an exact x, the double x = k²/(2
 * sigma²) is within 4·2^-53 relative (so e^{-x} moves by at most 2^-45 relative for x < 48), and
 * Number(yScaled)/2^Q is within 2^-52 relative of y: a margin of 2^-40 covers all of them. Inside the
 * margin, the bigint enclosure decides.
 */
function fAtMost(sigma: number, t: Pick<ZigguratTable, "xNumPerK2" | "xDen">, k: number, yScaled: bigint): boolean {
  const x = (k * k) / (2 * sigma * sigma);
  const y = Number(yScaled) / 2 ** Q;
  if (x >= 48 && y > 2 ** -60) return true; // f(k) <= e^{-48} < 2^-69 (x is exact to 2^-50 relative)
  if (x < 48 && expNegApprox(x) * (1 + CERT_MARGIN) <= y * (1 - CERT_MARGIN)) return true;
  return fEnclosure(t, k, Q)[1] <= yScaled;
}

/** Certifies f(k) >= y (y = yScaled / 2^Q) — false when it cannot; see {@link fAtMost}. */
function fAtLeast(sigma: number, t: Pick<ZigguratTable, "xNumPerK2" | "xDen">, k: number, yScaled: bigint): boolean {
  const x = (k * k) / (2 * sigma * sigma);
  const y = Number(yScaled) / 2 ** Q;
  if (x < 48 && expNegApprox(x) * (1 - CERT_MARGIN) >= y * (1 + CERT_MARGIN)) return true;
  if (x < 48 && expNegApprox(x) * (1 + CERT_MARGIN) < y * (1 - CERT_MARGIN)) return false;
  return fEnclosure(t, k, Q)[0] >= yScaled;
}

/** Count of k >= 0 with f(k) > y, in doubles (an estimate: every use is certified or safe). */
function countAbove(sigma: number, y: number): number {
  if (!(y < 1)) return 0;
  const v = sigma * Math.sqrt(-2 * Math.log(y));
  return Math.floor(v) + 1;
}

/** The double design: y_0 reached from y_{L-1} = y in L-1 bands (>= 1 means y is large enough). */
function designTop(sigma: number, y: number): number {
  const R = countAbove(sigma, y);
  const B = Math.max(1, Math.ceil((sigma * sigma * LN2_UP) / R));
  const A = (R + 2 * B) * y;
  let yi = y;
  for (let i = LAYERS - 1; i >= 1; i--) {
    if (yi >= 1) return yi;
    yi += A / Math.max(1, countAbove(sigma, yi));
  }
  return yi;
}

/** Certified construction for a given y_{L-1}; undefined if y_0 >= 1 cannot be certified. */
function build(sigma: number, y: number, xNumPerK2: bigint, xDen: bigint): ZigguratTable | undefined {
  const base = { xNumPerK2, xDen };
  const yr = doubleToRational(y);
  let yShift = 0;
  while (1n << BigInt(yShift) < yr.den) yShift++;
  const yNum = yr.num;
  // R: f(R-1) >= y > f(R), exactly.
  let R = Math.max(1, countAbove(sigma, y) - 1);
  while (R > 1 && compareF(base, R - 1, yNum, yShift) < 0) R--;
  while (compareF(base, R, yNum, yShift) >= 0) R++;
  const B = Math.max(1, Math.ceil((sigma * sigma * LN2_UP) / R));
  const aNum = BigInt(R + 2 * B) * yNum;
  const aScaled = aNum << BigInt(Q - yShift); // A · 2^Q, exact (Q > yShift)
  const yScaled = yNum << BigInt(Q - yShift);
  const W = new Float64Array(LAYERS);
  const F = new Float64Array(LAYERS);
  const yD = new Float64Array(LAYERS);
  const hD = new Float64Array(LAYERS);
  const yLo = new Array<bigint>(LAYERS);
  const yHi = new Array<bigint>(LAYERS);
  W[0] = R + 2 * B;
  F[0] = R;
  yLo[LAYERS - 1] = yHi[LAYERS - 1] = yScaled;
  const aD = Number(aNum) / 2 ** yShift;
  for (let i = LAYERS - 1; i >= 1; i--) {
    // Width: every k with f(k) > y_i is below W_i: certified by f(W_i) <= y_i (f decreases).
    let w = Math.max(1, countAbove(sigma, Number(yLo[i]) / 2 ** Q));
    while (!fAtMost(sigma, base, w, yLo[i])) w++;
    W[i] = w;
    const wb = BigInt(w);
    const hLo = aScaled / wb;
    const hHi = (aScaled + wb - 1n) / wb;
    yLo[i - 1] = yLo[i] + hLo;
    yHi[i - 1] = yHi[i] + hHi;
    yD[i] = Number(yLo[i]) / 2 ** Q;
    hD[i] = aD / w;
  }
  const one = 1n << BigInt(Q);
  if (yLo[0] < one) return undefined;
  // Fast-accept counts: every k < F_i has f(k) >= y_{i-1} (the band's top), certified.
  F[1] = 0;
  for (let i = 2; i < LAYERS; i++) {
    let c = Math.min(W[i], countAbove(sigma, Number(yHi[i - 1]) / 2 ** Q));
    while (c > 0 && !fAtLeast(sigma, base, c - 1, yHi[i - 1])) c--;
    F[i] = c;
  }
  const Qd = new Float64Array(LAYERS);
  const lim = new Float64Array(LAYERS);
  for (let i = 0; i < LAYERS; i++) {
    Qd[i] = Math.floor(TWO53 / W[i]);
    lim[i] = Qd[i] * W[i];
  }
  // Expected proposals per output: L·A / (mass of the two-sided target with the sign rejection).
  // Σ_{k>=1} f(k): summed for small sigma; for sigma >= 4 by Poisson summation
  // (sigma·sqrt(2π)/2 - 1/2, exact to within e^{-2π²sigma²}).
  let mass = 0;
  if (sigma >= 4) mass = (sigma * Math.sqrt(2 * Math.PI) - 1) / 2;
  else for (let k = 1; k < 60; k++) mass += Math.exp((-k * k) / (2 * sigma * sigma));
  // One proposal gives a magnitude and a sign; accepted mass per proposal = (1/2 + mass) / (L·A) · (1/2)·2.
  const proposalsPerSample = (LAYERS * aD) / (mass + 0.5);
  return {
    sigma,
    twoS2: 2 * sigma * sigma,
    xNumPerK2,
    xDen,
    yNum,
    yShift,
    aNum,
    R,
    B,
    W,
    Qd,
    lim,
    F,
    yD,
    hD,
    yTop: y,
    proposalsPerSample,
  };
}

/** Builds (and certifies) the ziggurat for sigma. @internal */
export function zigguratTable(sigma: number): ZigguratTable {
  if (!(sigma >= ZIGGURAT_MIN_SIGMA && sigma <= ZIGGURAT_MAX_SIGMA)) {
    throw new RangeError(`discrete ziggurat: sigma ${sigma} outside [${ZIGGURAT_MIN_SIGMA}, ${ZIGGURAT_MAX_SIGMA}]`);
  }
  const s = doubleToRational(sigma); // sigma = num / den exactly
  const xNumPerK2 = s.den * s.den;
  const xDen = 2n * s.num * s.num;
  // Smallest y_{L-1} whose bands reach 1 (bisection on log2 y, in doubles).
  let lo = -80;
  let hi = -1;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    if (designTop(sigma, 2 ** mid) >= 1) hi = mid;
    else lo = mid;
  }
  let y = 2 ** hi;
  for (let attempt = 0; attempt < 200; attempt++) {
    const t = build(sigma, y, xNumPerK2, xDen);
    if (t !== undefined) return t;
    y *= 1 + 2 ** -24;
  }
  throw new Error(`discrete ziggurat: no certified table for sigma ${sigma}`);
}

/**
 * Exactly decides U·h + y < e^{-N/D}, where U ∈ [P, P+1) / 2^b is a uniform known to b bits (more
 * bits are drawn from `r` when needed), h = hNum/hDen > 0 and y lies in yBounds(q) = [lo, hi] at
 * scale 2^q (bounds that tighten as q grows).
 */
function exactUniformAffineBelowExp(
  P: bigint,
  b: number,
  hNum: bigint,
  hDen: bigint,
  yBounds: (q: number) => [bigint, bigint],
  N: bigint,
  D: bigint,
  minQ: number,
  r: Rng,
): boolean {
  for (;;) {
    const q = Math.max(b + 64, minQ);
    const [eLo, eHi] = expNegEnclosure(N, D, q);
    const [yl, yh] = yBounds(q);
    const den = hDen << BigInt(b);
    const num = hNum << BigInt(q);
    const uLo = (P * num) / den;
    const uHi = ((P + 1n) * num + den - 1n) / den;
    if (uHi + yh <= eLo) return true;
    if (uLo + yl >= eHi) return false;
    P = (P << 32n) | BigInt(r.nextUint32());
    b += 32;
  }
}

/** Bounds of y_i (the lower edge of band i) at scale 2^q: y_{L-1} + A·Σ_{j>i} 1/W_j. */
function bandBounds(t: ZigguratTable, i: number): (q: number) => [bigint, bigint] {
  return (q: number): [bigint, bigint] => {
    const y = t.yNum << BigInt(q - t.yShift);
    const a = t.aNum << BigInt(q - t.yShift);
    let lo = y;
    let hi = y;
    for (let j = i + 1; j < LAYERS; j++) {
      const w = BigInt(t.W[j]);
      lo += a / w;
      hi += (a + w - 1n) / w;
    }
    return [lo, hi];
  };
}

const ZERO_BOUNDS = (): [bigint, bigint] => [0n, 0n];

/** The wedge of layer i >= 1 at column k: does U·h_i + y_i < f(k)? U's first 53 bits are u53. */
function wedgeAccepts(t: ZigguratTable, i: number, k: number, u53: number, r: Rng): boolean {
  const x = (k * k) / t.twoS2;
  const tol = Math.max(WEDGE_TOL, expEnclosureMargin());
  if (x < 48) {
    const e = expNegApprox(x);
    const h = t.hD[i];
    const y = t.yD[i];
    if (((u53 + 1) / TWO53) * h + y + tol <= e * (1 - tol)) return true;
    if ((u53 / TWO53) * h + y - tol >= e * (1 + tol)) return false;
  }
  const kb = BigInt(k);
  return exactUniformAffineBelowExp(
    BigInt(u53),
    53,
    t.aNum,
    BigInt(t.W[i]) << BigInt(t.yShift),
    bandBounds(t, i),
    kb * kb * t.xNumPerK2,
    t.xDen,
    t.yShift + 64,
    r,
  );
}

/** A 53-bit uniform integer from two words of `r`. */
function next53(r: Rng): number {
  return (r.nextUint32() >>> 11) * TWO32 + r.nextUint32();
}

/** The base layer's tail: a magnitude >= R with probability f(k)/(2B·y_{L-1}) each, or -1 (reject). */
function tail(t: ZigguratTable, r: Rng): number {
  // j ~ Geometric(1/2): the number of 1 bits before the first 0.
  let j = 0;
  for (;;) {
    const w = r.nextUint32();
    if (w === 0xffffffff) {
      j += 32;
      continue;
    }
    let v = w;
    while (v & 1) {
      j++;
      v >>>= 1;
    }
    break;
  }
  const k = t.R + j * t.B + uniformBelow(t.B, r);
  if (!(k < TWO53)) return -1; // not representable; probability below e^{-2^25} for sigma <= 2^40
  // Accept iff U·y_{L-1}·2^-j < f(k).
  const u = next53(r);
  const x = (k * k) / t.twoS2;
  const tol = Math.max(WEDGE_TOL, expEnclosureMargin());
  const h = t.yTop * 2 ** -j;
  if (x < 48) {
    const e = expNegApprox(x);
    if (((u + 1) / TWO53) * h + tol * h <= e * (1 - tol)) return k;
    if ((u / TWO53) * h - tol * h >= e * (1 + tol)) return -1;
  } else if (j < 900 && (u / TWO53) * h > 2 ** -60 && x > 80) {
    // e^{-x} < e^{-80} < 2^-115 < U·h: certainly rejected.
    return -1;
  }
  const kb = BigInt(k);
  const accept = exactUniformAffineBelowExp(
    BigInt(u),
    53,
    t.yNum,
    1n << BigInt(t.yShift + j),
    ZERO_BOUNDS,
    kb * kb * t.xNumPerK2,
    t.xDen,
    t.yShift + j + 64,
    r,
  );
  return accept ? k : -1;
}

/**
 * Fills words[0, count) from `r` (one bulk read from the secure source; word by word from any
 * other source, so a seeded stream gives the same words on every platform). Returns count.
 */
function refill(words: Uint32Array, count: number, r: Rng): number {
  if (r instanceof SecureRng) r.fillUint32(words.subarray(0, count));
  else for (let k = 0; k < count; k++) words[k] = r.nextUint32();
  return count;
}

/** Entries per layer in the packed fast-path table: [F_i·Q_i, Q_i, Q_i·W_i]. */
const FAST_STRIDE = 4;

/**
 * The fast path's per-layer numbers side by side (one array, one cache line per layer): fq = F_i·Q_i,
 * Q_i and lim = Q_i·W_i, exact integers at most 2^53 (Q_i = ⌊2^53/W_i⌋).
 *
 * - **Fast accept is `J < F_i·Q_i`**: J and Q_i are integers, so ⌊J/Q_i⌋ < F_i ⟺ J < F_i·Q_i (a product
 *   of integers at most Q_i·W_i <= 2^53, exact in doubles). As F_i <= W_i, it also implies J < lim, so
 *   the fast path skips the redraw test. The decisions, and the words each proposal consumes, are
 *   those of the construction above (test: pinned stream digests of the earlier loop).
 * - **k = ⌊J/Q_i⌋ is `Math.floor(J / Q_i)` exactly**, for every J < lim = Q_i·W_i: let t = J/Q_i
 *   and m = ⌊t⌋ <= W_i - 1. The division is correctly rounded and m is a double, so fl(t) >= m. And
 *   m + 1 - t >= 1/Q_i >= W_i·2^-53, while the doubles below m + 1 near t are spaced at most
 *   t·2^-52 < W_i·2^-52 apart: t is more than half a spacing from m + 1, so fl(t) < m + 1 and
 *   ⌊fl(t)⌋ = m. (This replaces a multiplication by a rounded 1/Q_i and a two-sided correction.)
 */
function packFast(t: ZigguratTable): Float64Array {
  const fast = new Float64Array(LAYERS * FAST_STRIDE);
  for (let i = 0; i < LAYERS; i++) {
    const o = i * FAST_STRIDE;
    fast[o] = t.F[i] * t.Qd[i];
    fast[o + 1] = t.Qd[i];
    fast[o + 2] = t.lim[i];
  }
  return fast;
}

/**
 * The sampling loops in WebAssembly (src/random/ziggurat.wat, compiled into ziggurat-wasm.ts): the
 * loops of {@link zigguratRun} and {@link zigguratAddRun} with the common cases of
 * {@link slowProposal} (redraws, the wedge's double test), up to the first proposal that needs the
 * rest (the base layer's tail, the exact bigint wedge: about 1 in 4,000 proposals at DP-SGD's sigma)
 * or the end of the buffered words, on the packed table and the words in the instance's own memory;
 * the fused add's arithmetic is a second pass over the window (`combine`, f64x2 lanes), or, in
 * `add` (issue 19), done in the same loop as the sampling, two proposals per step in f64x2 lanes.
 * JS keeps the refills, the stream's bookkeeping and every exact decision; the kernel makes the same
 * decisions on the same words, so the samples are the same (tests: seeded streams against the JS
 * loop and the pinned digests).
 */
interface ZigguratKernel {
  /**
   * Writes out64[i, n) from words[p, end) with the wedge margin tol; returns (p << 16) | (i << 1) |
   * gaveUp, where gaveUp means that slowProposal must take over the proposal whose first two words
   * end at p.
   */
  readonly fill: (p: number, end: number, i: number, n: number, tol: number) => number;
  /**
   * The fused add's arithmetic over the window: s32[j] = f32(((roundHalfUp(s32[j]·inv) + out64[j])·scale)
   * / div) for j < n, the division done as a multiplication by recip = 1/div when pow2 (div a power
   * of two).
   */
  readonly combine: (n: number, inv: number, scale: number, div: number, recip: number, pow2: number) => void;
  /**
   * The fused add in one pass (issue 19): the proposals of `fill` on words[p, end), each accepted
   * sample added to s32[i] at once with `combine`'s arithmetic, for i in [i, n); two proposals per
   * step in f64x2 lanes where both are fast accepts; halfExact = 1 (inv a power of two) skips
   * round()'s exact fallback, never needed then. Returns as `fill` (on giving up, s32[i] is
   * untouched). Undefined for a module without it (a test's older bytes): the two passes are used.
   */
  readonly add:
    | ((
        p: number,
        end: number,
        i: number,
        n: number,
        tol: number,
        inv: number,
        scale: number,
        div: number,
        recip: number,
        pow2: number,
        halfExact: number,
      ) => number)
    | undefined;
  /** Views of the instance's memory (never grown, so they stay valid). */
  readonly words: Uint32Array;
  readonly out64: Float64Array;
  readonly s32: Float32Array;
}

/** Byte offsets in the module's memory (see ziggurat.wat) and the output window's length. */
const WASM_EXP_INT_AT = 16384;
const WASM_EXP_FRAC_AT = 17408;
const WASM_CONST_AT = 17920;
const WASM_WORDS_AT = 18432;
const WASM_OUT_AT = 83968;
const WASM_S32_AT = 149504;
const WASM_WINDOW = 8192;
/** f64 entries per layer in the kernel's table: F·Q, Q, Q·W, W, y_i, h_i (and two unused). */
const WASM_STRIDE = 8;

/** The shipped module, compiled on first use (null where WebAssembly is unavailable). */
let shippedModule: WebAssembly.Module | null | undefined;
/** Test hook: other bytes (a deliberately broken loop), null (the JS loop) or undefined (the shipped module). */
let wasmBytesOverride: Uint8Array | null | undefined;
let overrideModule: WebAssembly.Module | null | undefined;

/** The module of `bytes()`, compiled on first use; null where WebAssembly (with SIMD) is unavailable. */
function compileModule(bytes: () => Uint8Array): WebAssembly.Module | null {
  return compileWasmModule(bytes());
}

/** The module the samplers' next streams use, or null for the JS loop. */
function zigguratModule(): WebAssembly.Module | null {
  if (wasmBytesOverride === null) return null;
  if (wasmBytesOverride !== undefined) return (overrideModule ??= compileModule(() => wasmBytesOverride as Uint8Array));
  return (shippedModule ??= compileModule(() => base64Bytes(ZIGGURAT_WASM_BASE64)));
}

/** A kernel of `mod` for one table, or null where it cannot be instantiated (the JS loop is used). */
function zigguratKernel(mod: WebAssembly.Module, t: ZigguratTable): ZigguratKernel | null {
  let inst: WebAssembly.Instance;
  try {
    inst = new WebAssembly.Instance(mod, {});
  } catch {
    return null;
  }
  const ex = inst.exports as unknown as Pick<ZigguratKernel, "fill" | "combine" | "add"> & { memory: WebAssembly.Memory };
  const buf = ex.memory.buffer;
  const table = new Float64Array(buf, 0, LAYERS * WASM_STRIDE);
  for (let i = 0; i < LAYERS; i++) {
    const o = i * WASM_STRIDE;
    table[o] = t.F[i] * t.Qd[i];
    table[o + 1] = t.Qd[i];
    table[o + 2] = t.lim[i];
    table[o + 3] = t.W[i];
    table[o + 4] = t.yD[i];
    table[o + 5] = t.hD[i];
  }
  const exp = expNegTables();
  new Float64Array(buf, WASM_EXP_INT_AT, exp.int.length).set(exp.int);
  new Float64Array(buf, WASM_EXP_FRAC_AT, exp.frac.length).set(exp.frac);
  // The constants of expNegApprox's polynomial as JS rounds them, the table's 2·sigma², and the
  // fused add's lane constants (0.5, 0.5) and (1, 1).
  new Float64Array(buf, WASM_CONST_AT, 8).set([1 / 6, 1 / 24, 1 / 120, t.twoS2, 0.5, 0.5, 1, 1]);
  return {
    fill: ex.fill,
    combine: ex.combine,
    add: typeof ex.add === "function" ? ex.add : undefined,
    words: new Uint32Array(buf, WASM_WORDS_AT, BLOCK_WORDS),
    out64: new Float64Array(buf, WASM_OUT_AT, WASM_WINDOW),
    s32: new Float32Array(buf, WASM_S32_AT, WASM_WINDOW),
  };
}

/** Instances of the module used only for their `combine` pass (no table), per module. */
const combineKernels = new Map<WebAssembly.Module, { combine: ZigguratKernel["combine"]; out64: Float64Array; s32: Float32Array } | null>();

/**
 * The fused add's arithmetic with Z given instead of drawn (Z drawn ahead, e.g. on another thread):
 * s[j] = float32(((roundHalfUp(s[j]·invScale) + z[zAt + j])·scale) / divisor) for j in [0, s.length),
 * on the kernel's `combine` pass where the WebAssembly module is in use (the same arithmetic as
 * {@link zigguratAddRun}'s, so the same values), else a JS loop. The caller keeps
 * |(round(s·invScale) + Z)·scale| finite (the exact noise's scale <= 2^900). @internal
 */
export function addRoundedGiven(s: Float32Array, z: Float64Array, zAt: number, invScale: number, scale: number, divisor: number): void {
  const n = s.length;
  if (zAt < 0 || zAt + n > z.length) throw new Error("addRoundedGiven: z is too short");
  const mod = zigguratModule();
  let kern = mod === null ? null : combineKernels.get(mod);
  if (mod !== null && kern === undefined) {
    try {
      const ex = new WebAssembly.Instance(mod, {}).exports as unknown as Pick<ZigguratKernel, "combine"> & { memory: WebAssembly.Memory };
      kern = {
        combine: ex.combine,
        out64: new Float64Array(ex.memory.buffer, WASM_OUT_AT, WASM_WINDOW),
        s32: new Float32Array(ex.memory.buffer, WASM_S32_AT, WASM_WINDOW),
      };
    } catch {
      kern = null;
    }
    if (combineKernels.size >= 2) combineKernels.clear(); // (only tests switch modules)
    combineKernels.set(mod, kern);
  }
  if (!kern) {
    for (let j = 0; j < n; j++) s[j] = ((roundHalfUp(s[j] * invScale) + z[zAt + j]) * scale) / divisor;
    return;
  }
  const pow2 = isPowerOfTwoWithExactInverse(divisor) ? 1 : 0;
  for (let at = 0; at < n;) {
    const m = Math.min(WASM_WINDOW, n - at);
    kern.s32.set(s.subarray(at, at + m));
    kern.out64.set(z.subarray(zAt + at, zAt + at + m));
    kern.combine(m, invScale, scale, divisor, 1 / divisor, pow2);
    s.set(m === WASM_WINDOW ? kern.s32 : kern.s32.subarray(0, m), at);
    at += m;
  }
}

/** An instance of the module used only for its `finite` check (per module; null: the JS loop). */
let finiteKernel:
  { readonly mod: WebAssembly.Module; readonly finite: (n: number) => number; readonly s32: Float32Array } | null | undefined;

/** True when every entry of `s` is finite, in JS: v·0 is ±0 for a finite v and NaN otherwise (four lanes, no branch per entry). */
function allFiniteJs(s: Float32Array): boolean {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  const n4 = s.length - (s.length % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    a0 += s[i] * 0;
    a1 += s[i + 1] * 0;
    a2 += s[i + 2] * 0;
    a3 += s[i + 3] * 0;
  }
  for (; i < s.length; i++) a0 += s[i] * 0;
  return a0 + a1 + a2 + a3 === 0;
}

/**
 * True when every entry of `s` is finite: the module's `finite` check (the exponent bits of four
 * float32 at a time, window by window) where the samplers use the WebAssembly module, else a JS loop.
 * Issue 19: the check `addGaussianNoiseInPlace` makes before any noise is drawn. @internal
 */
export function allFiniteFloat32(s: Float32Array): boolean {
  const mod = zigguratModule();
  if (mod === null || !fusedAdd) return allFiniteJs(s);
  if (finiteKernel === undefined || (finiteKernel !== null && finiteKernel.mod !== mod)) {
    try {
      const ex = new WebAssembly.Instance(mod, {}).exports as unknown as { finite?: (n: number) => number; memory: WebAssembly.Memory };
      finiteKernel =
        typeof ex.finite === "function"
          ? { mod, finite: ex.finite, s32: new Float32Array(ex.memory.buffer, WASM_S32_AT, WASM_WINDOW) }
          : null;
    } catch {
      finiteKernel = null;
    }
  }
  if (finiteKernel === null) return allFiniteJs(s);
  const k = finiteKernel;
  for (let at = 0; at < s.length; at += WASM_WINDOW) {
    const m = Math.min(WASM_WINDOW, s.length - at);
    k.s32.set(s.subarray(at, at + m));
    if (k.finite(m) === 0) return false;
  }
  return true;
}

/**
 * Test hook: the samplers' next streams use these module bytes (a deliberately broken loop), the
 * JS loop (null) or the shipped module (undefined). @internal
 */
export function setZigguratWasmForTesting(bytes: Uint8Array | null | undefined): void {
  wasmBytesOverride = bytes;
  overrideModule = undefined;
  finiteKernel = undefined;
}

/** Whether `addRounded` runs the kernel's one-pass fused add (true, the default) or its two passes (false: `fill`, then `combine`). */
let fusedAdd = true;

/**
 * Test and bench hook: issue 19's paths on (true, the default) or off (false: issue 19's "before"):
 * `addRounded` with the kernel's one-pass fused add or the two passes it replaced (`fill` into the
 * f64 window, then `combine`), and {@link allFiniteFloat32} with the module's SIMD check or the JS
 * loop. The same samples, values and answers either way. Returns the previous setting. @internal
 */
export function setZigguratFusedAddForTesting(enabled: boolean): boolean {
  const was = fusedAdd;
  fusedAdd = enabled;
  return was;
}

/** Whether the samplers' streams run the WebAssembly fast path here. @internal */
export function zigguratWasmActive(): boolean {
  return zigguratModule() !== null;
}

/**
 * Writes the stream's next n samples (n <= WASM_WINDOW) into the kernel's window out64[0, n): the
 * kernel's loop, and {@link slowProposal} where it gives a proposal back; `owed` is the number of
 * samples the stream owes at the window's start (it sizes the refills as zigguratRun does).
 */
function kernelWindow(t: ZigguratTable, fast: Float64Array, kern: ZigguratKernel, st: StreamState, n: number, owed: number, r: Rng): void {
  const words = kern.words;
  const buf = kern.out64;
  const tol = Math.max(WEDGE_TOL, expEnclosureMargin());
  let p = st.p;
  let end = st.end;
  let j = 0;
  while (j < n) {
    if (p + 2 > end) {
      end = refill(words, Math.min(BLOCK_WORDS, 2 * (owed - j) + 32), r);
      p = 0;
    }
    const res = kern.fill(p, end, j, n, tol);
    j = (res >>> 1) & 0x7fff;
    p = res >>> 16;
    if ((res & 1) !== 0) {
      const w0 = words[p - 2];
      st.p = p;
      st.end = end;
      const x = slowProposal(t, fast, words, st, w0, (w0 >>> 11) * TWO32 + words[p - 1], owed - j, r);
      p = st.p;
      end = st.end;
      if (x === x) buf[j++] = x; // NaN: rejected
    }
  }
  st.p = p;
  st.end = end;
}

/** {@link zigguratRun} with the kernel: the same samples from the same words. */
function zigguratRunWasm(
  t: ZigguratTable,
  fast: Float64Array,
  kern: ZigguratKernel,
  st: StreamState,
  out: Float64Array,
  from: number,
  to: number,
  r: Rng,
): void {
  const owedAt = st.remaining + from;
  for (let at = from; at < to;) {
    const n = Math.min(WASM_WINDOW, to - at);
    kernelWindow(t, fast, kern, st, n, owedAt - at, r);
    out.set(n === WASM_WINDOW ? kern.out64 : kern.out64.subarray(0, n), at);
    at += n;
  }
  st.remaining -= to - from;
}

/**
 * Whether d = 2^e with e an integer in [-1022, 1023]: then 1/d = 2^-e is exact (2^-1023 is subnormal
 * but exact) and x·(1/d) equals x/d for every double x (both are the correctly rounded value of
 * the same real number). @internal
 */
export function isPowerOfTwoWithExactInverse(d: number): boolean {
  if (!(d >= 2 ** -1022 && d <= 2 ** 1023)) return false;
  const e = Math.round(Math.log2(d));
  return 2 ** e === d;
}

/**
 * {@link zigguratAddRun} with the kernel's one-pass `add` (issue 19): per window of s, the kernel
 * draws and adds in one loop (two proposals per step where both are fast accepts) up to the first
 * proposal it gives back, which {@link slowProposal} finishes from the same words and JS adds with
 * the same arithmetic; the refills are sized as in {@link zigguratRun}, so the words, samples and
 * values are those of {@link zigguratAddRun}.
 */
function zigguratAddRunFused(
  t: ZigguratTable,
  fast: Float64Array,
  kern: ZigguratKernel,
  add: NonNullable<ZigguratKernel["add"]>,
  st: StreamState,
  s: Float32Array,
  from: number,
  to: number,
  invScale: number,
  scale: number,
  divisor: number,
  r: Rng,
): void {
  const owedAt = st.remaining + from;
  const pow2 = isPowerOfTwoWithExactInverse(divisor) ? 1 : 0;
  const recip = 1 / divisor;
  // inv a power of two: x = s·inv has at most 24 significant bits and round()'s fallback is never
  // needed (proof in ziggurat.wat at `add`), so the kernel skips its test.
  const halfExact = isPowerOfTwoWithExactInverse(invScale) ? 1 : 0;
  const tol = Math.max(WEDGE_TOL, expEnclosureMargin());
  const win = kern.s32;
  const words = kern.words;
  let p = st.p;
  let end = st.end;
  for (let at = from; at < to;) {
    const n = Math.min(WASM_WINDOW, to - at);
    const owed = owedAt - at;
    win.set(s.subarray(at, at + n));
    let j = 0;
    while (j < n) {
      if (p + 2 > end) {
        end = refill(words, Math.min(BLOCK_WORDS, 2 * (owed - j) + 32), r);
        p = 0;
      }
      const res = add(p, end, j, n, tol, invScale, scale, divisor, recip, pow2, halfExact);
      j = (res >>> 1) & 0x7fff;
      p = res >>> 16;
      if ((res & 1) !== 0) {
        const w0 = words[p - 2];
        st.p = p;
        st.end = end;
        const x = slowProposal(t, fast, words, st, w0, (w0 >>> 11) * TWO32 + words[p - 1], owed - j, r);
        p = st.p;
        end = st.end;
        if (x === x) {
          // NaN: rejected. Else zigguratAddRun's arithmetic (the kernel's lanes compute the same doubles).
          win[j] = ((roundHalfUp(win[j] * invScale) + x) * scale) / divisor;
          j++;
        }
      }
    }
    s.set(n === WASM_WINDOW ? win : win.subarray(0, n), at);
    at += n;
  }
  st.p = p;
  st.end = end;
  st.remaining -= to - from;
}

/**
 * {@link zigguratAddRun} with the kernel's two passes (the path before issue 19, kept for modules
 * without `add` and as the bench's "before"): the samples of a window drawn as
 * {@link zigguratRunWasm} draws them, then added to s's window by the kernel's `combine` (the same
 * arithmetic).
 */
function zigguratAddRunWasm(
  t: ZigguratTable,
  fast: Float64Array,
  kern: ZigguratKernel,
  st: StreamState,
  s: Float32Array,
  from: number,
  to: number,
  invScale: number,
  scale: number,
  divisor: number,
  r: Rng,
): void {
  const owedAt = st.remaining + from;
  const pow2 = isPowerOfTwoWithExactInverse(divisor) ? 1 : 0;
  const win = kern.s32;
  for (let at = from; at < to;) {
    const n = Math.min(WASM_WINDOW, to - at);
    win.set(s.subarray(at, at + n));
    kernelWindow(t, fast, kern, st, n, owedAt - at, r);
    kern.combine(n, invScale, scale, divisor, 1 / divisor, pow2);
    s.set(n === WASM_WINDOW ? win : win.subarray(0, n), at);
    at += n;
  }
  st.remaining -= to - from;
}

/** Where a stream stands: the buffered words [p, end) and the samples it still owes. */
interface StreamState {
  p: number;
  end: number;
  remaining: number;
}

/**
 * Writes out[from, to) (at most `st.remaining` samples) from the buffered words, refilling the
 * buffer from `r` with min(BLOCK_WORDS, 2·(samples still owed) + 32) words when it runs dry: the
 * same sizes, hence the same words and samples, whether a stream's samples are taken in one call or
 * in many.
 *
 * The common path (about 98.5% of proposals at sigma >= 3, 99% at DP-SGD's sigma near 2^30) is one
 * integer comparison J < F_i·Q_i, the exact floor and a branch-free sign: the sign bit becomes the
 * factor 1 - 2·bit (the proposal (negative, 0) is rejected first, so no -0 is written), since a
 * data-dependent branch on a fair bit is mispredicted half of the time. Everything else (a J to
 * redraw, the base layer's tail, a wedge) is {@link slowProposal}.
 */
function zigguratRun(
  t: ZigguratTable,
  fast: Float64Array,
  words: Uint32Array,
  st: StreamState,
  out: Float64Array,
  from: number,
  to: number,
  r: Rng,
): void {
  let p = st.p;
  let end = st.end;
  // Samples still owed at output index i: owedAt - i.
  const owedAt = st.remaining + from;
  let i = from;
  while (i < to) {
    if (p + 2 > end) {
      end = refill(words, Math.min(BLOCK_WORDS, 2 * (owedAt - i) + 32), r);
      p = 0;
    }
    const w0 = words[p];
    const J = (w0 >>> 11) * TWO32 + words[p + 1];
    p += 2;
    const o = (w0 & 255) * FAST_STRIDE;
    if (J < fast[o]) {
      // Fast accept: k = ⌊J/Q_i⌋ < F_i (exact: see packFast).
      const k = Math.floor(J / fast[o + 1]);
      if (k === 0 && (w0 & 256) !== 0) continue;
      out[i++] = k * (1 - ((w0 >>> 7) & 2));
      continue;
    }
    st.p = p;
    st.end = end;
    const x = slowProposal(t, fast, words, st, w0, J, owedAt - i, r);
    p = st.p;
    end = st.end;
    if (x === x) out[i++] = x; // NaN: rejected
  }
  st.p = p;
  st.end = end;
  st.remaining -= to - from;
}

/**
 * {@link zigguratRun} with each sample Z_j added where it is used instead of stored:
 * s[j] = float32(((round(s[j]·invScale) + Z_j)·scale) / divisor) for j in [from, to), the same
 * samples from the same words. (The exact grid noise of DP-SGD: `addGaussianNoiseInPlace`.)
 */
function zigguratAddRun(
  t: ZigguratTable,
  fast: Float64Array,
  words: Uint32Array,
  st: StreamState,
  s: Float32Array,
  from: number,
  to: number,
  invScale: number,
  scale: number,
  divisor: number,
  r: Rng,
): void {
  let p = st.p;
  let end = st.end;
  const owedAt = st.remaining + from;
  let i = from;
  while (i < to) {
    if (p + 2 > end) {
      end = refill(words, Math.min(BLOCK_WORDS, 2 * (owedAt - i) + 32), r);
      p = 0;
    }
    const w0 = words[p];
    const J = (w0 >>> 11) * TWO32 + words[p + 1];
    p += 2;
    const o = (w0 & 255) * FAST_STRIDE;
    if (J < fast[o]) {
      const k = Math.floor(J / fast[o + 1]);
      if (k === 0 && (w0 & 256) !== 0) continue;
      s[i] = ((roundHalfUp(s[i] * invScale) + k * (1 - ((w0 >>> 7) & 2))) * scale) / divisor;
      i++;
      continue;
    }
    st.p = p;
    st.end = end;
    const x = slowProposal(t, fast, words, st, w0, J, owedAt - i, r);
    p = st.p;
    end = st.end;
    if (x === x) {
      s[i] = ((roundHalfUp(s[i] * invScale) + x) * scale) / divisor;
      i++;
    }
  }
  st.p = p;
  st.end = end;
  st.remaining -= to - from;
}

/**
 * The rest of a proposal whose first J missed the fast-accept columns, in the order of the
 * construction: J redrawn inside the layer while at or above the limit (a redrawn J may then fall
 * in the fast-accept columns), the base layer's tail, or a wedge with a fresh 53-bit height.
 * Reads words from the buffer (st.p, st.end updated; `owed` samples still owed sizes a refill) and,
 * for the tail and the exact refinements, from `r`. Returns the signed sample, or NaN when the
 * proposal is rejected.
 */
function slowProposal(
  t: ZigguratTable,
  fast: Float64Array,
  words: Uint32Array,
  st: StreamState,
  w0: number,
  J: number,
  owed: number,
  r: Rng,
): number {
  let p = st.p;
  let end = st.end;
  const layer = w0 & 255;
  const o = layer * FAST_STRIDE;
  while (J >= fast[o + 2]) {
    // Redraw inside the same layer (keeps the layer's choice exactly uniform).
    if (p + 2 > end) {
      end = refill(words, Math.min(BLOCK_WORDS, 2 * owed + 32), r);
      p = 0;
    }
    J = (words[p] >>> 11) * TWO32 + words[p + 1];
    p += 2;
  }
  st.p = p;
  st.end = end;
  const k = Math.floor(J / fast[o + 1]); // exact (J < lim_i: see packFast)
  const sign = 1 - ((w0 >>> 7) & 2);
  if (J < fast[o]) return k === 0 && sign < 0 ? NaN : k * sign; // the redrawn J is a fast accept
  if (layer === 0) {
    const m = tail(t, r);
    return m < 0 ? NaN : m * sign; // m >= R >= 1
  }
  if (k >= t.W[layer]) return NaN; // unreachable (k < W by construction); kept as a guard
  // Wedge: a fresh 53-bit uniform for the height.
  if (p + 2 > end) {
    end = refill(words, Math.min(BLOCK_WORDS, 2 * owed + 32), r);
    p = 0;
  }
  const u = (words[p] >>> 11) * TWO32 + words[p + 1];
  st.p = p + 2;
  st.end = end;
  if (!wedgeAccepts(t, layer, k, u, r)) return NaN;
  return k === 0 && sign < 0 ? NaN : k * sign;
}

/**
 * One stream of samples from one source: successive {@link ZigguratStream.next} calls write exactly
 * the samples, from exactly the words, that one `fill` of the total length would (so a caller can
 * draw a long vector in cache-sized pieces). @internal
 */
export interface ZigguratStream {
  /** Writes the stream's next `to - from` samples into out[from, to); throws past the total or after the sampler was used again. */
  next(out: Float64Array, from: number, to: number): void;
  /**
   * Adds the stream's next `to - from` samples Z_j where they are used:
   * s[j] = float32(((round(s[j]·invScale) + Z_j)·scale) / divisor) for j in [from, to) — one
   * rounding to float32 of what `next` into a Float64Array and the same arithmetic would give.
   * The caller makes sure the arithmetic needs nothing more (e.g. no overflow to clamp).
   */
  addRounded(s: Float32Array, from: number, to: number, invScale: number, scale: number, divisor: number): void;
}

/**
 * The exact discrete ziggurat for one sigma (see the module comment): a table certified on first
 * use and a reused buffer of random words. `fill(out, r)` writes independent samples
 * (integer-valued doubles, never -0); `stream(r, total)` hands out the same samples piece by piece.
 * Words left in the buffer at the end of a fill or stream are discarded, never carried over to
 * another call or source. Not re-entrant: starting a fill or stream ends the previous stream.
 * @internal
 */
export class DiscreteZiggurat {
  private tableValue: ZigguratTable | undefined;
  private fastValue: Float64Array | undefined;
  /** The WebAssembly loops, one instance per module (the shipped one, or a test's), made on first use. */
  private readonly kernels = new Map<WebAssembly.Module, ZigguratKernel | null>();
  /** The random words of the JS loop (the kernels have theirs in their memory). */
  private jsWords: Uint32Array | undefined;
  private epoch = 0;

  /**
   * @param sigma - in [ZIGGURAT_MIN_SIGMA, ZIGGURAT_MAX_SIGMA]
   * @param prebuilt - a table to use instead of building one (tests pass broken tables)
   */
  constructor(
    readonly sigma: number,
    prebuilt?: ZigguratTable,
  ) {
    this.tableValue = prebuilt;
  }

  /** The certified table (built on first use, about 1-30 ms). */
  get table(): ZigguratTable {
    return (this.tableValue ??= zigguratTable(this.sigma));
  }

  /** Fills `out` with independent samples drawn from `r`. */
  fill(out: Float64Array, r: Rng): void {
    this.stream(r, out.length).next(out, 0, out.length);
  }

  /** A stream of `total` samples from `r` (see {@link ZigguratStream}). */
  stream(r: Rng, total: number): ZigguratStream {
    const t = this.table;
    const fast = (this.fastValue ??= packFast(t));
    const mod = zigguratModule();
    let kern: ZigguratKernel | null = null;
    if (mod !== null) {
      kern = this.kernels.get(mod) ?? null;
      if (!this.kernels.has(mod)) {
        if (this.kernels.size >= 2) this.kernels.clear(); // (only tests switch modules)
        this.kernels.set(mod, (kern = zigguratKernel(mod, t)));
      }
    }
    const words = kern !== null ? kern.words : (this.jsWords ??= new Uint32Array(BLOCK_WORDS));
    const epoch = ++this.epoch;
    const st: StreamState = { p: 0, end: 0, remaining: total }; // nothing buffered: each stream reads its own words
    const check = (length: number, from: number, to: number): void => {
      if (epoch !== this.epoch || to - from > st.remaining || !(from >= 0 && to >= from && to <= length)) {
        throw new Error("discrete ziggurat: stream used past its end, out of range or after the sampler was used again");
      }
    };
    return {
      next: (out: Float64Array, from: number, to: number): void => {
        check(out.length, from, to);
        if (kern !== null) zigguratRunWasm(t, fast, kern, st, out, from, to, r);
        else zigguratRun(t, fast, words, st, out, from, to, r);
      },
      addRounded: (s: Float32Array, from: number, to: number, invScale: number, scale: number, divisor: number): void => {
        check(s.length, from, to);
        if (kern !== null && kern.add !== undefined && fusedAdd)
          zigguratAddRunFused(t, fast, kern, kern.add, st, s, from, to, invScale, scale, divisor, r);
        else if (kern !== null) zigguratAddRunWasm(t, fast, kern, st, s, from, to, invScale, scale, divisor, r);
        else zigguratAddRun(t, fast, words, st, s, from, to, invScale, scale, divisor, r);
      },
    };
  }
}

/**
 * A vector sampler of the exact discrete Gaussian for ZIGGURAT_MIN_SIGMA <= sigma <=
 * ZIGGURAT_MAX_SIGMA: `fill(out, r)` writes independent samples (integer-valued doubles, never
 * -0). The table is built and certified on first use (about 1–30 ms); tests may pass a
 * (possibly deliberately broken) `prebuilt` table. @internal
 */
export function discreteZigguratFill(sigma: number, prebuilt?: ZigguratTable): (out: Float64Array, r: Rng) => void {
  const z = new DiscreteZiggurat(sigma, prebuilt);
  return (out: Float64Array, r: Rng): void => z.fill(out, r);
}
