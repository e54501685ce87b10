/**
 * Evaluation helpers for DP training loops: mean loss and accuracy of a model on held-out data,
 * computed in chunks without gradients.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError, requirePositiveInteger } from "../errors.js";
import { perExampleLoss, type PerExampleLoss } from "./engine/index.js";

/** Options for {@link evaluatePrivateModel}. */
export interface EvaluateOptions {
  /** The model to evaluate (inference mode). */
  model: tf.LayersModel;
  /** Inputs, first axis = examples. */
  x: tf.Tensor;
  /** Targets, first axis = examples. */
  y: tf.Tensor;
  /** The loss to report (same conventions as training). */
  loss: PerExampleLoss;
  /** Examples per forward pass; default 1000. */
  batchSize?: number;
}

/** What {@link evaluatePrivateModel} returns. */
export interface EvaluateResult {
  /** Mean per-example loss. */
  loss: number;
  /** Fraction correct for the classification losses; undefined for regression or custom losses. */
  accuracy: number | undefined;
}

/**
 * Number of correct predictions in a batch (argmax for the categorical losses, a threshold of
 * 0.5 on probabilities or 0 on logits for binary cross-entropy), counting positions of sequence
 * outputs as fractions of an example; undefined for regression and custom losses. @internal
 */
export function correctCount(loss: PerExampleLoss, yTrue: tf.Tensor, yPred: tf.Tensor): number | undefined {
  if (typeof loss === "function" || loss === "meanSquaredError") return undefined;
  const name = typeof loss === "string" ? loss : loss.name;
  const threshold = typeof loss === "object" && loss.fromLogits ? 0 : 0.5;
  return tf.tidy(() => {
    let hits: tf.Tensor;
    if (name === "sparseCategoricalCrossentropy")
      hits = tf.equal(tf.argMax(yPred, -1), tf.cast(tf.reshape(yTrue, tf.argMax(yPred, -1).shape), "int32"));
    else if (name === "categoricalCrossentropy") hits = tf.equal(tf.argMax(yPred, -1), tf.argMax(yTrue, -1));
    else hits = tf.equal(tf.greater(yPred, threshold), tf.greater(tf.cast(yTrue, "float32"), 0.5));
    return tf.sum(tf.cast(hits, "float32")).dataSync()[0] / (hits.size / (yPred.shape[0] ?? 1));
  });
}

/**
 * Mean loss and accuracy of `model` on `(x, y)`.
 *
 * @remarks
 * Evaluation on held-out data is not covered by the training guarantee: if the held-out data
 * is private too, releasing these numbers needs its own mechanism.
 *
 * @param options - model, data, loss and chunk size
 * @returns mean loss and, for classification losses, accuracy
 * @throws {@link DpError} `invalid_parameter` for mismatched `x` and `y` or a bad chunk size
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { evaluatePrivateModel } from "dpkit/dpsgd";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2, activation: "softmax" })] });
 * const r = evaluatePrivateModel({ model, x: tf.ones([4, 2]), y: tf.tensor1d([0, 1, 0, 1]), loss: "sparseCategoricalCrossentropy" });
 * console.log(r.accuracy); // 0.5
 * ```
 */
export function evaluatePrivateModel(options: EvaluateOptions): EvaluateResult {
  const n = options.x.shape[0] ?? 0;
  if ((options.y.shape[0] ?? 0) !== n) {
    throw new DpError(
      "invalid_parameter",
      `\`x\` and \`y\` must hold the same number of examples. Found ${n} and ${options.y.shape[0]}.`,
      "y",
    );
  }
  const chunk = requirePositiveInteger("batchSize", options.batchSize ?? 1000);
  let lossSum = 0;
  let correct: number | undefined = 0;
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    const [l, c] = tf.tidy(() => {
      const xs = options.x.slice(start, size);
      const ys = options.y.slice(start, size);
      const pred = options.model.predict(xs) as tf.Tensor;
      const per = perExampleLoss(options.loss, ys, pred);
      return [per.sum().dataSync()[0], correctCount(options.loss, ys, pred)] as const;
    });
    lossSum += l;
    correct = c === undefined || correct === undefined ? undefined : correct + c;
  }
  return { loss: n > 0 ? lossSum / n : NaN, accuracy: correct === undefined || n === 0 ? undefined : correct / n };
}
