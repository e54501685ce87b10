import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { computeClippedSum } from "../../../src/dpsgd/gradients.js";
import { addProbe } from "../../../src/dpsgd/engine/fast.js";
import { setDenseStackRoute } from "../../../src/dpsgd/engine/dense-stack.js";
import { applyLayerActivation, setUnsavedOps } from "../../../src/dpsgd/engine/layers/activation.js";

// On the tape, tfjs clones every tensor a kernel saves for its backward pass (`Identity`: a full
// copy on wasm). The engine's probe add and its tanh / sigmoid / ReLU save nothing (their gradients
// close over tensors the engine keeps to the end of the step) and give the same bits.

/** Identity kernels whose output has exactly `shape`, in one profiled run of `f`. */
async function identities(f: () => tf.TensorContainer, shape: number[]): Promise<number> {
  const info = await tf.profile(f);
  return info.kernels.filter((k) => k.name === "Identity" && tf.util.arraysEqual(k.outputShapes[0] ?? [], shape)).length;
}

describe.each(["cpu", "wasm"] as const)("unsaved ops on %s", (backend) => {
  beforeAll(async () => {
    await prepareBackend({ backend, announce: false });
  });

  it("addProbe gives tf.add's value and gradients bit for bit and saves no copy of its inputs (tf.add saves two: the control)", async () => {
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

  it.each(["tanh", "sigmoid", "relu"] as const)(
    "%s with keep gives tfjs's value and gradient bit for bit and saves no clone (tfjs's kernel saves one: the control)",
    async (name) => {
      const layer = tf.layers.dense({ units: 5, activation: name });
      const z = tf.randomNormal([7, 5], 0, 2, "float32", 21);
      const w = tf.randomNormal([7, 5], 0, 1, "float32", 22);
      const kept: tf.Tensor[] = [];
      const keep = (t: tf.Tensor) => void kept.push(tf.keep(t));
      const f = (act: (t: tf.Tensor) => tf.Tensor) => (a: tf.Tensor) => tf.sum(tf.mul(act(a), w)) as tf.Scalar;
      const ours = (t: tf.Tensor) => applyLayerActivation(layer, t, null, keep);
      const theirs = (t: tf.Tensor) => applyLayerActivation(layer, t); // without keep: the layer's own activation
      const a = tf.valueAndGrads(f(ours))([z]);
      const b = tf.valueAndGrads(f(theirs))([z]);
      expect(a.value.dataSync()).toEqual(b.value.dataSync());
      expect(a.grads[0].dataSync()).toEqual(b.grads[0].dataSync());
      expect(kept.length).toBe(1);
      // (mul saves both of its inputs either way)
      const run = (act: (t: tf.Tensor) => tf.Tensor) => () => tf.valueAndGrads(f(act))([z]).grads;
      const control = await identities(run(theirs), [7, 5]);
      expect(control - (await identities(run(ours), [7, 5]))).toBe(1);
      tf.dispose([z, w, a.value, ...a.grads, b.value, ...b.grads, ...kept]);
    },
  );

  it("the engine's step: the same clipped sums bit for bit, fewer copies, and no tensor left behind", async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 6, activation: "relu" }),
        tf.layers.dense({ units: 5, activation: "linear" }),
        tf.layers.dense({ units: 8, activation: "tanh" }),
        tf.layers.dense({ units: 7, activation: "sigmoid" }),
        tf.layers.dense({ units: 3, activation: "linear" }),
      ],
    });
    const x = tf.randomNormal([9, 4], 0, 1, "float32", 3);
    const y = tf.randomNormal([9, 3], 0, 1, "float32", 4);
    const sums = () => {
      const r = computeClippedSum({ model, loss: "meanSquaredError", x, y, l2NormClip: 1 });
      return { sums: r.sums.map((a) => Array.from(a)), norms: Array.from(r.norms), loss: r.lossSum };
    };
    const step = (): tf.Tensor[] => (computeClippedSum({ model, loss: "meanSquaredError", x, y, l2NormClip: 1 }), []);
    // The per-layer route (the fused Dense-stack route, which has no probes, is switched off here).
    const route = setDenseStackRoute({ enabled: false });
    try {
      sums();
      const before = tf.memory().numTensors;
      const on = sums();
      expect(tf.memory().numTensors).toBe(before);
      const unsavedCopies = [await identities(step, [9, 5]), await identities(step, [9, 8]), await identities(step, [9, 7])];
      const previous = setUnsavedOps({ enabled: false });
      let off: ReturnType<typeof sums>;
      let savedCopies: number[];
      try {
        off = sums();
        savedCopies = [await identities(step, [9, 5]), await identities(step, [9, 8]), await identities(step, [9, 7])];
      } finally {
        setUnsavedOps(previous);
      }
      expect(on).toEqual(off);
      // [9, 5]: the probe add's two inputs; [9, 8] (tanh) and [9, 7] (sigmoid): the add's two and the output.
      expect(unsavedCopies).toEqual([0, 0, 0]);
      expect(savedCopies).toEqual([2, 3, 3]);
    } finally {
      setDenseStackRoute(route);
    }
    model.dispose();
    tf.dispose([x, y]);
  });
});
