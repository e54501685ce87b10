/**
 * Small dense-vector helpers on flat Float32Arrays (model deltas).
 * @module
 */

/**
 * The L2 norm of `v`, accumulated in double precision.
 * @param v - a vector
 * @returns sqrt(sum v_i^2)
 * @example
 * ```ts
 * import { l2NormOf } from "dpkit/federated";
 * l2NormOf(new Float32Array([3, 4])); // 5
 * ```
 */
export function l2NormOf(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/**
 * A copy of `v` scaled by min(1, clip / ||v||), so that its L2 norm is at most `clip`.
 *
 * @remarks
 * The scale factor is computed in double precision and shrunk by one part in 10^6 when clipping,
 * so that float32 rounding can never leave the result above `clip` (the sensitivity bound DP
 * relies on). Non-finite inputs give the zero vector.
 *
 * @param v - the vector (not modified)
 * @param clip - the L2 bound C > 0
 * @returns the clipped copy, the original norm, and whether it was scaled down
 * @example
 * ```ts
 * import { clipToL2Norm } from "dpkit/federated";
 * clipToL2Norm(new Float32Array([3, 4]), 1).clipped; // ≈ [0.6, 0.8]
 * ```
 */
export function clipToL2Norm(v: Float32Array, clip: number): { clipped: Float32Array; norm: number; wasClipped: boolean } {
  const norm = l2NormOf(v);
  const out = new Float32Array(v.length);
  if (!Number.isFinite(norm)) return { clipped: out, norm, wasClipped: true };
  if (norm <= clip) {
    out.set(v);
    return { clipped: out, norm, wasClipped: false };
  }
  const scale = (clip / norm) * (1 - 1e-6);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * scale;
  return { clipped: out, norm, wasClipped: true };
}
