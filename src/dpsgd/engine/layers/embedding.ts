/**
 * Per-example gradients of `tf.layers.embedding`.
 *
 * Example i's gradient is sparse: row v of the table receives `sum_{t: idx_t = v} g_t`. Its
 * squared norm is `sum_{t,s} [idx_t = idx_s] g_t·g_s` (a masked Gram matrix over the example's
 * T positions, cost T²·D), never forming the `[V, D]` table per example. The clipped sum is one
 * unsorted segment sum of the reweighted output gradients. With `maskZero` the layer's output is
 * unchanged (the engine passes the mask on to the layers after it, as tfjs does).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LayerRule } from "../layer-rule.js";

interface EmbeddingLike {
  embeddings: tf.LayerVariable;
  inputDim: number;
  outputDim: number;
}

function parts(layer: tf.layers.Layer): EmbeddingLike {
  return layer as unknown as EmbeddingLike;
}

/** The Embedding rule. */
export const embeddingRule: LayerRule = {
  classNames: ["Embedding"],
  weights(layer) {
    return [parts(layer).embeddings];
  },
  linear(layer, input) {
    const e = parts(layer);
    const idx = tf.cast(tf.reshape(input, [-1]), "int32");
    const rows = tf.gather(e.embeddings.read(), idx);
    return tf.reshape(rows, [...input.shape, e.outputDim]);
  },
  activate(_layer, z) {
    return z;
  },
  perExample(layer, { input, outputGradient }) {
    const e = parts(layer);
    const n = input.shape[0];
    const steps = input.size / Math.max(n, 1);
    const dim = e.outputDim;
    const idx = tf.cast(tf.reshape(input, [n, steps]), "int32");
    const g = tf.reshape(outputGradient, [n, steps, dim]) as tf.Tensor3D;
    let sq: tf.Tensor;
    if (steps === 1) {
      sq = tf.sum(tf.reshape(tf.square(g), [n, dim]), 1);
    } else {
      const gg = tf.matMul(g, g, false, true); // [N, T, T]
      const same = tf.cast(tf.equal(tf.reshape(idx, [n, steps, 1]), tf.reshape(idx, [n, 1, steps])), "float32");
      sq = tf.sum(tf.reshape(tf.mul(gg, same), [n, -1]), 1);
    }
    return {
      squaredNorms: sq as tf.Tensor1D,
      weightedSum(w) {
        const gw = tf.reshape(tf.mul(g, tf.reshape(w, [n, 1, 1])), [n * steps, dim]);
        return [tf.unsortedSegmentSum(gw, tf.reshape(idx, [n * steps]) as tf.Tensor1D, e.inputDim)];
      },
    };
  },
};
