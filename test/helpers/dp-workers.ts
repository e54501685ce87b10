/**
 * The small model, batches and byte views the DP-SGD worker-pool tests share (workers.test.ts,
 * workers-data.test.ts, workers-caller.test.ts): a seeded conv → dense → dense classifier on 6×6
 * inputs, seeded batches of it, and the raw bytes of clipped-sum parts for exact comparisons.
 */
import * as tf from "@tensorflow/tfjs";
import { SeededRng } from "../../src/random/index.js";
import type { ClippedSumParts } from "../../src/dpsgd/gradients.js";

export const LOSS = { name: "sparseCategoricalCrossentropy", fromLogits: true } as const;
export const CHUNK = 8;
/** Between the smallest and the largest per-example norm of the test batches. */
export const CLIP = 10;

/** conv 3×3×3 tanh → flatten → dense 24 tanh → dense 4, weights from `seed`. */
export function model(seed: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.4, seed: s });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, activation: "tanh", kernelInitializer: init(seed) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 24, activation: "tanh", kernelInitializer: init(seed + 1), biasInitializer: init(seed + 2) }),
      tf.layers.dense({ units: 4, kernelInitializer: init(seed + 3) }),
    ],
  });
}

/** `n` seeded examples: 6×6×1 inputs in [-2, 2), labels in 0..3. */
export function batch(n: number, seed: number): { x: tf.Tensor; y: tf.Tensor } {
  const r = new SeededRng(seed);
  const xs = Float32Array.from({ length: n * 36 }, () => (r.nextUint32() / 2 ** 32 - 0.5) * 4);
  const ys = Float32Array.from({ length: n }, () => r.nextUint32() % 4);
  return { x: tf.tensor4d(xs, [n, 6, 6, 1]), y: tf.tensor1d(ys) };
}

/** The bytes of a typed array (only its own, not the rest of its buffer). */
export function raw(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** The bytes of clipped-sum parts: every sum, the norms and the loss sum. */
export function bytesWithLoss(parts: ClippedSumParts): Buffer {
  return Buffer.concat([...parts.sums.map(raw), raw(parts.norms), Buffer.from(Float64Array.of(parts.lossSum).buffer)]);
}
