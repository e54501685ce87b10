/**
 * Types shared by the per-example gradient engine (see {@link clippedGradients}).
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** The loss names dpkit evaluates per example (tfjs-layers' names). */
export type PerExampleLossName = "sparseCategoricalCrossentropy" | "categoricalCrossentropy" | "meanSquaredError" | "binaryCrossentropy";

/**
 * A cross-entropy on logits, as Keras' `from_logits=True`: the model's output has no softmax
 * (sigmoid for `binaryCrossentropy`) and the loss applies it, in a numerically stable form
 * (log-softmax / log-sigmoid), without clipping.
 */
export interface LogitsLoss {
  /** The cross-entropy. */
  name: "sparseCategoricalCrossentropy" | "categoricalCrossentropy" | "binaryCrossentropy";
  /** Must be true: the model outputs logits. */
  fromLogits: true;
}

/**
 * A loss evaluated once per example, without reduction over the batch.
 *
 * The named losses follow tfjs-layers' definitions (probabilities, not logits, clipped to
 * `[1e-7, 1 - 1e-7]`), averaged over every non-batch position, so that the mean over the batch
 * equals what `model.compile({ loss })` reports. For a model that outputs logits use
 * `{ name, fromLogits: true }` ({@link LogitsLoss}). A function must return one loss per example
 * (a `Tensor1D` of length `batchSize`).
 */
export type PerExampleLoss = PerExampleLossName | LogitsLoss | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor1D);

/**
 * How {@link clippedGradients} computes per-example norms.
 *
 * - `"auto"`: per layer, the cheaper of `"ghost"` and `"materialize"` (by a flop count).
 * - `"ghost"`: norms without forming per-example gradients (||a_i||·||g_i|| for dense layers,
 *   Gram matrices for sequences and convolutions) wherever a layer has that rule.
 * - `"materialize"`: form each example's gradient of each layer (outer products, unfolded
 *   convolutions) and reuse them for the clipped sum (book-keeping).
 * - `"naive"`: one backward pass per example (microbatches of one): slow, but works for any
 *   layer that treats examples independently (BatchNormalization is still refused).
 */
export type ClippingStrategy = "auto" | "ghost" | "materialize" | "naive";

/** Options for {@link clippedGradients}. */
export interface ClippedGradientsOptions {
  /**
   * The model whose trainable weights get gradients: a `tf.sequential` (nested Sequentials
   * allowed) or a `tf.model` with one input and one output whose layers are each used once
   * (branches and merges such as residual `add` allowed).
   */
  model: tf.LayersModel;
  /** A batch of inputs, first axis = examples. */
  x: tf.Tensor;
  /** The matching targets, first axis = examples. */
  y: tf.Tensor;
  /** The per-example loss (see {@link PerExampleLoss}). */
  loss: PerExampleLoss;
  /** Each example's gradient (over all trainable weights together) is clipped to this L2 norm. */
  l2NormClip: number;
  /** How per-example norms are computed. Default `"auto"`. */
  strategy?: ClippingStrategy;
  /** Run layers in training mode (Dropout active). Default true. */
  training?: boolean;
  /** Also return the model's output for the batch (`output`), e.g. for training metrics. Default false. */
  keepOutput?: boolean;
}

/** What {@link clippedGradients} returns. */
export interface ClippedGradients {
  /**
   * Sum over the batch of the per-example gradients, each clipped to `l2NormClip`, keyed by
   * variable name exactly as `tf.variableGrads` keys them; one entry per trainable weight.
   * The caller disposes these tensors.
   */
  clippedSum: tf.NamedTensorMap;
  /**
   * Per-example gradient L2 norms before clipping (over all trainable weights). An example
   * whose gradient is not finite (or whose squared norm overflows float32) is reported as
   * `Infinity` and contributes zero to `clippedSum`.
   */
  norms: Float32Array;
  /** Mean per-example loss over the batch (0 for an empty batch). */
  lossValue: number;
  /** Number of examples in the batch. */
  batchSize: number;
  /** The model's output on the batch (from the same forward pass), when `keepOutput` was set; the caller disposes it. */
  output?: tf.Tensor;
}
