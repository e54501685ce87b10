/**
 * Per-example (unreduced) losses. tfjs's losses reduce over the batch; DP-SGD needs one loss
 * per example, so the four common Keras losses are re-implemented here with the same
 * definitions as tfjs-layers (probabilities in, clipped to `[epsilon, 1 - epsilon]`,
 * `epsilon = 1e-7`), averaged over every non-batch position.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError } from "../../errors.js";
import type { PerExampleLoss } from "./types.js";

const EPSILON = 1e-7;

/** Mean over every axis but the first; a rank-1 tensor is returned as is. */
function meanPerExample(t: tf.Tensor): tf.Tensor1D {
  if (t.rank === 1) return t as tf.Tensor1D;
  const n = t.shape[0];
  return tf.mean(tf.reshape(t, [n, -1]), 1) as tf.Tensor1D;
}

function categoricalPerPosition(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  const p = tf.clipByValue(tf.div(yPred, tf.sum(yPred, -1, true)), EPSILON, 1 - EPSILON);
  return tf.neg(tf.sum(tf.mul(yTrue, tf.log(p)), -1));
}

/**
 * Evaluates a {@link PerExampleLoss} without reducing over the batch.
 *
 * @remarks
 * For sparse categorical cross-entropy `yTrue` holds class indices (shape `[N]`, `[N, 1]` or the
 * prediction's shape without its last axis).
 *
 * @param loss - a named loss or a function returning one loss per example
 * @param yTrue - targets, first axis = examples
 * @param yPred - model outputs, first axis = examples
 * @returns a `Tensor1D` of length `yPred.shape[0]`
 * @throws DpError `invalid_parameter` for an unknown loss name or a function returning the wrong shape
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { perExampleLoss } from "dpkit/dpsgd";
 * const l = perExampleLoss("meanSquaredError", tf.tensor2d([[1], [2]]), tf.tensor2d([[0], [0]]));
 * l.print(); // [1, 4]
 * ```
 */
export function perExampleLoss(loss: PerExampleLoss, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D {
  const n = yPred.shape[0];
  if (typeof loss === "function") {
    const out = loss(yTrue, yPred);
    if (out.rank !== 1 || out.shape[0] !== n) {
      throw new DpError(
        "invalid_parameter",
        `\`loss\` must return one loss per example (shape [${n}]). Found shape [${out.shape.join(", ")}].`,
        "loss",
      );
    }
    return out;
  }
  switch (loss) {
    case "meanSquaredError":
      return meanPerExample(tf.mean(tf.squaredDifference(yPred, tf.cast(yTrue, "float32")), -1));
    case "binaryCrossentropy": {
      const t = tf.cast(yTrue, "float32");
      const p = tf.clipByValue(yPred, EPSILON, 1 - EPSILON);
      const per = tf.neg(tf.add(tf.mul(t, tf.log(p)), tf.mul(tf.sub(1, t), tf.log(tf.sub(1, p)))));
      return meanPerExample(tf.mean(per, -1));
    }
    case "categoricalCrossentropy":
      return meanPerExample(categoricalPerPosition(tf.cast(yTrue, "float32"), yPred));
    case "sparseCategoricalCrossentropy": {
      const classes = yPred.shape[yPred.rank - 1];
      const targetShape = yPred.shape.slice(0, -1);
      const labels = tf.cast(tf.reshape(yTrue, targetShape), "int32");
      const oneHot = tf.reshape(tf.oneHot(tf.reshape(labels, [-1]), classes), yPred.shape);
      return meanPerExample(categoricalPerPosition(oneHot, yPred));
    }
    default:
      throw new DpError(
        "invalid_parameter",
        `\`loss\` must be one of "sparseCategoricalCrossentropy", "categoricalCrossentropy", "meanSquaredError", "binaryCrossentropy" or a function. Found ${JSON.stringify(loss)}.`,
        "loss",
      );
  }
}
