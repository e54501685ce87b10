/**
 * From per-example squared norms to clip factors, with non-finite examples zeroed.
 * @module
 */

/** Clip factors and reported norms. @internal */
export interface ClipFactors {
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
 * Computes `min(1, l2NormClip / norm_i)` from squared norms. An example whose squared norm is
 * NaN or ±Infinity (a non-finite gradient, or a norm above ~1.8e19 that overflows float32) gets
 * weight 0 and reported norm `Infinity`.
 * @internal
 */
export function clipFactors(squaredNorms: ArrayLike<number>, l2NormClip: number): ClipFactors {
  const n = squaredNorms.length;
  const weights = new Float32Array(n);
  const norms = new Float32Array(n);
  const finite = new Uint8Array(n);
  let anyNonFinite = false;
  for (let i = 0; i < n; i++) {
    const sq = squaredNorms[i];
    if (Number.isFinite(sq) && sq >= 0) {
      const norm = Math.sqrt(sq);
      norms[i] = norm;
      weights[i] = norm > l2NormClip ? l2NormClip / norm : 1;
      finite[i] = 1;
    } else {
      norms[i] = Infinity;
      weights[i] = 0;
      anyNonFinite = true;
    }
  }
  return { weights, norms, anyNonFinite, finite };
}
