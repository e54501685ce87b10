/**
 * The small makePrivate test fixture shared by the DP-SGD fit tests: two Gaussian blobs in 4
 * dimensions from a seeded stream, a one-layer softmax model with zero initial weights, and seeded
 * (insecure, opted-in) makePrivate options.
 */
import * as tf from "@tensorflow/tfjs";
import type { MakePrivateOptions } from "../../src/dpsgd/index.js";
import { SeededRng } from "../../src/random/index.js";

/** Two Gaussian blobs in 4 dimensions, labels 0/1. */
export function blobs(n: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const r = new SeededRng(seed);
  const u = () => r.nextUint32() / 2 ** 32;
  const xs = new Float32Array(n * 4);
  const ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    ys[i] = i % 2;
    for (let j = 0; j < 4; j++) xs[i * 4 + j] = (ys[i] ? 1 : -1) + (u() + u() + u() - 1.5);
  }
  return { x: tf.tensor2d(xs, [n, 4]), y: tf.tensor1d(ys) };
}

/** Dense(4 → 2, softmax) with zero initial weights. */
export function blobModel(): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2, activation: "softmax", kernelInitializer: "zeros" })] });
}

/** makePrivate options for the blobs: C 1, σ 1, batch 50, SGD 0.5, a seeded rng; `over` replaces any. */
export const blobOptions = (over: Partial<MakePrivateOptions> = {}): MakePrivateOptions => ({
  l2NormClip: 1,
  noiseMultiplier: 1,
  targetDelta: 1e-5,
  batchSize: 50,
  optimizer: tf.train.sgd(0.5),
  loss: "sparseCategoricalCrossentropy",
  rng: new SeededRng(1),
  allowInsecureRng: true,
  ...over,
});
