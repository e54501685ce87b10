/**
 * The fused Dense-stack route (src/dpsgd/engine/dense-stack.ts over
 * src/dpsgd/kernels/dense-stack.ts): an MLP's whole clipping step on typed arrays.
 * - per-example norms and clipped sums against an independent float64 computation (every example)
 *   and against batch-of-one autodiff (tfjs's own kernels, float64 sums: the sums, and the norms
 *   wherever that float32 reference is itself accurate to 1e-6), 1e-5 as every rule, on cpu and
 *   wasm, over random stacks (1-3 layers, widths not
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
import { setSparseKernels } from "../../../src/dpsgd/kernels/sparse-dense.js";
import { randomizeWeights } from "./cases.js";
import { compareWithReference, lcg, randInt, type Reference, referencePerExample } from "./reference.js";

const TOL = 1e-5;

type Act = "linear" | "relu" | "tanh" | "sigmoid";
const HIDDEN: Act[] = ["linear", "relu", "tanh", "sigmoid"];

/** A loss with the output activation it goes with (several for the mean squared error). */
const LOSSES: { loss: PerExampleLoss; out: string[]; targets: "labels" | "oneHot" | "binary" | "real" }[] = [
  { loss: "sparseCategoricalCrossentropy", out: ["softmax"], targets: "labels" },
  { loss: "categoricalCrossentropy", out: ["softmax"], targets: "oneHot" },
  { loss: "binaryCrossentropy", out: ["sigmoid"], targets: "binary" },
  { loss: "meanSquaredError", out: ["linear", "tanh", "relu", "sigmoid", "softmax"], targets: "real" },
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
      // Soft targets (rows sum to 1) exercise the categorical form beyond one-hot: 0.7 on one class
      // plus 0.3 spread at random. (Not fully random: where a target nearly equals the prediction,
      // the gradient p − t is a small difference of float32 values, and the reference's rounding
      // alone moves its norm by more than 1e-5 relative — a 2-class row with |p − t| ≈ 5e-4 did.)
      const v = Array.from({ length: n * c }, () => r());
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < c; j++) s += v[i * c + j];
        const hot = randInt(r, 0, c - 1);
        for (let j = 0; j < c; j++) v[i * c + j] = (0.3 * v[i * c + j]) / s + (j === hot ? 0.7 : 0);
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

/**
 * An independent float64 reference for a Dense stack: per example, the forward pass, the loss
 * gradient (the definitions of src/dpsgd/engine/losses.ts: probabilities normalised by their sum
 * and clipped to [1e-7, 1 − 1e-7] with no gradient outside; logits through log-softmax /
 * log-sigmoid) and backpropagation, all in float64 from the float32 weights and inputs (the
 * model's output rounded to float32 once, as the loss sees it).
 */
function float64Reference(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, loss: PerExampleLoss): Reference {
  const layers = model.layers.filter((l) => l.getClassName() === "Dense");
  const params = layers.map((l) => {
    const w = l.getWeights();
    const act = (l as unknown as { activation: { getClassName(): string } }).activation.getClassName();
    const [din, units] = w[0].shape;
    return { k: Float64Array.from(w[0].dataSync()), b: w[1] ? Float64Array.from(w[1].dataSync()) : null, din, units, act };
  });
  const names = model.trainableWeights.map((v) => (v.read() as tf.Variable).name);
  const n = x.shape[0];
  const d = x.size / n;
  const xv = x.dataSync();
  const yv = y.dataSync();
  const c = params[params.length - 1].units;
  const name = typeof loss === "string" ? loss : (loss as { name: string }).name;
  const logits = typeof loss === "object";
  // (tfjs compares with the clip bounds as float32 values)
  const EPS = Math.fround(1e-7);
  const ONE_MINUS_EPS = Math.fround(1 - 1e-7);
  const f = (act: string, z: number) =>
    act === "tanh" ? Math.tanh(z) : act === "sigmoid" ? 1 / (1 + Math.exp(-z)) : act === "relu" ? Math.max(0, z) : z;
  const df = (act: string, a: number) =>
    act === "tanh" ? 1 - a * a : act === "sigmoid" ? a * (1 - a) : act === "relu" ? (a > 0 ? 1 : 0) : 1;
  const grads: Map<string, Float64Array>[] = [];
  const norms: number[] = [];
  for (let i = 0; i < n; i++) {
    const acts: Float64Array[] = [Float64Array.from(xv.subarray(i * d, (i + 1) * d))];
    for (const p of params) {
      const a = acts[acts.length - 1];
      const z = new Float64Array(p.units);
      for (let u = 0; u < p.units; u++) {
        let s = p.b ? p.b[u] : 0;
        for (let k = 0; k < p.din; k++) s += a[k] * p.k[k * p.units + u];
        z[u] = s;
      }
      if (p.act === "softmax") {
        const m = Math.max(...z);
        let s = 0;
        for (let u = 0; u < p.units; u++) s += z[u] = Math.exp(z[u] - m);
        for (let u = 0; u < p.units; u++) z[u] /= s;
      } else for (let u = 0; u < p.units; u++) z[u] = f(p.act, z[u]);
      acts.push(z);
    }
    // The loss reads the model's output as float32, as in every route (tfjs tensors are float32):
    // for a saturated softmax that rounding decides 1 − p_y.
    const out = acts[acts.length - 1].map((v) => Math.fround(v));
    acts[acts.length - 1] = out;
    const t = new Float64Array(c);
    if (name === "sparseCategoricalCrossentropy") t[yv[i]] = 1;
    else for (let j = 0; j < c; j++) t[j] = yv[i * c + j];
    // ∂loss/∂output
    const dy = new Float64Array(c);
    if (logits && name !== "binaryCrossentropy") {
      const m = Math.max(...out);
      let s = 0;
      for (let j = 0; j < c; j++) s += Math.exp(out[j] - m);
      const tSum = t.reduce((a, b) => a + b, 0);
      for (let j = 0; j < c; j++) dy[j] = (Math.exp(out[j] - m) / s) * tSum - t[j];
    } else if (logits) {
      for (let j = 0; j < c; j++) dy[j] = (1 / (1 + Math.exp(-out[j])) - t[j]) / c;
    } else if (name === "meanSquaredError") {
      for (let j = 0; j < c; j++) dy[j] = (2 * (out[j] - t[j])) / c;
    } else if (name === "binaryCrossentropy") {
      for (let j = 0; j < c; j++) {
        const v = out[j];
        dy[j] = v >= EPS && v <= ONE_MINUS_EPS ? (-t[j] / v + (1 - t[j]) / (1 - v)) / c : 0;
      }
    } else {
      const s = out.reduce((a, b) => a + b, 0);
      const q = out.map((v) => v / s);
      const dq = q.map((v, j) => (v >= EPS && v <= ONE_MINUS_EPS ? -t[j] / v : 0));
      const dot = dq.reduce((a, v, j) => a + v * q[j], 0);
      for (let j = 0; j < c; j++) dy[j] = (dq[j] - dot) / s;
    }
    // back through the output activation, then the layers
    let g = new Float64Array(c);
    const last = params[params.length - 1];
    if (last.act === "softmax") {
      const dot = dy.reduce((a, v, j) => a + v * out[j], 0);
      for (let j = 0; j < c; j++) g[j] = out[j] * (dy[j] - dot);
    } else for (let j = 0; j < c; j++) g[j] = dy[j] * df(last.act, out[j]);
    const m = new Map<string, Float64Array>();
    let at = names.length;
    for (let l = params.length - 1; l >= 0; l--) {
      const p = params[l];
      const a = acts[l];
      const gk = new Float64Array(p.din * p.units);
      for (let k = 0; k < p.din; k++) for (let u = 0; u < p.units; u++) gk[k * p.units + u] = a[k] * g[u];
      if (p.b) m.set(names[--at], Float64Array.from(g));
      m.set(names[--at], gk);
      if (l > 0) {
        const below = new Float64Array(p.din);
        for (let k = 0; k < p.din; k++) {
          let s = 0;
          for (let u = 0; u < p.units; u++) s += p.k[k * p.units + u] * g[u];
          below[k] = s * df(params[l - 1].act, a[k]);
        }
        g = below;
      }
    }
    let sq = 0;
    for (const v of m.values()) for (const e of v) sq += e * e;
    grads.push(m);
    norms.push(Math.sqrt(sq));
  }
  return { grads, norms, names };
}

/**
 * The largest relative norm error over the examples where the float32 batch-of-one reference is
 * itself accurate (agrees with the float64 one to 1e-6), and how many examples that leaves out: on
 * an example whose gradient is a small difference of float32 values (a confident prediction
 * under a logits loss: 1 − p_y from p_y rounded to float32) the float32 reference's own rounding
 * exceeds 1e-5; there the float64 reference is the judge.
 */
function normErrorWhereF32Accurate(norms: Float32Array, f32: Reference, f64: Reference): { error: number; left: number } {
  let error = 0;
  let left = 0;
  f32.norms.forEach((r, i) => {
    const exact = f64.norms[i];
    if (Math.abs(r - exact) > 1e-6 * Math.max(exact, 1e-12)) {
      left++;
      return;
    }
    const e = Math.abs(norms[i] - r) / Math.max(r, 1e-12);
    error = Math.max(error, Number.isNaN(e) ? Infinity : e);
  });
  return { error, left };
}

/**
 * A result against both references: float64 (`cmp64`: every example), float32 batch-of-one autodiff
 * with the float64 clip factors (`cmp`), and the norms wherever that float32 reference is accurate.
 */
function againstReferences(
  result: Parameters<typeof compareWithReference>[0],
  exact: Reference,
  ref: Reference,
  clip: number,
): {
  cmp64: ReturnType<typeof compareWithReference>;
  cmp: ReturnType<typeof compareWithReference>;
  norms: ReturnType<typeof normErrorWhereF32Accurate>;
} {
  return {
    cmp64: compareWithReference(result, exact, clip),
    cmp: compareWithReference(
      result,
      ref,
      clip,
      exact.norms.map((v) => (v > clip ? clip / v : 1)),
    ),
    norms: normErrorWhereF32Accurate(result.norms, ref, exact),
  };
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
    let leftOut = 0;
    let examples = 0;
    for (let t = 0; t < 24; t++) {
      const n = sizes[t % sizes.length];
      const sparse = t % 2 === 0;
      const zeroRows = n > 2 ? [0, n - 1] : [];
      const c = keep(randomCase(r, n, sparse, zeroRows));
      const ref = referencePerExample(c.model, c.x, c.y, c.loss);
      const exact = float64Reference(c.model, c.x, c.y, c.loss);
      const clip = medianClip(exact.norms);
      const result = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: clip, training: false });
      const { cmp64, cmp, norms } = againstReferences(result, exact, ref, clip);
      tf.dispose(result.clippedSum);
      // Against float64: every example.
      expect(cmp64.keysMatch, c.name).toBe(true);
      expect(cmp64.normError, c.name).toBeLessThan(TOL);
      expect(cmp64.sumError, c.name).toBeLessThan(TOL);
      // Against float32 batch-of-one autodiff: the sums, and the norms wherever that reference is accurate.
      expect(cmp.sumError, c.name).toBeLessThan(TOL);
      expect(norms.error, c.name).toBeLessThan(TOL);
      leftOut += norms.left;
      examples += c.x.shape[0];
      cases++;
    }
    // (the float64 reference is right: tfjs's autodiff agrees with it on all but a few examples)
    expect(leftOut).toBeLessThan(0.05 * examples);
    expect(denseStackCalls.taken - taken).toBe(cases);
    // Both first products ran: over the input's nonzeros (sparse cases) and dense.
    expect(denseStackKernelCalls.sparseForward - before.sparseForward).toBeGreaterThan(0);
    expect(denseStackKernelCalls.sparseClippedSum - before.sparseClippedSum).toBe(
      denseStackKernelCalls.sparseForward - before.sparseForward,
    );
    expect(denseStackKernelCalls.denseForward - before.denseForward).toBeGreaterThan(0);
    expect(denseStackKernelCalls.denseClippedSum - before.denseClippedSum).toBe(denseStackKernelCalls.denseForward - before.denseForward);
  });

  it("every loss with every output activation it takes, after each hidden activation", () => {
    const r = lcg(backend === "cpu" ? 41 : 14);
    let k = 0;
    for (const spec of LOSSES) {
      for (const out of spec.out) {
        const hidden = HIDDEN[k++ % HIDDEN.length];
        const c = spec.targets === "labels" || spec.targets === "oneHot" ? 4 : 3;
        const model = tf.sequential({
          layers: [
            tf.layers.dense({ inputShape: [11], units: 6, activation: hidden }),
            tf.layers.dense({ units: c, activation: out as "linear" }),
          ],
        });
        randomizeWeights(model, 0.6);
        const n = 9;
        const x = tf.tensor2d(inputValues(r, n, 11, 1, [4]), [n, 11]);
        const name = `[${hidden},${out}] ${JSON.stringify(spec.loss)}`;
        const cs = keep({ name, model, x, y: targets(r, spec.targets, n, c), loss: spec.loss, sparse: false });
        const exact = float64Reference(cs.model, cs.x, cs.y, cs.loss);
        const ref = referencePerExample(cs.model, cs.x, cs.y, cs.loss);
        const clip = medianClip(exact.norms);
        const result = clippedGradients({ model: cs.model, x: cs.x, y: cs.y, loss: cs.loss, l2NormClip: clip, training: false });
        const { cmp64, cmp, norms } = againstReferences(result, exact, ref, clip);
        tf.dispose(result.clippedSum);
        expect(cmp64.normError, name).toBeLessThan(TOL);
        expect(cmp64.sumError, name).toBeLessThan(TOL);
        expect(cmp.sumError, name).toBeLessThan(TOL);
        expect(norms.error, name).toBeLessThan(TOL);
      }
    }
    expect(k).toBe(11);
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
    const exact = float64Reference(c.model, c.x, c.y, c.loss);
    const clip = medianClip(ref.norms);
    const sparseBefore = denseStackKernelCalls.sparseForward;
    const result = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: clip });
    const cmp = compareWithReference(result, ref, clip);
    const cmp64 = compareWithReference(result, exact, clip);
    tf.dispose(result.clippedSum);
    expect(denseStackKernelCalls.sparseForward).toBe(sparseBefore + 1);
    expect(cmp.normError).toBeLessThan(TOL);
    expect(cmp.sumError).toBeLessThan(TOL);
    expect(cmp64.normError).toBeLessThan(TOL);
    expect(cmp64.sumError).toBeLessThan(TOL);
  });

  it("784-128 relu-10 softmax (sparse input, whole and edge tiles) equals batch-of-one autodiff with the tiled and the axpy kernels", () => {
    const r = lcg(23);
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [784], units: 128, activation: "relu" }),
        tf.layers.dense({ units: 10, activation: "softmax" }),
      ],
    });
    randomizeWeights(model, 0.3);
    const n = 21;
    const x = tf.tensor2d(
      inputValues(r, n, 784, 0.18, [0, 7]).map((v) => Math.abs(v) / 1.5),
      [n, 784],
    );
    const y = tf.tensor1d(Array.from({ length: n }, () => randInt(r, 0, 9)));
    const c = keep({ name: "relu mlp", model, x, y, loss: "sparseCategoricalCrossentropy", sparse: true });
    const ref = referencePerExample(c.model, c.x, c.y, c.loss);
    const exact = float64Reference(c.model, c.x, c.y, c.loss);
    const clip = medianClip(exact.norms);
    const sums: Record<string, Float32Array>[] = [];
    for (const tiled of [true, false]) {
      const previous = setSparseKernels({ tiled });
      try {
        const sparseBefore = denseStackKernelCalls.sparseForward;
        const result = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: clip, training: false });
        expect(denseStackKernelCalls.sparseForward).toBe(sparseBefore + 1);
        const { cmp64, cmp, norms } = againstReferences(result, exact, ref, clip);
        sums.push(Object.fromEntries(Object.entries(result.clippedSum).map(([k, t]) => [k, t.dataSync() as Float32Array])));
        tf.dispose(result.clippedSum);
        expect(cmp64.normError, `tiled ${tiled}`).toBeLessThan(TOL);
        expect(cmp64.sumError, `tiled ${tiled}`).toBeLessThan(TOL);
        expect(cmp.sumError, `tiled ${tiled}`).toBeLessThan(TOL);
        expect(norms.error, `tiled ${tiled}`).toBeLessThan(TOL);
      } finally {
        setSparseKernels(previous);
      }
    }
    // The two variants differ only in the order of float additions.
    for (const k of Object.keys(sums[0])) {
      const [a, b] = [sums[0][k], sums[1][k]];
      let e = 0;
      let m = 0;
      for (let i = 0; i < a.length; i++) {
        e = Math.max(e, Math.abs(a[i] - b[i]));
        m = Math.max(m, Math.abs(b[i]));
      }
      expect(e / (m + 1e-3), k).toBeLessThan(TOL);
    }
  });

  it("a saturated softmax (p outside [1e-7, 1 - 1e-7]) passes no gradient through the clip, as tfjs's autodiff", () => {
    const r = lcg(backend === "cpu" ? 23 : 32);
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [12], units: 9, activation: "tanh" }), tf.layers.dense({ units: 4, activation: "softmax" })],
    });
    randomizeWeights(model, 0.6);
    // Large output weights: several rows saturate (p_max > 1 - 1e-7, or p_label < 1e-7). (Much larger
    // weights amplify the float32 forward pass's rounding in the remaining small gradients beyond
    // 1e-5 relative, in both routes alike.)
    const [k, b] = model.layers[1].getWeights();
    const big = tf.mul(k, 20);
    model.layers[1].setWeights([big, b]);
    big.dispose();
    const x = tf.tensor2d(inputValues(r, 20, 12, 1, []), [20, 12]);
    const y = tf.tensor1d(Array.from({ length: 20 }, () => randInt(r, 0, 3)));
    const c = keep({ name: "saturated", model, x, y, loss: "sparseCategoricalCrossentropy", sparse: false });
    const ref = referencePerExample(c.model, c.x, c.y, c.loss);
    const exact = float64Reference(c.model, c.x, c.y, c.loss);
    // (the premise: some examples' gradients are exactly zero because the clip cut them off)
    expect(ref.norms.filter((v) => v === 0).length).toBeGreaterThan(2);
    const clip = medianClip(exact.norms);
    const taken = denseStackCalls.taken;
    const result = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: clip });
    expect(denseStackCalls.taken).toBe(taken + 1);
    const { cmp64, cmp, norms } = againstReferences(result, exact, ref, clip);
    tf.dispose(result.clippedSum);
    expect(cmp64.normError).toBeLessThan(TOL);
    expect(cmp64.sumError).toBeLessThan(TOL);
    expect(cmp.sumError).toBeLessThan(TOL);
    expect(norms.error).toBeLessThan(TOL);
    // The cut-off examples are exactly zero on the route too.
    ref.norms.forEach((v, i) => {
      if (v === 0) expect(result.norms[i]).toBe(0);
    });
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
