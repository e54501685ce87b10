/**
 * Per-example (unreduced) losses. tfjs's losses reduce over the batch; DP-SGD needs one loss
 * per example, so the four common Keras losses are re-implemented here with the same
 * definitions as tfjs-layers (probabilities in, clipped to `[epsilon, 1 - epsilon]`,
 * `epsilon = 1e-7`), averaged over every non-batch position.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError } from "../../errors.js";
import type { LogitsLoss, PerExampleLoss } from "./types.js";

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

const LOGIT_LOSSES = ["sparseCategoricalCrossentropy", "categoricalCrossentropy", "binaryCrossentropy"] as const;

function logitsLoss(loss: LogitsLoss, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D {
  if (!LOGIT_LOSSES.includes(loss.name) || loss.fromLogits !== true) {
    throw new DpError(
      "invalid_parameter",
      `\`loss\` as an object must be { name: "sparseCategoricalCrossentropy" | "categoricalCrossentropy" | "binaryCrossentropy", fromLogits: true }. Found ${JSON.stringify(loss)}.`,
      "loss",
    );
  }
  switch (loss.name) {
    case "binaryCrossentropy": {
      // max(z, 0) - z·t + log(1 + exp(-|z|)), as tf.nn.sigmoid_cross_entropy_with_logits
      const t = tf.cast(yTrue, "float32");
      const per = tf.add(tf.sub(tf.relu(yPred), tf.mul(yPred, t)), tf.log1p(tf.exp(tf.neg(tf.abs(yPred)))));
      return meanPerExample(tf.mean(per, -1));
    }
    case "categoricalCrossentropy":
      return meanPerExample(tf.neg(tf.sum(tf.mul(tf.cast(yTrue, "float32"), tf.logSoftmax(yPred)), -1)));
    default: {
      const classes = yPred.shape[yPred.rank - 1];
      const labels = tf.cast(tf.reshape(yTrue, [-1]), "int32");
      const oneHot = tf.reshape(tf.oneHot(labels, classes), yPred.shape);
      return meanPerExample(tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(yPred)), -1)));
    }
  }
}

/** The activation of a model's output (tfjs activation class name), or undefined if unknown. */
function outputActivation(model: tf.LayersModel): string | undefined {
  const out = model.outputs[0] as unknown as { sourceLayer?: tf.layers.Layer } | undefined;
  let layer = out?.sourceLayer;
  for (let depth = 0; layer instanceof tf.LayersModel && depth < 32; depth++) {
    layer = (layer.outputs[0] as unknown as { sourceLayer?: tf.layers.Layer }).sourceLayer;
  }
  if (!layer) return undefined;
  const className = layer.getClassName();
  if (className === "Softmax") return "softmax";
  const activation = (layer as unknown as { activation?: { getClassName?: () => string } | null }).activation;
  if (
    className === "Activation" ||
    ["Dense", "Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose", "Conv3D"].includes(className)
  ) {
    return activation?.getClassName?.() ?? "linear";
  }
  if (className === "TimeDistributed") {
    const inner = (layer as unknown as { layer: tf.layers.Layer }).layer;
    const act = (inner as unknown as { activation?: { getClassName?: () => string } | null }).activation;
    return inner.getClassName() === "Dense" ? (act?.getClassName?.() ?? "linear") : undefined;
  }
  return undefined;
}

/**
 * Refuses a cross-entropy whose form does not match the model's output, as Keras warns: a
 * probability loss on a model whose output layer has a linear activation (logits; tfjs would
 * normalise and clip them silently), or `fromLogits: true` on a softmax / sigmoid output.
 *
 * @param model - the model to be trained
 * @param loss - the per-example loss it will be trained with
 * @throws DpError `invalid_parameter` naming `loss` and the output layer
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkLossMatchesOutput } from "dpkit/dpsgd";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3 })] });
 * checkLossMatchesOutput(model, { name: "sparseCategoricalCrossentropy", fromLogits: true }); // passes
 * ```
 */
export function checkLossMatchesOutput(model: tf.LayersModel, loss: PerExampleLoss): void {
  if (typeof loss === "function" || loss === "meanSquaredError") return;
  const activation = outputActivation(model);
  if (activation === undefined) return;
  const name = typeof loss === "string" ? loss : loss.name;
  const fromLogits = typeof loss === "object" && loss !== null && loss.fromLogits === true;
  const layerName = (model.outputs[0] as unknown as { sourceLayer?: tf.layers.Layer }).sourceLayer?.name ?? "output";
  if (!fromLogits && activation === "linear") {
    throw new DpError(
      "invalid_parameter",
      `\`loss\` "${name}" expects probabilities, but the model's output layer "${layerName}" has no ${name === "binaryCrossentropy" ? "sigmoid" : "softmax"} (its activation is linear: it outputs logits). Use loss { name: "${name}", fromLogits: true }, or add activation "${name === "binaryCrossentropy" ? "sigmoid" : "softmax"}" to the output layer.`,
      "loss",
    );
  }
  if (fromLogits && (activation === "softmax" || activation === "sigmoid")) {
    throw new DpError(
      "invalid_parameter",
      `\`loss\` { name: "${name}", fromLogits: true } expects logits, but the model's output layer "${layerName}" already applies ${activation}. Use loss "${name}" (probabilities), or remove the output activation.`,
      "loss",
    );
  }
}

/**
 * Evaluates a {@link PerExampleLoss} without reducing over the batch.
 *
 * @remarks
 * For sparse categorical cross-entropy `yTrue` holds class indices (shape `[N]`, `[N, 1]` or the
 * prediction's shape without its last axis).
 *
 * @param loss - a named loss, `{ name, fromLogits: true }`, or a function returning one loss per example
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
  if (typeof loss === "object" && loss !== null) return logitsLoss(loss, yTrue, yPred);
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
        `\`loss\` must be one of "sparseCategoricalCrossentropy", "categoricalCrossentropy", "meanSquaredError", "binaryCrossentropy", { name, fromLogits: true } or a function. Found ${JSON.stringify(loss)}.`,
        "loss",
      );
  }
}
