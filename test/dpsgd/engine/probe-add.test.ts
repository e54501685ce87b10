import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { computeClippedSum } from "../../../src/dpsgd/gradients.js";
import { addProbe } from "../../../src/dpsgd/engine/fast.js";
import { setDenseStackRoute } from "../../../src/dpsgd/engine/dense-stack.js";

// The engine adds a zero probe to each trained layer's pre-activation to read its output
// gradient. tfjs's `Add` saves both inputs for the backward pass, and the tape clones each saved
// tensor (`Identity`: a full copy on wasm). `addProbe` saves nothing and gives the same bits.

/** Identity kernels whose output has exactly `shape`, in one profiled run of `f`. */
async function identities(f: () => tf.TensorContainer, shape: number[]): Promise<number> {
  const info = await tf.profile(f);
  return info.kernels.filter((k) => k.name === "Identity" && tf.util.arraysEqual(k.outputShapes[0] ?? [], shape)).length;
}

describe.each(["cpu", "wasm"] as const)("addProbe on %s", (backend) => {
  beforeAll(async () => {
    await prepareBackend({ backend, announce: false });
  });

  it("gives tf.add's value and gradients bit for bit, and saves no copy of its inputs (tf.add saves two: the control)", async () => {
    const z = tf.randomNormal([7, 5], 0, 3, "float32", 11);
    const probe = tf.zeros([7, 5]);
    const w = tf.randomNormal([7, 5], 0, 1, "float32", 12);
    const loss = (add: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.tanh(add(a, b)), w)) as tf.Scalar;
    const ours = tf.valueAndGrads(loss(addProbe))([z, probe]);
    const theirs = tf.valueAndGrads(loss(tf.add))([z, probe]);
    expect(ours.value.dataSync()).toEqual(theirs.value.dataSync());
    for (let i = 0; i < 2; i++) expect(ours.grads[i].dataSync()).toEqual(theirs.grads[i].dataSync());
    // tanh and mul save their tensors ([7, 5]) either way; tf.add saves both of its inputs on top.
    const run = (add: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => () => tf.valueAndGrads(loss(add))([z, probe]).grads;
    const control = await identities(run(tf.add), [7, 5]);
    expect(control - (await identities(run(addProbe), [7, 5]))).toBe(2);
    // Different shapes (a broadcast) fall back to tf.add.
    expect(addProbe(z, tf.zeros([5])).shape).toEqual([7, 5]);
    tf.dispose([z, probe, w, ours.value, ...ours.grads, theirs.value, ...theirs.grads]);
  });

  it("the engine's step copies no trained layer's pre-activation", async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 6, activation: "relu" }),
        tf.layers.dense({ units: 5, activation: "linear" }),
        tf.layers.dense({ units: 3, activation: "linear" }),
      ],
    });
    const x = tf.randomNormal([9, 4], 0, 1, "float32", 3);
    const y = tf.randomNormal([9, 3], 0, 1, "float32", 4);
    const step = () => computeClippedSum({ model, loss: "meanSquaredError", x, y, l2NormClip: 1 }) as unknown as tf.TensorContainer;
    // The per-layer route (the fused Dense-stack route, which has no probes, is switched off here).
    const previous = setDenseStackRoute({ enabled: false });
    try {
      tf.dispose(step() as tf.Tensor[]);
      // The second layer's pre-activation [9, 5] (the first layer's is formed before the tape and
      // needs no probe) is used by nothing tfjs saves now: linear activation, our own product next.
      expect(await identities(step, [9, 5])).toBe(0);
    } finally {
      setDenseStackRoute(previous);
    }
    model.dispose();
    tf.dispose([x, y]);
  });
});
