/**
 * Per-example sums of outer products over a sequence: example i's gradient of a weight matrix
 * used at every position t is `sum_t a_{i,t} g_{i,t}^T = A_i^T G_i` (Dense on sequences, the
 * kernels of recurrent layers). Its squared Frobenius norm is either the ghost norm
 * `<A_i A_i^T, G_i G_i^T>` (Gram matrices over the T positions, cost T²·(p+q)) or the norm of
 * the materialised `[p, q]` matrix (cost T·p·q), whichever is cheaper; the clipped sum
 * `sum_i w_i A_i^T G_i` is one matrix product of the stacked positions with the reweighted
 * gradients (book-keeping), or reuses the materialised matrices.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { NormMode } from "../layer-rule.js";
import { matMulTransposeA } from "./matmul.js";

/** Squared norms and reweighted sum of `A_i^T G_i`. @internal */
export interface OuterTerms {
  squaredNorms: tf.Tensor1D;
  /** `sum_i w_i A_i^T G_i`, shape `[p, q]`. */
  weightedSum(w: tf.Tensor1D): tf.Tensor2D;
}

/**
 * Per-example terms of `A_i^T G_i` for `a3` `[N, T, p]` and `g3` `[N, T, q]`.
 * @internal
 */
export function sequenceOuter(a3: tf.Tensor3D, g3: tf.Tensor3D, mode: NormMode): OuterTerms {
  const [n, steps, p] = a3.shape;
  const q = g3.shape[2];
  const ghostCost = steps * steps * (p + q);
  const materializeCost = steps * p * q;
  const ghost = mode === "ghost" || (mode === "auto" && ghostCost < materializeCost);
  if (ghost) {
    const aa = tf.matMul(a3, tf.transpose(a3, [0, 2, 1]));
    const gg = tf.matMul(g3, tf.transpose(g3, [0, 2, 1]));
    const sq = tf.sum(tf.reshape(tf.mul(aa, gg), [n, -1]), 1) as tf.Tensor1D;
    return {
      squaredNorms: sq,
      weightedSum(w) {
        const gw = tf.reshape(tf.mul(g3, tf.reshape(w, [n, 1, 1])), [n * steps, q]) as tf.Tensor2D;
        return matMulTransposeA(tf.reshape(a3, [n * steps, p]) as tf.Tensor2D, gw);
      },
    };
  }
  const per = tf.reshape(tf.matMul(tf.transpose(a3, [0, 2, 1]), g3), [n, p * q]) as tf.Tensor2D;
  return {
    squaredNorms: tf.sum(tf.square(per), 1) as tf.Tensor1D,
    weightedSum(w) {
      return tf.reshape(tf.matMul(tf.reshape(w, [1, n]) as tf.Tensor2D, per), [p, q]) as tf.Tensor2D;
    },
  };
}
