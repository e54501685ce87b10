/**
 * Applying a layer's built-in `activation` (Dense, Conv*, DepthwiseConv2D).
 * @module
 */
import * as tf from "@tensorflow/tfjs";

interface ActivationLike {
  apply(x: tf.Tensor, axis?: number): tf.Tensor;
  getClassName?(): string;
}

type Keep = (t: tf.Tensor) => void;

const unsavedOptions = { enabled: true };

/**
 * Switches the engine's unsaved ops (the probe add, tanh, sigmoid and ReLU that save no clone for
 * the backward pass) on or off; off, the engine uses `tf.add` and the layers' own activations, as
 * before. Returns the previous setting. For benches and tests. @internal
 */
export function setUnsavedOps(options: { enabled?: boolean }): { enabled: boolean } {
  const previous = { ...unsavedOptions };
  Object.assign(unsavedOptions, options);
  return previous;
}

/** Whether the unsaved ops are on (default). @internal */
export function unsavedOpsEnabled(): boolean {
  return unsavedOptions.enabled;
}

/**
 * tanh, sigmoid and ReLU with tfjs's own kernels and gradient formulas, but no clone saved for the
 * backward pass: tfjs's kernels save their output (tanh, sigmoid) or input (ReLU), and on the tape
 * every saved tensor is cloned — on wasm a full copy of the layer's activation per step. Here the
 * gradient closes over that tensor itself, which `keep` keeps until the step ends. The same values
 * and bits as `tf.tanh` / `tf.sigmoid` / `tf.relu` and their gradients
 * (test/dpsgd/engine/unsaved-ops.test.ts).
 */
function unsaved(name: string, keep: Keep): ((z: tf.Tensor) => tf.Tensor) | undefined {
  const op = (f: (z: tf.Tensor) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor) => tf.Tensor }) =>
    tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => f(args[0] as tf.Tensor)) as unknown as (z: tf.Tensor) => tf.Tensor;
  switch (name) {
    case "tanh":
      return op((z) => {
        const y = tf.tanh(z);
        keep(y);
        return { value: y, gradFunc: (dy) => tf.mul(tf.sub(tf.scalar(1), tf.square(y)), dy) };
      });
    case "sigmoid":
      return op((z) => {
        const y = tf.sigmoid(z);
        keep(y);
        return { value: y, gradFunc: (dy) => tf.mul(dy, tf.mul(y, tf.sub(tf.scalar(1), y))) };
      });
    case "relu":
      return op((z) => {
        keep(z);
        return { value: tf.relu(z), gradFunc: (dy) => tf.mul(dy, tf.cast(tf.step(z), "float32")) };
      });
    default:
      return undefined;
  }
}

/**
 * Applies `layer.activation` (a tfjs activation object) to `z`, or returns `z` if there is none.
 * With `keep` (the engine's taped forward pass), tanh, sigmoid and ReLU save no clone (see
 * {@link unsaved}).
 */
export function applyLayerActivation(layer: tf.layers.Layer, z: tf.Tensor, _mask?: tf.Tensor | null, keep?: Keep): tf.Tensor {
  const activation = (layer as unknown as { activation?: ActivationLike | null }).activation;
  if (activation == null) return z;
  const name = activation.getClassName?.();
  if (name === "linear") return z;
  const own = keep && name !== undefined && z.dtype === "float32" ? unsaved(name, keep) : undefined;
  return own ? own(z) : activation.apply(z);
}
