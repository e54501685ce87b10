/**
 * The LSTM host op (src/dpsgd/engine/layers/lstm-host.ts) keeps its work arrays per layer between
 * steps and reuses a larger array for a smaller batch (Poisson batches vary in size). A batch
 * after a larger one must give exactly what batch-of-one autodiff gives, on cpu and wasm.
 */
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { clippedGradients } from "../../../src/dpsgd/engine/index.js";
import { compareWithReference, referencePerExample } from "./reference.js";

const TOL = 1e-5;

describe.each(["cpu", "wasm"] as const)("LSTM host op across batch sizes on %s", (backend) => {
  it("a smaller batch after a larger one (and a larger after a smaller) equals batch-of-one gradients", async () => {
    await prepareBackend({ backend, announce: false });
    const model = tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: 9, outputDim: 3, maskZero: true, inputLength: 5 }),
        tf.layers.lstm({ units: 4, returnSequences: true }),
        tf.layers.lstm({ units: 3, recurrentActivation: "sigmoid", goBackwards: true }),
        tf.layers.dense({ units: 2, activation: "softmax" }),
      ],
    });
    const ids = [1, 2, 3, 0, 0, 4, 4, 5, 6, 0, 7, 8, 1, 2, 3, 0, 0, 0, 0, 0, 5, 6, 7, 8, 1, 3, 1, 3, 1, 0];
    const big = { x: tf.tensor2d(ids, [6, 5]), y: tf.tensor1d([0, 1, 1, 0, 1, 0]) };
    const small = { x: tf.tensor2d(ids.slice(5, 20), [3, 5]), y: tf.tensor1d([1, 0, 1]) };
    try {
      for (const b of [big, small, big]) {
        const ref = referencePerExample(model, b.x, b.y, "sparseCategoricalCrossentropy");
        const clip = [...ref.norms].sort((p, q) => p - q)[Math.floor(ref.norms.length / 2)];
        const r = clippedGradients({ model, x: b.x, y: b.y, loss: "sparseCategoricalCrossentropy", l2NormClip: clip, training: false });
        const cmp = compareWithReference(r, ref, clip);
        tf.dispose(r.clippedSum);
        expect(cmp.normError).toBeLessThanOrEqual(TOL);
        expect(cmp.sumError).toBeLessThanOrEqual(TOL);
      }
    } finally {
      tf.dispose([big.x, big.y, small.x, small.y]);
      model.dispose();
    }
  });
});
