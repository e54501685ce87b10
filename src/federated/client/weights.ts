/**
 * Model weights as one flat Float32Array (the vector FedAvg averages), and back.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError } from "../../errors.js";

/** Shapes of a model's weights, in `model.getWeights()` order. */
export type WeightShapes = number[][];

/**
 * The shapes of `model.getWeights()`, in order (what {@link unflattenWeights} needs).
 * @param model - any tfjs LayersModel
 * @returns one shape per weight tensor
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { weightShapesOf } from "dpkit/federated";
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
 * weightShapesOf(m); // [[3, 2], [2]]
 * ```
 */
export function weightShapesOf(model: tf.LayersModel): WeightShapes {
  return model.getWeights().map((w) => w.shape.slice());
}

/**
 * All of `model.getWeights()` concatenated into one Float32Array (trainable and not, in order).
 * @param model - any tfjs LayersModel
 * @returns the flat weight vector (a copy)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { flattenWeights } from "dpkit/federated";
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
 * flattenWeights(m).length; // 8
 * ```
 */
export function flattenWeights(model: tf.LayersModel): Float32Array {
  const ws = model.getWeights();
  let n = 0;
  for (const w of ws) n += w.size;
  const out = new Float32Array(n);
  let off = 0;
  for (const w of ws) {
    out.set(w.dataSync() as Float32Array, off);
    off += w.size;
  }
  return out;
}

/**
 * Splits a flat vector into tensors of the given shapes (the caller disposes them).
 * @param flat - the flat vector, of length the total size of `shapes`
 * @param shapes - from {@link weightShapesOf}
 * @returns one tensor per shape
 * @throws {@link DpError} `invalid_parameter` when the lengths disagree
 */
export function unflattenWeights(flat: Float32Array, shapes: WeightShapes): tf.Tensor[] {
  const total = shapes.reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
  if (flat.length !== total) {
    throw new DpError("invalid_parameter", `\`flat\` must have length ${total} for these shapes. Found ${flat.length}.`, "flat");
  }
  const out: tf.Tensor[] = [];
  let off = 0;
  for (const sh of shapes) {
    const size = sh.reduce((a, b) => a * b, 1);
    out.push(tf.tensor(flat.slice(off, off + size), sh, "float32"));
    off += size;
  }
  return out;
}

/**
 * Loads a flat weight vector into `model` (as `model.setWeights`).
 * @param model - the model to overwrite
 * @param flat - a vector from {@link flattenWeights} of a model with the same architecture
 * @throws {@link DpError} `invalid_parameter` when the length does not match the model
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { flattenWeights, setFlatWeights } from "dpkit/federated";
 * const a = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
 * const b = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
 * setFlatWeights(b, flattenWeights(a)); // b now equals a
 * ```
 */
export function setFlatWeights(model: tf.LayersModel, flat: Float32Array): void {
  const ts = unflattenWeights(flat, weightShapesOf(model));
  try {
    model.setWeights(ts);
  } finally {
    tf.dispose(ts);
  }
}
