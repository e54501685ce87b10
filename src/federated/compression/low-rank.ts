/**
 * Low-rank structured updates (Konečný et al. 2016, §2): every weight matrix's update H
 * (d1 × d2) is expressed as A·B with A a random d1 × k matrix regenerated from a shared seed and
 * only B (k × d2) uploaded.
 * @module
 */
import { DpError, requirePositiveInteger } from "../../errors.js";
import type { Rng } from "../../random/rng.js";
import { SeededRng, resolveRng } from "../../random/rng.js";
import { fillGaussian } from "../../random/gaussian.js";
import { encodedView, type UpdateCompressor } from "./compressor.js";

/** Options for {@link LowRankCompressor}. */
export interface LowRankCompressorOptions {
  /** Weight shapes in flattening order (from `weightShapesOf`). */
  shapes: number[][];
  /** k: the rank of every matrix update. */
  rank: number;
}

/** Solves (AᵀA) X = AᵀH for X (k × d2) by Cholesky; A is d1 × k, H is d1 × d2, row-major. */
function leastSquares(A: Float64Array, d1: number, k: number, H: ArrayLike<number>, hOff: number, d2: number): Float64Array {
  const G = new Float64Array(k * k);
  for (let a = 0; a < k; a++)
    for (let b = 0; b <= a; b++) {
      let s = 0;
      for (let i = 0; i < d1; i++) s += A[i * k + a] * A[i * k + b];
      G[a * k + b] = G[b * k + a] = s;
    }
  // Cholesky G = L Lᵀ (G is positive definite with probability 1 for k <= d1), small ridge for safety.
  const L = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = 0; j <= i; j++) {
      let s = G[i * k + j] + (i === j ? 1e-12 : 0);
      for (let m = 0; m < j; m++) s -= L[i * k + m] * L[j * k + m];
      L[i * k + j] = i === j ? Math.sqrt(Math.max(s, 1e-300)) : s / L[j * k + j];
    }
  const X = new Float64Array(k * d2);
  const rhs = new Float64Array(k);
  for (let c = 0; c < d2; c++) {
    for (let a = 0; a < k; a++) {
      let s = 0;
      for (let i = 0; i < d1; i++) s += A[i * k + a] * H[hOff + i * d2 + c];
      rhs[a] = s;
    }
    for (let i = 0; i < k; i++) {
      let s = rhs[i];
      for (let m = 0; m < i; m++) s -= L[i * k + m] * rhs[m];
      rhs[i] = s / L[i * k + i];
    }
    for (let i = k - 1; i >= 0; i--) {
      let s = rhs[i];
      for (let m = i + 1; m < k; m++) s -= L[m * k + i] * rhs[m];
      rhs[i] = s / L[i * k + i];
    }
    for (let a = 0; a < k; a++) X[a * d2 + c] = rhs[a];
  }
  return X;
}

/**
 * Low-rank structured updates: for each weight of rank >= 2 reshaped to d1 × d2 (first axis ×
 * the rest, e.g. a dense kernel [in, out] or a conv kernel [kh·kw·cin... ] as [kh, rest]), with
 * k < min(d1, d2), the client uploads B = argmin ‖A·B − H‖ for a random Gaussian A from a shared
 * seed; the server reconstructs A·B. Biases and small matrices are sent in full.
 *
 * @remarks
 * Konečný et al. train B directly with A fixed; here B is fitted to the update after local
 * training (a projection onto A's column space), which needs no change to local training.
 * Biased (a projection), and never longer than the input in L2 (a projection), so clipping
 * before compressing keeps the DP sensitivity. Bytes: 4 (seed) + 4 per float sent.
 *
 * @example
 * ```ts
 * import { LowRankCompressor } from "dpkit/federated";
 * const c = new LowRankCompressor({ shapes: [[100, 50], [50]], rank: 4 });
 * c.encodedBytes(100 * 50 + 50); // 4 + 4 * (4 * 50 + 50)
 * ```
 * @see Konečný et al., "Federated Learning: Strategies for Improving Communication Efficiency", 2016.
 */
export class LowRankCompressor implements UpdateCompressor {
  readonly name: string;
  readonly unbiased = false;
  private readonly shapes: number[][];
  private readonly rank: number;
  private readonly total: number;

  /**
   * @param options - see {@link LowRankCompressorOptions}
   * @throws {@link DpError} `invalid_parameter` for a bad rank
   */
  constructor(options: LowRankCompressorOptions) {
    this.rank = requirePositiveInteger("rank", options.rank);
    this.shapes = options.shapes.map((s) => s.slice());
    this.total = this.shapes.reduce((t, s) => t + s.reduce((a, b) => a * b, 1), 0);
    this.name = `low-rank(${this.rank})`;
  }

  private plan(): { d1: number; d2: number; lowRank: boolean }[] {
    return this.shapes.map((s) => {
      const size = s.reduce((a, b) => a * b, 1);
      const d1 = s.length >= 2 ? s[0] : size;
      const d2 = s.length >= 2 ? size / s[0] : 1;
      return { d1, d2, lowRank: s.length >= 2 && this.rank < Math.min(d1, d2) };
    });
  }

  private check(length: number): void {
    if (length !== this.total) {
      throw new DpError("invalid_parameter", `\`vector\` must have length ${this.total} for these shapes. Found ${length}.`, "vector");
    }
  }

  encodedBytes(length: number): number {
    this.check(length);
    let floats = 0;
    for (const p of this.plan()) floats += p.lowRank ? this.rank * p.d2 : p.d1 * p.d2;
    return 4 + 4 * floats;
  }

  private randomA(seed: number, index: number, d1: number): Float64Array {
    return fillGaussian(new Float64Array(d1 * this.rank), 1 / Math.sqrt(this.rank), new SeededRng((seed + index * 0x9e3779b1) >>> 0));
  }

  encode(vector: Float32Array, rng?: Rng): Uint8Array {
    this.check(vector.length);
    const seed = resolveRng(rng).nextUint32();
    const out = new Uint8Array(this.encodedBytes(vector.length));
    const view = new DataView(out.buffer);
    view.setUint32(0, seed, true);
    let inOff = 0;
    let outOff = 4;
    this.plan().forEach((p, w) => {
      const size = p.d1 * p.d2;
      if (p.lowRank) {
        const B = leastSquares(this.randomA(seed, w, p.d1), p.d1, this.rank, vector, inOff, p.d2);
        for (let i = 0; i < B.length; i++, outOff += 4) view.setFloat32(outOff, B[i], true);
      } else {
        for (let i = 0; i < size; i++, outOff += 4) view.setFloat32(outOff, vector[inOff + i], true);
      }
      inOff += size;
    });
    return out;
  }

  decode(bytes: Uint8Array, length: number): Float32Array {
    const view = encodedView(this, bytes, length);
    const seed = view.getUint32(0, true);
    const out = new Float32Array(length);
    let outOff = 0;
    let inOff = 4;
    const k = this.rank;
    this.plan().forEach((p, w) => {
      const size = p.d1 * p.d2;
      if (p.lowRank) {
        const A = this.randomA(seed, w, p.d1);
        const B = new Float64Array(k * p.d2);
        for (let i = 0; i < B.length; i++, inOff += 4) B[i] = view.getFloat32(inOff, true);
        for (let i = 0; i < p.d1; i++)
          for (let c = 0; c < p.d2; c++) {
            let s = 0;
            for (let a = 0; a < k; a++) s += A[i * k + a] * B[a * p.d2 + c];
            out[outOff + i * p.d2 + c] = s;
          }
      } else {
        for (let i = 0; i < size; i++, inOff += 4) out[outOff + i] = view.getFloat32(inOff, true);
      }
      outOff += size;
    });
    return out;
  }
}
