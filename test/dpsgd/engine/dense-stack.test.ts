/**
 * The fused Dense-stack route (src/dpsgd/engine/dense-stack.ts over
 * src/dpsgd/kernels/dense-stack.ts): an MLP's whole clipping step on typed arrays.
 * - per-example norms and clipped sums against batch-of-one autodiff (tfjs's own kernels, float64
 *   sums; 1e-5 as every rule) on cpu and wasm, over random stacks (1-3 layers, widths not
 *   multiples of 4), activations (linear, relu, tanh, sigmoid, softmax last), the seven named
 *   losses, sparse and dense inputs (both first products of the route), Poisson-sized batches, a
 *   batch of one and all-zero rows, with call counters showing the route (and which product) ran;
 * - the whole DP step (noise off) against the general route's step: same norms, loss, event and
 *   gradients to 1e-5;
 * - the route is not taken where it does not apply (other layers, Dropout, frozen layers, a loss
 *   function, labels that are not class indices, a hidden softmax, other activations, sequences),
 *   and a non-finite example sends the step back to the general route;
 * - the f64 tanh and sigmoid kernels against Math.tanh / 1/(1+e^-x) over a dense grid (≤ 0.51 ulp).
 * Negative controls (run by hand; counts in docs/dpsgd-engine.md "The MLP's fused route").
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { dpApplyGradients, dpGradients } from "../../../src/dpsgd/index.js";
import { clippedGradients } from "../../../src/dpsgd/engine/index.js";
import { denseStackCalls, setDenseStackRoute } from "../../../src/dpsgd/engine/dense-stack.js";
import { setSparseDenseInputs } from "../../../src/dpsgd/engine/layers/dense.js";
import type { PerExampleLoss } from "../../../src/dpsgd/engine/types.js";
import { denseStackActivate, denseStackKernelCalls } from "../../../src/dpsgd/kernels/dense-stack.js";
import { randomizeWeights } from "./cases.js";
import { compareWithReference, lcg, randInt, referencePerExample } from "./reference.js";

const TOL = 1e-5;

type Act = "linear" | "relu" | "tanh" | "sigmoid";
const HIDDEN: Act[] = ["linear", "relu", "tanh", "sigmoid"];

/** A loss with the output activation it goes with (several for the mean squared error). */
const LOSSES: { loss: PerExampleLoss; out: string[]; targets: "labels" | "oneHot" | "binary" | "real" }[] = [
  { loss: "sparseCategoricalCrossentropy", out: ["softmax"], targets: "labels" },
  { loss: "categoricalCrossentropy", out: ["softmax"], targets: "oneHot" },
  { loss: "binaryCrossentropy", out: ["sigmoid"], targets: "binary" },
  { loss: "meanSquaredError", out: ["linear", "tanh", "relu", "sigmoid"], targets: "real" },
  { loss: { name: "sparseCategoricalCrossentropy", fromLogits: true }, out: ["linear"], targets: "labels" },
  { loss: { name: "categoricalCrossentropy", fromLogits: true }, out: ["linear"], targets: "oneHot" },
  { loss: { name: "binaryCrossentropy", fromLogits: true }, out: ["linear"], targets: "binary" },
];

interface StackCase {
  name: string;
  model: tf.LayersModel;
  x: tf.Tensor;
  y: tf.Tensor;
  loss: PerExampleLoss;
  sparse: boolean;
}

/** [n, d] values: about `density` nonzero (1: all), rows in `zeroRows` all zero. */
function inputValues(r: () => number, n: number, d: number, density: number, zeroRows: number[]): Float32Array {
  const v = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    if (zeroRows.includes(i)) continue;
    for (let k = 0; k < d; k++) if (density >= 1 || r() < density) v[i * d + k] = (r() * 2 - 1) * 1.5 || 0.5;
  }
  return v;
}

function targets(r: () => number, kind: (typeof LOSSES)[number]["targets"], n: number, c: number): tf.Tensor {
  switch (kind) {
    case "labels":
      return tf.tensor1d(Array.from({ length: n }, () => randInt(r, 0, c - 1)));
    case "oneHot": {
      // Soft targets (rows sum to 1) exercise the categorical form beyond one-hot.
      const v = Array.from({ length: n * c }, () => r());
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < c; j++) s += v[i * c + j];
        for (let j = 0; j < c; j++) v[i * c + j] /= s;
      }
      return tf.tensor2d(v, [n, c]);
    }
    case "binary":
      return tf.tensor2d(
        Array.from({ length: n * c }, () => (r() < 0.5 ? 0 : 1)),
        [n, c],
      );
    default:
      return tf.tensor2d(
        Array.from({ length: n * c }, () => r() * 2 - 1),
        [n, c],
      );
  }
}

/** A random stack: depth 1-3, widths 1-19 (mostly not multiples of 4), random activations and loss. */
function randomCase(r: () => number, n: number, sparse: boolean, zeroRows: number[]): StackCase {
  const depth = randInt(r, 1, 3);
  const d = randInt(r, 5, 40);
  const spec = LOSSES[randInt(r, 0, LOSSES.length - 1)];
  const out = spec.out[randInt(r, 0, spec.out.length - 1)];
  const c = spec.targets === "labels" || spec.targets === "oneHot" ? randInt(r, 2, 7) : randInt(r, 1, 5);
  const acts: string[] = [];
  const layers: tf.layers.Layer[] = [];
  for (let k = 0; k < depth; k++) {
    const last = k === depth - 1;
    const act = last ? out : HIDDEN[randInt(r, 0, HIDDEN.length - 1)];
    acts.push(act);
    layers.push(
      tf.layers.dense({
        ...(k === 0 ? { inputShape: [d] } : {}),
        units: last ? c : randInt(r, 1, 19),
        activation: act as "linear",
        useBias: r() < 0.8,
      }),
    );
  }
  const model = tf.sequential({ layers });
  randomizeWeights(model, 0.6);
  const x = tf.tensor2d(inputValues(r, n, d, sparse ? 0.15 : 1, zeroRows), [n, d]);
  const name = `n=${n} d=${d} ${sparse ? "sparse" : "dense"} [${acts.join(",")}] ${JSON.stringify(spec.loss)}`;
  return { name, model, x, y: targets(r, spec.targets, n, c), loss: spec.loss, sparse };
}

function medianClip(norms: number[]): number {
  const s = norms.filter((v) => v > 0).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 1;
}

function withRoute<T>(on: boolean, f: () => T): T {
  const previous = setDenseStackRoute({ enabled: on });
  try {
    return f();
  } finally {
    setDenseStackRoute(previous);
  }
}

/** A Poisson-sized batch: Binomial(200, 0.12) examples. */
function poissonSize(r: () => number): number {
  let n = 0;
  for (let i = 0; i < 200; i++) if (r() < 0.12) n++;
  return Math.max(1, n);
}

describe.each(["cpu", "wasm"] as const)("the fused Dense-stack route on %s", (backend) => {
  const disposables: (tf.Tensor | tf.LayersModel)[] = [];
  let sparseOptions: ReturnType<typeof setSparseDenseInputs>;
  beforeAll(async () => {
    await prepareBackend({ backend, announce: false });
    expect(tf.getBackend()).toBe(backend);
    // Small test products: try the sparse first product whatever the size.
    sparseOptions = setSparseDenseInputs({ minWork: 0 });
  });
  afterAll(() => {
    setSparseDenseInputs(sparseOptions);
    for (const d of disposables) d.dispose();
  });
  const keep = (c: StackCase) => {
    disposables.push(c.model, c.x, c.y);
    return c;
  };

  it("equals batch-of-one autodiff over random stacks, activations, losses, inputs and batch sizes", () => {
    const r = lcg(backend === "cpu" ? 19 : 91);
    const sizes = [1, 2, 9, poissonSize(r), poissonSize(r), 17, 33];
    const before = { ...denseStackKernelCalls };
    const taken = denseStackCalls.taken;
    let cases = 0;
    for (let t = 0; t < 24; t++) {
      const n = sizes[t % sizes.length];
      const sparse = t % 2 === 0;
      const zeroRows = n > 2 ? [0, n - 1] : [];
      const c = keep(randomCase(r, n, sparse, zeroRows));
      const ref = referencePerExample(c.model, c.x, c.y, c.loss);
      const clip = medianClip(ref.norms);
      const result = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: clip, training: false });
      const cmp = compareWithReference(result, ref, clip);
      tf.dispose(result.clippedSum);
      expect(cmp.keysMatch, c.name).toBe(true);
      expect(cmp.normError, c.name).toBeLessThan(TOL);
      expect(cmp.sumError, c.name).toBeLessThan(TOL);
      cases++;
    }
    expect(denseStackCalls.taken - taken).toBe(cases);
    // Both first products ran: over the input's nonzeros (sparse cases) and dense.
    expect(denseStackKernelCalls.sparseForward - before.sparseForward).toBeGreaterThan(0);
    expect(denseStackKernelCalls.sparseClippedSum - before.sparseClippedSum).toBe(
      denseStackKernelCalls.sparseForward - before.sparseForward,
    );
    expect(denseStackKernelCalls.denseForward - before.denseForward).toBeGreaterThan(0);
    expect(denseStackKernelCalls.denseClippedSum - before.denseClippedSum).toBe(denseStackKernelCalls.denseForward - before.denseForward);
  });

  it("the MNIST-shaped MLP (784-128 tanh-10 softmax, 18% nonzero pixels) equals batch-of-one autodiff", () => {
    const r = lcg(7);
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [784], units: 128, activation: "tanh" }),
        tf.layers.dense({ units: 10, activation: "softmax" }),
      ],
    });
    const x = tf.tensor2d(
      inputValues(r, 24, 784, 0.18, [5]).map((v) => Math.abs(v) / 1.5),
      [24, 784],
    );
    const y = tf.tensor1d(Array.from({ length: 24 }, () => randInt(r, 0, 9)));
    const c = keep({ name: "mnist mlp", model, x, y, loss: "sparseCategoricalCrossentropy", sparse: true });
    const ref = referencePerExample(c.model, c.x, c.y, c.loss);
    const clip = medianClip(ref.norms);
    const sparseBefore = denseStackKernelCalls.sparseForward;
    const result = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: clip });
    const cmp = compareWithReference(result, ref, clip);
    tf.dispose(result.clippedSum);
    expect(denseStackKernelCalls.sparseForward).toBe(sparseBefore + 1);
    expect(cmp.normError).toBeLessThan(TOL);
    expect(cmp.sumError).toBeLessThan(TOL);
  });

  it("the DP step (noise off) equals the general route's step: norms, loss, event, gradients", () => {
    const r = lcg(backend === "cpu" ? 5 : 6);
    for (let t = 0; t < 6; t++) {
      const c = keep(randomCase(r, randInt(r, 1, 40), t % 2 === 0, [1]));
      const step = (on: boolean) =>
        withRoute(on, () => {
          const taken = denseStackCalls.taken;
          const g = dpGradients({
            model: c.model,
            loss: c.loss,
            x: c.x,
            y: c.y,
            l2NormClip: 0.7,
            noiseMultiplier: 0,
            expectedBatchSize: 16,
            samplingProbability: 0.01,
          });
          expect(denseStackCalls.taken - taken, c.name).toBe(on ? 1 : 0);
          const values = g.gradientValues();
          dpApplyGradients(tf.train.sgd(0), g);
          return { g, values };
        });
      const fused = step(true);
      const general = step(false);
      expect(fused.g.event).toEqual(general.g.event);
      expect(fused.g.batchSize).toBe(general.g.batchSize);
      expect(Math.abs(fused.g.lossValue - general.g.lossValue)).toBeLessThan(TOL * Math.max(1, Math.abs(general.g.lossValue)));
      for (let i = 0; i < general.g.norms.length; i++) {
        expect(Math.abs(fused.g.norms[i] - general.g.norms[i]), c.name).toBeLessThan(TOL * Math.max(1e-3, general.g.norms[i]));
      }
      expect(Object.keys(fused.values).sort()).toEqual(Object.keys(general.values).sort());
      for (const [name, v] of Object.entries(general.values)) {
        const u = fused.values[name];
        let diff = 0;
        let scale = 0;
        for (let k = 0; k < v.length; k++) {
          diff = Math.max(diff, Math.abs(u[k] - v[k]));
          scale = Math.max(scale, Math.abs(v[k]));
        }
        // Each clipped gradient has norm <= 0.7 and the average divides by 16: entries are O(0.05).
        expect(diff, `${c.name} ${name}`).toBeLessThan(TOL * Math.max(scale, 0.05));
      }
    }
  });

  it("keepOutput returns the model's output, and the loss is the mean per-example loss", () => {
    const r = lcg(11);
    const c = keep(randomCase(r, 12, true, []));
    const fused = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: 1, keepOutput: true, training: false });
    const general = withRoute(false, () =>
      clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: 1, keepOutput: true, training: false }),
    );
    const a = fused.output!.dataSync();
    const b = general.output!.dataSync();
    expect(fused.output!.shape).toEqual(general.output!.shape);
    for (let i = 0; i < b.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-6 * Math.max(1, Math.abs(b[i])));
    expect(Math.abs(fused.lossValue - general.lossValue)).toBeLessThan(TOL * Math.max(1, Math.abs(general.lossValue)));
    tf.dispose([fused.output!, general.output!, ...Object.values(fused.clippedSum), ...Object.values(general.clippedSum)]);
  });

  it("is taken for a Dense stack after Flatten, and not where it does not apply", () => {
    const r = lcg(3);
    const n = 6;
    const x2 = tf.tensor2d(inputValues(r, n, 8, 1, []), [n, 8]);
    const x3 = tf.tensor3d(inputValues(r, n, 8, 1, []), [n, 2, 4]);
    const labels = tf.tensor1d([0, 1, 2, 0, 1, 2]);
    disposables.push(x2, x3, labels);
    const dense = (units: number, activation: string, extra: object = {}) =>
      tf.layers.dense({ units, activation: activation as "linear", ...extra });
    const run = (model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, loss: PerExampleLoss = "sparseCategoricalCrossentropy") => {
      disposables.push(model);
      const taken = denseStackCalls.taken;
      const out = clippedGradients({ model, x, y, loss, l2NormClip: 1 });
      tf.dispose(out.clippedSum);
      return denseStackCalls.taken - taken;
    };
    const seq = (layers: tf.layers.Layer[]) => tf.sequential({ layers });
    // Taken: a plain stack, and one after Flatten.
    expect(run(seq([dense(5, "relu", { inputShape: [8] }), dense(3, "softmax")]), x2, labels)).toBe(1);
    expect(run(seq([tf.layers.flatten({ inputShape: [2, 4] }), dense(5, "tanh"), dense(3, "softmax")]), x3, labels)).toBe(1);
    // Not taken.
    expect(run(seq([dense(5, "relu", { inputShape: [8] }), tf.layers.dropout({ rate: 0.5 }), dense(3, "softmax")]), x2, labels)).toBe(0);
    expect(run(seq([dense(5, "relu", { inputShape: [8] }), tf.layers.layerNormalization(), dense(3, "softmax")]), x2, labels)).toBe(0);
    expect(run(seq([dense(5, "elu", { inputShape: [8] }), dense(3, "softmax")]), x2, labels)).toBe(0);
    expect(run(seq([dense(5, "softmax", { inputShape: [8] }), dense(3, "softmax")]), x2, labels)).toBe(0);
    const frozen = seq([dense(5, "relu", { inputShape: [8] }), dense(3, "softmax")]);
    frozen.layers[0].trainable = false;
    expect(run(frozen, x2, labels)).toBe(0);
    const ySeq = tf.zeros([n, 2, 3]);
    disposables.push(ySeq);
    expect(run(seq([dense(3, "tanh", { inputShape: [2, 4] })]), x3, ySeq, "meanSquaredError")).toBe(0);
    const fn: PerExampleLoss = (yt, yp) => tf.sum(tf.square(tf.sub(yp, tf.oneHot(tf.cast(yt, "int32"), 3))), 1) as tf.Tensor1D;
    expect(run(seq([dense(3, "softmax", { inputShape: [8] })]), x2, labels, fn)).toBe(0);
    const badLabels = tf.tensor1d([0, 1, 2.5, 0, 1, 2]);
    const outOfRange = tf.tensor1d([0, 1, 3, 0, 1, 2]);
    disposables.push(badLabels, outOfRange);
    expect(run(seq([dense(3, "softmax", { inputShape: [8] })]), x2, badLabels)).toBe(0);
    expect(run(seq([dense(3, "softmax", { inputShape: [8] })]), x2, outOfRange)).toBe(0);
    // Switched off.
    expect(withRoute(false, () => run(seq([dense(3, "softmax", { inputShape: [8] })]), x2, labels))).toBe(0);
  });

  it("an example with a non-finite gradient sends the step back to the general route (which drops it)", () => {
    const r = lcg(4);
    const v = inputValues(r, 8, 6, 1, []);
    v[2 * 6 + 3] = NaN;
    const x = tf.tensor2d(v, [8, 6]);
    const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1]);
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [6], units: 4, activation: "tanh" }), tf.layers.dense({ units: 3, activation: "softmax" })],
    });
    disposables.push(x, y, model);
    const before = { ...denseStackCalls };
    const out = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1 });
    expect(denseStackCalls.nonFinite).toBe(before.nonFinite + 1);
    expect(denseStackCalls.taken).toBe(before.taken);
    expect(out.norms[2]).toBe(Infinity);
    for (const t of Object.values(out.clippedSum)) expect(Array.from(t.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose(out.clippedSum);
  });
});

describe("the fused step's tanh and sigmoid (f64, rounded once)", () => {
  const ulp = (v: number) => {
    const a = Math.abs(Math.fround(v));
    return a === 0 ? 2 ** -149 : 2 ** Math.max(Math.floor(Math.log2(a)) - 23, -149);
  };
  it("are within 0.51 ulp of the exact values over a dense grid of [-12, 12] (and tiny arguments)", () => {
    const N = 400_001;
    const x = new Float32Array(N + 200);
    for (let i = 0; i < N; i++) x[i] = (i - 200_000) * 6e-5;
    for (let i = 0; i < 200; i++) x[N + i] = (i % 2 ? -1 : 1) * 2 ** (-i / 2);
    for (const [kind, exact] of [
      ["tanh", Math.tanh],
      ["sigmoid", (v: number) => 1 / (1 + Math.exp(-v))],
    ] as const) {
      const y = denseStackActivate(kind, x);
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(y[i] - exact(x[i])) / ulp(exact(x[i])));
      expect(worst, kind).toBeLessThan(0.51);
    }
  });
  it("keep signs, saturate, and pass NaN through; lengths that are not multiples of 4", () => {
    const t = denseStackActivate("tanh", new Float32Array([NaN, Infinity, -Infinity, -0, 0, 30, -30]));
    expect(Array.from(t.subarray(1))).toEqual([1, -1, -0, 0, 1, -1]);
    expect(Object.is(t[3], -0)).toBe(true);
    expect(t[0]).toBeNaN();
    const s = denseStackActivate("sigmoid", new Float32Array([NaN, Infinity, -Infinity, 0, 800, -800, -20]));
    expect(s[0]).toBeNaN();
    expect(Array.from(s.subarray(1, 6))).toEqual([1, 0, 0.5, 1, 0]);
    expect(s[6]).toBe(Math.fround(1 / (1 + Math.exp(20))));
  });
});
