/**
 * A client's local work in FedAvg: E epochs of minibatch SGD with batch size B from the current
 * global model, returning the weight delta (McMahan et al. 2017, Algorithm 1, ClientUpdate).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError, requireInteger, requirePositive, requirePositiveInteger } from "../../errors.js";
import type { Rng } from "../../random/rng.js";
import { permutation } from "../../random/permutation.js";
import { flattenWeights, setFlatWeights } from "./weights.js";

/** One client's local examples, as flat typed arrays. */
export interface ClientDataset {
  /** Features, row-major: `count × prod(inputShape)`. */
  x: Float32Array;
  /** Integer class labels in [0, numClasses). */
  y: Uint8Array | Int32Array;
  /** Number of examples. */
  count: number;
}

/** A loss on a batch: `labels` are int32 class ids, `outputs` the model's outputs (logits by default). */
export type FederatedLoss = (labels: tf.Tensor1D, outputs: tf.Tensor) => tf.Scalar;

/** Softmax cross-entropy on logits with integer labels (the default loss; the model outputs logits). */
export const softmaxCrossEntropyLoss: FederatedLoss = (labels, outputs) => {
  const numClasses = outputs.shape[outputs.shape.length - 1] as number;
  return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, numClasses), outputs) as tf.Scalar;
};

/** Options for {@link trainLocalUpdate}. */
export interface LocalTrainingOptions {
  /** A model of the right architecture; its weights are overwritten with `globalWeights`. Outputs logits for the default loss. */
  model: tf.LayersModel;
  /** The current global weights (from `flattenWeights`). */
  globalWeights: Float32Array;
  /** The client's data. */
  data: ClientDataset;
  /** Shape of one example, e.g. [784] or [28, 28, 1]. */
  inputShape: number[];
  /** E: local epochs. Default 1. */
  localEpochs?: number;
  /** B: local minibatch size; `Infinity` means the full local dataset (FedSGD). Default 10. */
  localBatchSize?: number;
  /** Client learning rate. Default 0.05. */
  learningRate?: number;
  /** The loss; default {@link softmaxCrossEntropyLoss}. */
  loss?: FederatedLoss;
  /** Shuffling randomness. Defaults to the secure source; a seeded Rng is insecure (simulation only). */
  rng?: Rng;
}

/** What {@link trainLocalUpdate} returns. */
export interface LocalTrainingResult {
  /** w_local − w_global, flat. */
  delta: Float32Array;
  /** n_k: number of local examples. */
  numExamples: number;
  /** SGD steps taken. */
  steps: number;
  /** Mean training loss over the steps. */
  meanLoss: number;
}

/**
 * Gathers rows `idx[from..to)` of a flat feature matrix and their labels into tensors.
 * @internal
 */
export function gatherBatch(data: ClientDataset, inputShape: number[], idx: ArrayLike<number>): { x: tf.Tensor; y: tf.Tensor1D } {
  const width = inputShape.reduce((a, b) => a * b, 1);
  const m = idx.length;
  const xb = new Float32Array(m * width);
  const yb = new Int32Array(m);
  for (let r = 0; r < m; r++) {
    const i = idx[r];
    xb.set(data.x.subarray(i * width, (i + 1) * width), r * width);
    yb[r] = data.y[i];
  }
  return { x: tf.tensor(xb, [m, ...inputShape]), y: tf.tensor1d(yb, "int32") };
}

/**
 * Runs FedAvg's ClientUpdate: starting from `globalWeights`, E epochs over the local data in
 * shuffled minibatches of B, one SGD step per minibatch; returns the delta w_local − w_global.
 *
 * @remarks
 * No privacy by itself: the delta is a function of every local example. Wrap it with a DP
 * aggregator (client-level DP) or use example-level DP-SGD locally.
 *
 * @param options - see {@link LocalTrainingOptions}
 * @returns the delta, the example count, the number of steps and the mean loss
 * @throws {@link DpError} `invalid_parameter` for a bad option or data of the wrong size
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { flattenWeights, trainLocalUpdate } from "dpkit/federated";
 * import { SeededRng } from "dpkit/random";
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [2] })] });
 * const data = { x: new Float32Array([0, 1, 1, 0]), y: new Uint8Array([0, 1]), count: 2 };
 * const r = trainLocalUpdate({ model, globalWeights: flattenWeights(model), data, inputShape: [2],
 *   localEpochs: 1, localBatchSize: 1, rng: new SeededRng(1) });
 * r.steps; // 2
 * ```
 * @see McMahan et al., "Communication-Efficient Learning of Deep Networks from Decentralized Data", AISTATS 2017.
 */
export function trainLocalUpdate(options: LocalTrainingOptions): LocalTrainingResult {
  const { model, globalWeights, data, inputShape } = options;
  const epochs = requirePositiveInteger("localEpochs", options.localEpochs ?? 1);
  const batchOpt = options.localBatchSize ?? 10;
  const batch = batchOpt === Infinity ? Infinity : requirePositiveInteger("localBatchSize", batchOpt);
  const lr = requirePositive("learningRate", options.learningRate ?? 0.05);
  requireInteger("data.count", data.count, { min: 0 });
  const width = inputShape.reduce((a, b) => a * b, 1);
  if (data.x.length !== data.count * width || data.y.length !== data.count) {
    throw new DpError(
      "invalid_parameter",
      `\`data\` must hold count × ${width} features and count labels. Found ${data.x.length} features and ${data.y.length} labels for count ${data.count}.`,
      "data",
    );
  }
  const loss = options.loss ?? softmaxCrossEntropyLoss;
  setFlatWeights(model, globalWeights);
  const optimizer = tf.train.sgd(lr);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let steps = 0;
  let lossSum = 0;
  try {
    for (let e = 0; e < epochs && data.count > 0; e++) {
      const order = permutation(data.count, options.rng);
      const b = Math.min(batch, data.count);
      for (let start = 0; start < data.count; start += b) {
        const idx = order.subarray(start, Math.min(data.count, start + b));
        const value = tf.tidy(() => {
          const { x, y } = gatherBatch(data, inputShape, idx);
          const cost = optimizer.minimize(() => loss(y, model.apply(x, { training: true }) as tf.Tensor), true, vars);
          return cost ? cost.dataSync()[0] : NaN;
        });
        lossSum += value;
        steps++;
      }
    }
  } finally {
    optimizer.dispose();
  }
  const local = flattenWeights(model);
  const delta = new Float32Array(local.length);
  for (let i = 0; i < local.length; i++) delta[i] = local[i] - globalWeights[i];
  return { delta, numExamples: data.count, steps, meanLoss: steps > 0 ? lossSum / steps : NaN };
}

/** Cross-entropy for models whose last layer is a softmax (outputs are probabilities), integer labels. */
export const probabilityCrossEntropyLoss: FederatedLoss = (labels, outputs) => {
  const numClasses = outputs.shape[outputs.shape.length - 1] as number;
  const p = tf.clipByValue(outputs, 1e-7, 1);
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, numClasses), tf.log(p)), -1))) as tf.Scalar;
};
