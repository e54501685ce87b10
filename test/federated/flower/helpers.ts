import * as tf from "@tensorflow/tfjs";
import type { ClientDataset } from "../../../src/federated/client/local-training.js";
import { SeededRng } from "../../../src/random/index.js";

/** A tiny two-class problem in 4 dimensions: class = sign of x0 + x1 (with a margin), seeded. */
export function tinyData(count: number, seed: number): ClientDataset {
  const rng = new SeededRng(seed);
  const x = new Float32Array(count * 4);
  const y = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < 4; k++) x[i * 4 + k] = rng.nextUint32() / 2 ** 31 - 1;
    y[i] = x[i * 4] + x[i * 4 + 1] > 0 ? 1 : 0;
  }
  return { x, y, count };
}

/** A 4 → 3 tanh → 2 softmax model (23 weights) with fixed initial weights. */
export function tinyModel(): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 3, activation: "tanh", kernelInitializer: "zeros" }),
      tf.layers.dense({ units: 2, activation: "softmax", kernelInitializer: "zeros" }),
    ],
  });
  const rng = new SeededRng(99);
  m.setWeights(
    m.getWeights().map((w) =>
      tf.tensor(
        Float32Array.from({ length: w.size }, () => (rng.nextUint32() / 2 ** 32 - 0.5) * 0.5),
        w.shape,
      ),
    ),
  );
  return m;
}
