/**
 * The interface a per-layer rule implements (one file per layer kind under `layers/`), in the
 * manner of Opacus' `grad_sample/` modules.
 *
 * A layer with trainable weights is split into a linear part `z = linear(a)` (whose weight
 * gradient, per example, is a function of the layer's input `a_i` and of the gradient `g_i` of
 * the loss with respect to `z_i`) and an elementwise activation. The engine records `a` and `g`
 * for every layer in one forward and one backward pass, and asks each rule for per-example
 * squared norms and for the reweighted sum `sum_i w_i grad_i`.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** Per-example quantities of one layer, computed from its recorded input and output gradient. */
export interface PerExampleTerms {
  /** Squared L2 norm of each example's gradient over this layer's trainable weights, shape `[N]`. */
  squaredNorms: tf.Tensor1D;
  /**
   * `sum_i weights[i] * grad_i` for each trainable weight of the layer, in the order of
   * {@link LayerRule.weights}.
   */
  weightedSum(weights: tf.Tensor1D): tf.Tensor[];
  /**
   * Optional: the same sums as host arrays (row-major, in the order of {@link LayerRule.weights}),
   * for rules that form them on the host anyway (the Embedding rule): the engine's DP step then
   * adds the noise to them directly instead of uploading a tensor and reading it back.
   */
  weightedSumHost?(weights: Float32Array): Float32Array[];
}

/** How a rule should compute norms: Gram-matrix ("ghost") or materialised per-example gradients. */
export type NormMode = "auto" | "ghost" | "materialize";

/** What a rule receives to compute per-example terms. */
export interface PerExampleInput {
  /** The layer's input, first axis = examples. */
  input: tf.Tensor;
  /** Gradient of the summed per-example losses with respect to the layer's pre-activation output. */
  outputGradient: tf.Tensor;
  /** Requested norm mode. */
  mode: NormMode;
  /**
   * The Keras mask reaching the layer (e.g. from an `Embedding` with `maskZero`), `[N, T]`
   * bool, or null/undefined when there is none.
   */
  mask?: tf.Tensor | null;
  /**
   * Set when the engine formed the layer's output averaged over its steps (axis 1) directly, with
   * {@link LayerRule.linearMeanOverSteps}: `outputGradient` is then the gradient with respect to
   * that mean (`[N, ...]` without the steps axis), and every step's output gradient is it divided
   * by the number of steps.
   */
  meanOverSteps?: boolean;
}

/**
 * A per-example gradient rule for one kind of layer with trainable weights.
 *
 * @remarks
 * A rule must treat examples independently: example i's output may depend only on example i's
 * input (layers that mix examples, such as BatchNormalization, would break the per-example
 * sensitivity bound that DP-SGD relies on).
 */
export interface LayerRule {
  /** tfjs class names (`layer.getClassName()`) this rule handles. */
  readonly classNames: readonly string[];
  /** Throws a `DpError("unsupported_layer")` if this layer's configuration is not covered. */
  check?(layer: tf.layers.Layer): void;
  /** The layer's weights, in the order {@link PerExampleTerms.weightedSum} returns gradients. */
  weights(layer: tf.layers.Layer): tf.LayerVariable[];
  /** The pre-activation output `z` of the layer for input `a` (and the input's mask, if any). */
  linear(layer: tf.layers.Layer, input: tf.Tensor, mask?: tf.Tensor | null): tf.Tensor;
  /**
   * The rest of the layer applied to `z` (identity if none): an elementwise activation, or for
   * recurrent layers the recurrence itself, whose per-time-step inputs are the slices of `z`.
   * `keep` (given on the engine's taped forward pass): an activation may close over a tensor of its
   * own for its gradient instead of having tfjs save a clone of it, and hands that tensor to `keep`,
   * which keeps it until the step ends.
   */
  activate(layer: tf.layers.Layer, preActivation: tf.Tensor, mask?: tf.Tensor | null, keep?: (t: tf.Tensor) => void): tf.Tensor;
  /**
   * Optional: the layer's output averaged over axis 1 (what a GlobalAveragePooling1D right after it
   * computes), formed without the full output, or null where the rule does not do it here. The
   * engine then skips the pooling layer and passes {@link PerExampleInput.meanOverSteps}.
   */
  linearMeanOverSteps?(layer: tf.layers.Layer, input: tf.Tensor): tf.Tensor | null;
  /** Per-example squared norms and the reweighted gradient sum. */
  perExample(layer: tf.layers.Layer, args: PerExampleInput): PerExampleTerms;
}
