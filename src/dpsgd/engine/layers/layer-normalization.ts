/**
 * Per-example gradients of `tf.layers.layerNormalization`.
 *
 * The layer computes `y = gamma ⊙ xhat + beta` with `xhat` normalised over `axis` within each
 * example (so examples stay independent). Example i's gradients are `sum_r g_i[r] ⊙ xhat_i[r]`
 * for gamma and `sum_r g_i[r]` for beta, the sums running over the example's positions outside
 * `axis`; both are materialised (`[N, |gamma|]`, small) and reused for the clipped sum.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError } from "../../../errors.js";
import type { LayerRule } from "../layer-rule.js";

interface LayerNormLike {
  axis: number[] | number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable | null;
  beta: tf.LayerVariable | null;
}

function parts(layer: tf.layers.Layer): LayerNormLike {
  return layer as unknown as LayerNormLike;
}

function axesOf(layer: tf.layers.Layer, rank: number): number[] {
  const a = parts(layer).axis;
  const list = (typeof a === "number" ? [a] : a).map((v) => (v < 0 ? v + rank : v));
  return [...new Set(list)].sort((p, q) => p - q);
}

function normalized(layer: tf.layers.Layer, x: tf.Tensor): tf.Tensor {
  const axes = axesOf(layer, x.rank);
  const { mean, variance } = tf.moments(x, axes, true);
  return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, parts(layer).epsilon)));
}

/** Reshapes a per-axis parameter ([axis dims]) so that it broadcasts against an input of `rank`. */
function broadcastShape(layer: tf.layers.Layer, shape: number[]): number[] {
  const axes = axesOf(layer, shape.length);
  return shape.map((d, i) => (axes.includes(i) ? d : 1));
}

/** The LayerNormalization rule. */
export const layerNormalizationRule: LayerRule = {
  classNames: ["LayerNormalization"],
  check(layer) {
    const l = parts(layer);
    if (!l.center || !l.scale) {
      // tfjs 4.22 cannot differentiate this configuration at all (its batchNorm gradient fails
      // without offset or scale), so there is nothing to check the rule against.
      throw new DpError(
        "unsupported_layer",
        `Layer "${layer.name}" (LayerNormalization) with center or scale turned off is not supported (tfjs cannot differentiate it); keep both on.`,
        "model",
      );
    }
  },
  weights(layer) {
    const l = parts(layer);
    const out: tf.LayerVariable[] = [];
    if (l.scale && l.gamma) out.push(l.gamma);
    if (l.center && l.beta) out.push(l.beta);
    return out;
  },
  linear(layer, input) {
    const l = parts(layer);
    const b = broadcastShape(layer, input.shape);
    let y = normalized(layer, input);
    if (l.scale && l.gamma) y = tf.mul(y, tf.reshape(l.gamma.read(), b));
    if (l.center && l.beta) y = tf.add(y, tf.reshape(l.beta.read(), b));
    return y;
  },
  activate(_layer, z) {
    return z;
  },
  perExample(layer, { input, outputGradient }) {
    const l = parts(layer);
    const rank = input.rank;
    const axes = axesOf(layer, rank);
    const rest = [...Array(rank).keys()].filter((i) => i !== 0 && !axes.includes(i));
    const perm = [0, ...rest, ...axes];
    const n = input.shape[0];
    const paramSize = axes.reduce((s, i) => s * input.shape[i], 1);
    const arrange = (t: tf.Tensor) => tf.reshape(tf.transpose(t, perm), [n, -1, paramSize]);
    const g = arrange(outputGradient);
    const per: tf.Tensor2D[] = [];
    if (l.scale && l.gamma) per.push(tf.sum(tf.mul(g, arrange(normalized(layer, input))), 1) as tf.Tensor2D);
    if (l.center && l.beta) per.push(tf.sum(g, 1) as tf.Tensor2D);
    const shapes = layerNormalizationRule.weights(layer).map((v) => v.read().shape);
    let sq: tf.Tensor = tf.zeros([n]);
    for (const p of per) sq = tf.add(sq, tf.sum(tf.square(p), 1));
    return {
      squaredNorms: sq as tf.Tensor1D,
      weightedSum(w) {
        const w2 = tf.reshape(w, [1, n]) as tf.Tensor2D;
        return per.map((p, i) => tf.reshape(tf.matMul(w2, p), shapes[i]));
      },
    };
  },
};
