/**
 * From per-example squared norms to clip weights, with non-finite examples zeroed; the factors
 * themselves come from the one {@link clipFactors}.
 * @module
 */
import { clipFactors } from "../privatize.js";

/** Clip factors and reported norms. @internal */
export interface ClipWeights {
  /** min(1, C / norm_i), or 0 for a non-finite example. */
  weights: Float32Array;
  /** norm_i, or Infinity for a non-finite example. */
  norms: Float32Array;
  /** Whether some example was non-finite. */
  anyNonFinite: boolean;
  /** 1 for finite examples, 0 for the others. */
  finite: Uint8Array;
}

/**
 * Clip weights `min(1, l2NormClip / norm_i)` from squared norms. An example whose squared norm is
 * NaN or ±Infinity (a non-finite gradient, or a norm above ~1.8e19 that overflows float32) gets
 * weight 0 and reported norm `Infinity`.
 * @internal
 */
export function clipWeights(squaredNorms: ArrayLike<number>, l2NormClip: number): ClipWeights {
  const n = squaredNorms.length;
  const norms = new Float64Array(n);
  const finite = new Uint8Array(n);
  let anyNonFinite = false;
  for (let i = 0; i < n; i++) {
    const sq = squaredNorms[i];
    if (Number.isFinite(sq) && sq >= 0) {
      norms[i] = Math.sqrt(sq);
      finite[i] = 1;
    } else {
      norms[i] = Infinity;
      anyNonFinite = true;
    }
  }
  return { weights: clipFactors(norms, l2NormClip), norms: Float32Array.from(norms), anyNonFinite, finite };
}
