/**
 * `tf.layers.timeDistributed`, and the engine's per-example fallback for layers that treat
 * examples independently but have no closed-form rule.
 *
 * `TimeDistributed(Dense)` is Dense on sequences and uses the Dense rule. For any other wrapped
 * layer (and for the generic `tf.layers.rnn` with a custom cell), the fallback keeps the one
 * forward and one backward pass of the model and, for that layer only, forms each example's
 * weight gradient by one vector-Jacobian product through the layer alone
 * (`d/dθ sum(layer(a_i) ⊙ g_i)`, with `g_i` the recorded output gradient): exact, but costs one
 * small backward pass per example through that layer.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError } from "../../../errors.js";
import type { LayerRule, PerExampleTerms } from "../layer-rule.js";
import { denseRule } from "./dense.js";

function applyLayer(layer: tf.layers.Layer, input: tf.Tensor, mask?: tf.Tensor | null): tf.Tensor {
  const out = layer.apply(input, mask ? { mask } : {});
  if (Array.isArray(out))
    throw new DpError(
      "unsupported_layer",
      `Layer "${layer.name}" (${layer.getClassName()}) has several outputs; the engine needs one.`,
      "model",
    );
  return out as tf.Tensor;
}

function refuseDropout(layer: tf.layers.Layer): void {
  const cell = (layer as unknown as { cell?: { dropout?: number; recurrentDropout?: number } }).cell;
  const inner = layer as unknown as { rate?: number; dropout?: number };
  if ((cell?.dropout ?? 0) > 0 || (cell?.recurrentDropout ?? 0) > 0 || (inner.dropout ?? 0) > 0) {
    throw new DpError(
      "unsupported_layer",
      `Layer "${layer.name}" (${layer.getClassName()}) uses dropout inside; the per-example fallback cannot replay its random masks. Use strategy "naive".`,
      "model",
    );
  }
}

/** Per-example terms by one vector-Jacobian product per example through `layer` alone. */
function vjpPerExample(layer: tf.layers.Layer, input: tf.Tensor, g: tf.Tensor, mask: tf.Tensor | null | undefined): PerExampleTerms {
  const variables = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  const n = input.shape[0];
  const per: tf.Tensor[][] = variables.map(() => []);
  for (let i = 0; i < n; i++) {
    const ai = tf.slice(input, [i], [1]);
    const gi = tf.slice(g, [i], [1]);
    const mi = mask ? tf.slice(mask, [i], [1]) : null;
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(applyLayer(layer, ai, mi), gi)) as tf.Scalar, variables);
    value.dispose();
    variables.forEach((v, j) => per[j].push(grads[v.name] ?? tf.zerosLike(v)));
  }
  const flat = per.map((list) => tf.reshape(tf.stack(list), [n, -1]) as tf.Tensor2D);
  const squaredNorms = tf.addN(flat.map((f) => tf.sum(tf.square(f), 1))) as tf.Tensor1D;
  return {
    squaredNorms,
    weightedSum(w) {
      const w2 = tf.reshape(w, [1, n]) as tf.Tensor2D;
      return flat.map((f, j) => tf.reshape(tf.matMul(w2, f), variables[j].shape));
    },
  };
}

/**
 * The fallback rule: exact per-example gradients of any layer that treats examples
 * independently, one vector-Jacobian product per example through that layer only.
 */
export const perExampleVjpRule: LayerRule = {
  classNames: ["RNN"],
  check(layer) {
    refuseDropout(layer);
    if ((layer as unknown as { stateful?: boolean }).stateful) {
      throw new DpError(
        "unsupported_layer",
        `Layer "${layer.name}" (${layer.getClassName()}) is stateful: its state carries one batch's data into the next. Use stateful: false.`,
        "model",
      );
    }
  },
  weights(layer) {
    return layer.trainableWeights;
  },
  linear: applyLayer,
  activate(_layer, z) {
    return z;
  },
  perExample(layer, { input, outputGradient, mask }) {
    return vjpPerExample(layer, input, outputGradient, mask);
  },
};

function inner(layer: tf.layers.Layer): tf.layers.Layer {
  return (layer as unknown as { layer: tf.layers.Layer }).layer;
}

function wrapsDense(layer: tf.layers.Layer): boolean {
  return inner(layer).getClassName() === "Dense";
}

/** The TimeDistributed rule: Dense on sequences for a wrapped Dense, the fallback otherwise. */
export const timeDistributedRule: LayerRule = {
  classNames: ["TimeDistributed"],
  check(layer) {
    perExampleVjpRule.check?.(inner(layer));
  },
  weights(layer) {
    return wrapsDense(layer) ? denseRule.weights(inner(layer)) : layer.trainableWeights;
  },
  linear(layer, input, mask) {
    return wrapsDense(layer) ? denseRule.linear(inner(layer), input) : applyLayer(layer, input, mask);
  },
  activate(layer, z) {
    return wrapsDense(layer) ? denseRule.activate(inner(layer), z) : z;
  },
  perExample(layer, args) {
    return wrapsDense(layer) ? denseRule.perExample(inner(layer), args) : vjpPerExample(layer, args.input, args.outputGradient, args.mask);
  },
};
