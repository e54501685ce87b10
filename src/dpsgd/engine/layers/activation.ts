/**
 * Applying a layer's built-in `activation` (Dense, Conv*, DepthwiseConv2D).
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

interface ActivationLike {
  apply(x: tf.Tensor, axis?: number): tf.Tensor;
  getClassName?(): string;
}

/** Applies `layer.activation` (a tfjs activation object) to `z`, or returns `z` if there is none. */
export function applyLayerActivation(layer: tf.layers.Layer, z: tf.Tensor): tf.Tensor {
  const activation = (layer as unknown as { activation?: ActivationLike | null }).activation;
  if (activation == null) return z;
  if (activation.getClassName?.() === "linear") return z;
  return activation.apply(z);
}
