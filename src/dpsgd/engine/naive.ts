/**
 * The generic route: one backward pass per example (microbatches of one). Slow, but works for
 * any layer that treats examples independently; also the reference the fast rules are tested
 * against.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { clipWeights } from "./clip-weights.js";
import { perExampleLoss } from "./losses.js";
import type { ClippedGradients, PerExampleLoss } from "./types.js";

/** Arguments of {@link naiveClippedGradients}. @internal */
export interface NaiveArgs {
  model: tf.LayersModel;
  x: tf.Tensor;
  y: tf.Tensor;
  loss: PerExampleLoss;
  l2NormClip: number;
  training: boolean;
  keepOutput?: boolean;
}

/** Per-example clipped gradient sum by microbatches of one. @internal */
export function naiveClippedGradients({ model, x, y, loss, l2NormClip, training, keepOutput }: NaiveArgs): ClippedGradients {
  const outputs: tf.Tensor[] = [];
  const n = x.shape[0];
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let acc: tf.NamedTensorMap = {};
  for (const v of variables) acc[v.name] = tf.zerosLike(v);
  const norms = new Float32Array(n);
  let lossSum = 0;
  for (let i = 0; i < n; i++) {
    const next = tf.tidy(() => {
      const xi = tf.slice(x, [i], [1]);
      const yi = tf.slice(y, [i], [1]);
      const { value, grads } = tf.variableGrads(() => {
        const out = model.apply(xi, { training }) as tf.Tensor;
        if (keepOutput) outputs.push(tf.keep(tf.clone(out)));
        return tf.sum(perExampleLoss(loss, yi, out)) as tf.Scalar;
      }, variables);
      lossSum += value.dataSync()[0];
      const parts = Object.values(grads).map((g) => tf.sum(tf.square(g)));
      const sq = parts.length ? tf.addN(parts).dataSync()[0] : 0;
      const { weights, norms: nrm } = clipWeights([sq], l2NormClip);
      norms[i] = nrm[0];
      const out: tf.NamedTensorMap = {};
      for (const v of variables) {
        const g = grads[v.name];
        out[v.name] = g && weights[0] > 0 ? tf.add(acc[v.name], tf.mul(g, weights[0])) : tf.clone(acc[v.name]);
      }
      return out;
    });
    tf.dispose(acc);
    acc = next;
  }
  let output: tf.Tensor | undefined;
  if (keepOutput) {
    output = tf.concat(outputs);
    tf.dispose(outputs);
  }
  return { clippedSum: acc, norms, lossValue: n > 0 ? lossSum / n : 0, batchSize: n, output };
}
