/**
 * Sketched updates of Konečný et al. 2016: stochastic b-bit quantisation, optionally after a
 * random rotation (randomised Hadamard transform), and random coordinate subsampling.
 *
 * Encodings are real byte arrays; the byte counts reported are their lengths.
 * @module
 */
import { DpError, requireInRange, requireInteger } from "../../errors.js";
import type { Rng } from "../../random/rng.js";
import { SeededRng, resolveRng } from "../../random/rng.js";
import { uniform01, uniformInt } from "../../random/uniform.js";
import { encodedView, type UpdateCompressor } from "./compressor.js";

/** In-place fast Walsh–Hadamard transform (unnormalised) of a power-of-two-length array. */
export function walshHadamardInPlace(v: Float64Array): void {
  const n = v.length;
  if ((n & (n - 1)) !== 0) throw new DpError("invalid_parameter", `\`v\` must have a power-of-two length. Found ${n}.`, "v");
  for (let h = 1; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = v[j];
        const b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
      }
    }
  }
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Random ±1 signs from a 32-bit seed (shared by encoder and decoder). */
function signs(p: number, seed: number): Int8Array {
  const rng = new SeededRng(seed);
  const s = new Int8Array(p);
  for (let i = 0; i < p; i += 32) {
    const w = rng.nextUint32();
    for (let b = 0; b < 32 && i + b < p; b++) s[i + b] = (w >>> b) & 1 ? 1 : -1;
  }
  return s;
}

/**
 * The randomised Hadamard rotation R = H·D/√P of `v` (zero-padded to the power of two P):
 * D is diagonal random signs from `seed`, H the Walsh–Hadamard matrix. Orthonormal.
 * @param v - input of any length
 * @param seed - 32-bit seed of the signs
 * @returns R·v, of length P
 * @example
 * ```ts
 * import { randomizedHadamard, inverseRandomizedHadamard } from "dpkit/federated";
 * const r = randomizedHadamard(new Float32Array([1, 2, 3]), 7);
 * inverseRandomizedHadamard(r, 3, 7); // ≈ [1, 2, 3]
 * ```
 */
export function randomizedHadamard(v: ArrayLike<number>, seed: number): Float64Array {
  const p = nextPow2(Math.max(1, v.length));
  const s = signs(p, seed);
  const out = new Float64Array(p);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * s[i];
  walshHadamardInPlace(out);
  const k = 1 / Math.sqrt(p);
  for (let i = 0; i < p; i++) out[i] *= k;
  return out;
}

/**
 * Inverse of {@link randomizedHadamard}: D·H·u/√P, truncated to `length`.
 * @param u - rotated vector (power-of-two length)
 * @param length - original length
 * @param seed - the seed used to rotate
 * @returns the vector in the original basis
 */
export function inverseRandomizedHadamard(u: Float64Array, length: number, seed: number): Float64Array {
  const p = u.length;
  const w = u.slice();
  walshHadamardInPlace(w);
  const s = signs(p, seed);
  const k = 1 / Math.sqrt(p);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = w[i] * s[i] * k;
  return out;
}

/** Options for {@link StochasticQuantizer}. */
export interface StochasticQuantizerOptions {
  /** b: bits per coordinate, 1–16. */
  bits: number;
  /** Rotate with a randomised Hadamard transform first (Konečný et al.: lowers the quantisation error). Default false. */
  rotate?: boolean;
}

/**
 * Stochastic b-bit quantisation (Konečný et al. 2016, §3): with h_min, h_max the extremes of the
 * vector, each coordinate is rounded to one of the 2^b evenly spaced levels between them, up or
 * down at random with the probabilities that make it unbiased. With `rotate`, the vector is
 * first rotated by a randomised Hadamard transform (the server rotates back), which spreads
 * the mass and shrinks h_max − h_min.
 *
 * @remarks
 * Unbiased: E[decode(encode(v))] = v. The decoded vector can be LONGER than v, so under DP the
 * server must clip after decoding (`DpFedAvgAggregator` with server noise does), or the
 * compression must be applied after the client's noise (local noise: post-processing).
 * Bytes: 16 (h_min, h_max as float64) + 4 (rotation seed, if rotating) + ⌈P·b/8⌉, with P the
 * length (the padded power of two when rotating).
 *
 * @example
 * ```ts
 * import { StochasticQuantizer } from "dpkit/federated";
 * const q = new StochasticQuantizer({ bits: 2, rotate: true });
 * const bytes = q.encode(new Float32Array([0.1, -0.3, 0.2, 0.05]));
 * q.decode(bytes, 4); // unbiased estimate of the input
 * ```
 * @see Konečný et al., "Federated Learning: Strategies for Improving Communication Efficiency", 2016.
 */
export class StochasticQuantizer implements UpdateCompressor {
  readonly name: string;
  readonly unbiased = true;
  readonly bits: number;
  readonly rotate: boolean;

  /**
   * @param options - see {@link StochasticQuantizerOptions}
   * @throws {@link DpError} `invalid_parameter` for bits outside 1–16
   */
  constructor(options: StochasticQuantizerOptions) {
    this.bits = requireInteger("bits", options.bits, { min: 1, max: 16 });
    this.rotate = options.rotate ?? false;
    this.name = `quantize(${this.bits} bit${this.rotate ? ", rotated" : ""})`;
  }

  private paddedLength(length: number): number {
    return this.rotate ? nextPow2(Math.max(1, length)) : length;
  }

  encodedBytes(length: number): number {
    return 16 + (this.rotate ? 4 : 0) + Math.ceil((this.paddedLength(length) * this.bits) / 8);
  }

  encode(vector: Float32Array, rng?: Rng): Uint8Array {
    const r = resolveRng(rng);
    const seed = this.rotate ? r.nextUint32() : 0;
    const v: Float64Array = this.rotate ? randomizedHadamard(vector, seed) : Float64Array.from(vector);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < v.length; i++) {
      if (v[i] < lo) lo = v[i];
      if (v[i] > hi) hi = v[i];
    }
    if (v.length === 0) lo = hi = 0;
    const levels = 2 ** this.bits - 1;
    const step = hi > lo ? (hi - lo) / levels : 0;
    const out = new Uint8Array(this.encodedBytes(vector.length));
    const view = new DataView(out.buffer);
    view.setFloat64(0, lo, true);
    view.setFloat64(8, hi, true);
    let off = 16;
    if (this.rotate) {
      view.setUint32(16, seed, true);
      off = 20;
    }
    let bitPos = 0;
    for (let i = 0; i < v.length; i++) {
      let code = 0;
      if (step > 0) {
        const x = (v[i] - lo) / step; // in [0, levels]
        const f = Math.min(levels - 1, Math.floor(x));
        const frac = x - f; // round up with probability frac: unbiased
        code = uniform01(r) < frac ? f + 1 : f;
      }
      for (let b = 0; b < this.bits; b++, bitPos++) if ((code >>> b) & 1) out[off + (bitPos >>> 3)] |= 1 << (bitPos & 7);
    }
    return out;
  }

  decode(bytes: Uint8Array, length: number): Float32Array {
    const view = encodedView(this, bytes, length);
    const lo = view.getFloat64(0, true);
    const hi = view.getFloat64(8, true);
    const off = this.rotate ? 20 : 16;
    const p = this.paddedLength(length);
    const levels = 2 ** this.bits - 1;
    const step = hi > lo ? (hi - lo) / levels : 0;
    const v = new Float64Array(p);
    let bitPos = 0;
    for (let i = 0; i < p; i++) {
      let code = 0;
      for (let b = 0; b < this.bits; b++, bitPos++) if ((bytes[off + (bitPos >>> 3)] >>> (bitPos & 7)) & 1) code |= 1 << b;
      v[i] = lo + code * step;
    }
    const back = this.rotate ? inverseRandomizedHadamard(v, length, view.getUint32(16, true)) : v;
    return Float32Array.from(back.subarray(0, length));
  }
}

/** Options for {@link RandomSubsampler}. */
export interface RandomSubsamplerOptions {
  /** Fraction of coordinates sent, in (0, 1]. */
  fraction: number;
  /**
   * Rescale the kept coordinates by n/k (unbiased sketch, default) or not (`false`: a random-mask
   * structured update, biased towards zero).
   */
  rescale?: boolean;
}

/**
 * Random coordinate subsampling (Konečný et al. 2016, "random mask"): a uniformly random set of
 * k = ⌈fraction·n⌉ coordinates, chosen from a 32-bit seed sent with the update, is uploaded.
 *
 * @remarks
 * With `rescale` (default) the kept values are multiplied by n/k, making the sketch unbiased.
 * Without it, the decoded update is the update restricted to the random mask (structured
 * random-mask update). Bytes: 4 (seed) + 4k. The rescaled sketch can be up to √(n/k) times
 * longer than the input in L2: under DP, clip after decoding.
 *
 * @example
 * ```ts
 * import { RandomSubsampler } from "dpkit/federated";
 * const s = new RandomSubsampler({ fraction: 0.25 });
 * s.encodedBytes(100); // 104
 * ```
 * @see Konečný et al., "Federated Learning: Strategies for Improving Communication Efficiency", 2016.
 */
export class RandomSubsampler implements UpdateCompressor {
  readonly name: string;
  readonly unbiased: boolean;
  readonly fraction: number;

  /**
   * @param options - see {@link RandomSubsamplerOptions}
   * @throws {@link DpError} `invalid_parameter` for a fraction outside (0, 1]
   */
  constructor(options: RandomSubsamplerOptions) {
    this.fraction = requireInRange("fraction", options.fraction, Number.MIN_VALUE, 1);
    this.unbiased = options.rescale ?? true;
    this.name = `${this.unbiased ? "subsample" : "random-mask"}(${this.fraction})`;
  }

  private kept(length: number): number {
    return Math.min(length, Math.ceil(this.fraction * length));
  }

  /** The kept coordinates, increasing, from the seed (Floyd's algorithm). */
  private indices(length: number, seed: number): Int32Array {
    const k = this.kept(length);
    const rng = new SeededRng(seed);
    const chosen = new Set<number>();
    for (let j = length - k; j < length; j++) {
      const t = uniformInt(j + 1, rng);
      chosen.add(chosen.has(t) ? j : t);
    }
    return Int32Array.from([...chosen].sort((a, b) => a - b));
  }

  encodedBytes(length: number): number {
    return 4 + 4 * this.kept(length);
  }

  encode(vector: Float32Array, rng?: Rng): Uint8Array {
    const seed = resolveRng(rng).nextUint32();
    const idx = this.indices(vector.length, seed);
    const out = new Uint8Array(this.encodedBytes(vector.length));
    const view = new DataView(out.buffer);
    view.setUint32(0, seed, true);
    const scale = this.unbiased && idx.length > 0 ? vector.length / idx.length : 1;
    for (let j = 0; j < idx.length; j++) view.setFloat32(4 + 4 * j, vector[idx[j]] * scale, true);
    return out;
  }

  decode(bytes: Uint8Array, length: number): Float32Array {
    const view = encodedView(this, bytes, length);
    const idx = this.indices(length, view.getUint32(0, true));
    const out = new Float32Array(length);
    for (let j = 0; j < idx.length; j++) out[idx[j]] = view.getFloat32(4 + 4 * j, true);
    return out;
  }
}
