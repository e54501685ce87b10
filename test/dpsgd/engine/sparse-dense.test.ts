/**
 * The Dense rule's sparse-input path (src/dpsgd/kernels/sparse-dense.ts, the wasm SIMD module of
 * src/dpsgd/kernels/wasm/sparse-dense.wat): the forward product and the clipped sum over the
 * nonzeros of a mostly-zero input, on cpu and wasm.
 * - the kernels against float64 products on random sparse inputs of several densities and shapes
 *   (d and units not multiples of 4, units 1, all-zero rows, a fully dense row);
 * - the rule end to end (tensor route and the DP step's host route) against batch-of-one
 *   autodiff (1e-5, like every rule) and against the dense path, with call counters showing the
 *   sparse path was taken — and, for inputs above the density threshold, that it was not;
 * - a hidden Dense layer whose (ReLU) input is sparse: the sparse forward runs on the tape, its
 *   gradient with respect to the input must still be right.
 * Negative controls (run by hand, see docs/dpsgd-engine.md "Sparse inputs"): the .wat with the
 * scalar tail skipped (the last units % 4 columns) or with the clip factors ignored in the clipped
 * sum, row norms that miss a nonzero, the density limit ignored, or the sparse path never taken
 * each fail tests here.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { computeClippedSum } from "../../../src/dpsgd/gradients.js";
import { clippedGradients } from "../../../src/dpsgd/engine/index.js";
import { type DenseStackRouteOptions, setDenseStackRoute } from "../../../src/dpsgd/engine/dense-stack.js";
import { setSparseDenseInputs, sparseDenseCalls, type SparseDenseInputOptions } from "../../../src/dpsgd/engine/layers/dense.js";
import type { PerExampleLoss } from "../../../src/dpsgd/engine/types.js";
import {
  buildSparseRows,
  sparseClippedSum,
  sparseKernelsAvailable,
  sparseMatMul,
  sparseRowSquares,
  sparseRowsValid,
} from "../../../src/dpsgd/kernels/sparse-dense.js";
import { randomizeWeights } from "./cases.js";
import { compareWithReference, lcg, randInt, referencePerExample, type Comparison } from "./reference.js";

const TOL = 1e-5;

/** A [n, d] input with about `density` nonzeros; `zeroRows` all zero, `denseRows` all nonzero. */
function sparseValues(
  r: () => number,
  n: number,
  d: number,
  density: number,
  zeroRows: number[] = [],
  denseRows: number[] = [],
): Float32Array {
  const v = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < d; k++) {
      const keep = denseRows.includes(i) || (!zeroRows.includes(i) && r() < density);
      v[i * d + k] = keep ? (r() - 0.3) * 2 || 0.5 : 0;
    }
  }
  return v;
}

function randomArray(r: () => number, size: number, scale = 1): Float32Array {
  return Float32Array.from({ length: size }, () => (r() * 2 - 1) * scale);
}

/** max |a - b| / (max |b| + 1e-3): a relative error that does not blow up on entries near zero. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return a.length === b.length ? e / (m + 1e-3) : Infinity;
}

describe("sparse-dense kernels against float64 products", () => {
  it("WebAssembly SIMD is available here (Node 20)", () => {
    expect(sparseKernelsAvailable()).toBe(true);
  });

  const shapes: [number, number, number][] = [
    [7, 37, 13], // d, units not multiples of 4
    [16, 40, 8],
    [5, 9, 1], // units 1: the scalar tail only
    [33, 100, 130],
    [4, 3, 7],
  ];
  for (const [n, d, u] of shapes) {
    for (const density of [0.02, 0.2, 0.38]) {
      it(`n=${n} d=${d} u=${u} density≈${density}`, () => {
        const r = lcg(n * 1000 + d * 10 + u + Math.round(density * 100));
        const x = sparseValues(r, n, d, density, [0, n - 1].slice(0, n > 2 ? 2 : 1), n > 3 ? [2] : []);
        const w = randomArray(r, d * u);
        const b = randomArray(r, u);
        const g = randomArray(r, n * u);
        const c = Float32Array.from({ length: n }, (_, i) => (i % 5 === 1 ? 0 : 0.1 + r()));
        const rows = buildSparseRows(x, n, d, 1);
        expect(rows).not.toBeNull();
        let nnz = 0;
        for (const v of x) if (v !== 0) nnz++;
        expect(rows!.nnz).toBe(nnz);
        // float64 references
        const z = new Float64Array(n * u);
        const zNoBias = new Float64Array(n * u);
        const kSum = new Float64Array(d * u);
        const bSum = new Float64Array(u);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < u; j++) {
            let s = 0;
            for (let k = 0; k < d; k++) s += x[i * d + k] * w[k * u + j];
            zNoBias[i * u + j] = s;
            z[i * u + j] = s + b[j];
            bSum[j] += c[i] * g[i * u + j];
          }
          for (let k = 0; k < d; k++) for (let j = 0; j < u; j++) kSum[k * u + j] += x[i * d + k] * c[i] * g[i * u + j];
        }
        expect(relError(sparseMatMul(rows!, w, u, b), z)).toBeLessThanOrEqual(1e-6);
        expect(relError(sparseMatMul(rows!, w, u, null), zNoBias)).toBeLessThanOrEqual(1e-6);
        const sum = sparseClippedSum(rows!, g, c, u, true);
        expect(relError(sum.kernel, kSum)).toBeLessThanOrEqual(1e-6);
        expect(relError(sum.bias!, bSum)).toBeLessThanOrEqual(1e-6);
        expect(sparseClippedSum(rows!, g, c, u, false).bias).toBeNull();
        const sq = Array.from({ length: n }, (_, i) => x.subarray(i * d, (i + 1) * d).reduce((t, v) => t + v * v, 0));
        expect(relError(sparseRowSquares(rows!), sq)).toBeLessThanOrEqual(1e-6);
        // the all-zero first row is the bias alone
        expect(Array.from(sparseMatMul(rows!, w, u, b).subarray(0, u))).toEqual(Array.from(b));
      });
    }
  }

  it("refuses an input above the density limit, and a newer CSR invalidates the older", () => {
    const r = lcg(5);
    const x = sparseValues(r, 10, 20, 0.5);
    let nnz = 0;
    for (const v of x) if (v !== 0) nnz++;
    expect(buildSparseRows(x, 10, 20, (nnz - 0.5) / 200)).toBeNull();
    const rows = buildSparseRows(x, 10, 20, (nnz + 0.5) / 200);
    expect(rows?.nnz).toBe(nnz);
    expect(sparseRowsValid(rows!)).toBe(true);
    buildSparseRows(x, 10, 20, 1);
    expect(sparseRowsValid(rows!)).toBe(false);
    expect(() => sparseMatMul(rows!, new Float32Array(20), 1, null)).toThrow(/overwritten/);
  });

  it("keeps NaN and ±Inf entries (they are nonzero), as the dense product does", () => {
    const x = Float32Array.from([0, NaN, 0, 1, 0, 0, Infinity, 0]);
    const rows = buildSparseRows(x, 2, 4, 1)!;
    expect(rows.nnz).toBe(3);
    const z = sparseMatMul(rows, Float32Array.from([1, 1, 1, 1]), 1, null);
    expect(Number.isNaN(z[0])).toBe(true);
    expect(z[1]).toBe(Infinity);
  });
});

interface RuleCase {
  name: string;
  model: tf.LayersModel;
  x: tf.Tensor;
  y: tf.Tensor;
  loss: PerExampleLoss;
}

function ruleCase(
  name: string,
  r: () => number,
  n: number,
  d: number,
  units: number[],
  density: number,
  opts: { hiddenBias?: number } = {},
): RuleCase {
  const layers: tf.layers.Layer[] = units.map((u, k) =>
    tf.layers.dense({ ...(k === 0 ? { inputShape: [d] } : {}), units: u, activation: k === units.length - 1 ? "softmax" : "relu" }),
  );
  const model = tf.sequential({ layers });
  randomizeWeights(model);
  if (opts.hiddenBias !== undefined) {
    // A strongly negative first bias: most ReLU outputs are zero, so the second layer's input is sparse.
    const b = model.layers[0].getWeights()[1];
    const shifted = tf.fill(b.shape, opts.hiddenBias);
    model.layers[0].setWeights([model.layers[0].getWeights()[0], shifted]);
    shifted.dispose();
  }
  const k = units[units.length - 1];
  const x = tf.tensor2d(sparseValues(r, n, d, density, [1], n > 4 ? [3] : []), [n, d]);
  const y = tf.tensor1d(Array.from({ length: n }, () => randInt(r, 0, k - 1)));
  return { name, model, x, y, loss: "sparseCategoricalCrossentropy" };
}

function withOptions<T>(o: Partial<SparseDenseInputOptions>, f: () => T): T {
  const previous = setSparseDenseInputs(o);
  try {
    return f();
  } finally {
    setSparseDenseInputs(previous);
  }
}

function medianClip(norms: number[]): number {
  const s = norms.filter((v) => v > 0).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 1;
}

/** The tensor route and the DP step's host route against the reference; also the raw sums. */
function routes(
  c: RuleCase,
  clip: number,
  ref: ReturnType<typeof referencePerExample>,
): { tensor: Comparison; host: Comparison; sums: Float32Array[] } {
  const r = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: clip, training: false });
  const tensor = compareWithReference(r, ref, clip);
  tf.dispose(r.clippedSum);
  const parts = computeClippedSum({ model: c.model, loss: c.loss, x: c.x, y: c.y, l2NormClip: clip });
  const clippedSum: tf.NamedTensorMap = {};
  parts.names.forEach((name, k) => (clippedSum[name] = tf.tensor(parts.sums[k], parts.shapes[k])));
  const host = compareWithReference({ clippedSum, norms: parts.norms, lossValue: 0, batchSize: parts.batchSize }, ref, clip);
  tf.dispose(clippedSum);
  return { tensor, host, sums: parts.sums };
}

describe.each(["cpu", "wasm"] as const)("the Dense rule's sparse path on %s", (backend) => {
  const cases: RuleCase[] = [];
  // These models are Dense stacks: the fused route (test/dpsgd/engine/dense-stack.test.ts) would
  // take them; here the rule itself is tested, so the route is off.
  let route: DenseStackRouteOptions;
  beforeAll(async () => {
    await prepareBackend({ backend, announce: false });
    expect(tf.getBackend()).toBe(backend);
    route = setDenseStackRoute({ enabled: false });
  });
  afterAll(() => {
    setDenseStackRoute(route);
    for (const c of cases) {
      c.model.dispose();
      tf.dispose([c.x, c.y]);
    }
  });

  it("sparse inputs take the sparse path and equal batch-of-one gradients and the dense path", () => {
    const r = lcg(backend === "cpu" ? 3 : 4);
    const made = [
      ruleCase("61→13→3 density 0.19", r, 9, 61, [13, 3], 0.19),
      ruleCase("37→5→2 density 0.1", r, 6, 37, [5, 2], 0.1),
      ruleCase("50→1→2 density 0.3 (units 1)", r, 5, 50, [1, 2], 0.3),
      ruleCase("20→16→4 density 0.02", r, 8, 20, [16, 4], 0.02),
    ];
    cases.push(...made);
    for (const c of made) {
      const ref = referencePerExample(c.model, c.x, c.y, c.loss);
      const clip = medianClip(ref.norms);
      const before = { ...sparseDenseCalls };
      const tensorsBefore = tf.memory().numTensors;
      const sparse = withOptions({ enabled: true, minWork: 0, maxDensity: 0.4 }, () => routes(c, clip, ref));
      expect(tf.memory().numTensors, `${c.name}: tensors`).toBeLessThanOrEqual(tensorsBefore);
      // Two routes: each a forward product and a clipped sum through the sparse kernels.
      expect(sparseDenseCalls.forward - before.forward, c.name).toBeGreaterThanOrEqual(2);
      expect(sparseDenseCalls.clippedSum - before.clippedSum, c.name).toBeGreaterThanOrEqual(2);
      for (const [route, cmp] of Object.entries({ tensor: sparse.tensor, host: sparse.host })) {
        expect(cmp.keysMatch, `${c.name} ${route}`).toBe(true);
        expect(cmp.normError, `${c.name} ${route}: norms`).toBeLessThanOrEqual(TOL);
        expect(cmp.sumError, `${c.name} ${route}: sum`).toBeLessThanOrEqual(TOL);
      }
      const mid = { ...sparseDenseCalls };
      const dense = withOptions({ enabled: false }, () => routes(c, clip, ref));
      expect(sparseDenseCalls).toEqual(mid);
      sparse.sums.forEach((s, k) => expect(relError(s, dense.sums[k]), `${c.name} vs dense, variable ${k}`).toBeLessThanOrEqual(1e-5));
    }
  });

  it("inputs above the density threshold (and small products) stay on the dense path", () => {
    const r = lcg(backend === "cpu" ? 7 : 8);
    const c = ruleCase("30→3 density 0.6", r, 6, 30, [3], 0.6);
    cases.push(c);
    const ref = referencePerExample(c.model, c.x, c.y, c.loss);
    const clip = medianClip(ref.norms);
    const before = { ...sparseDenseCalls };
    const dense = withOptions({ enabled: true, minWork: 0, maxDensity: 0.4 }, () => routes(c, clip, ref));
    expect(sparseDenseCalls).toEqual(before);
    expect(dense.tensor.sumError).toBeLessThanOrEqual(TOL);
    // a sparse input, but n·d·units below minWork
    const small = ruleCase("12→4→2 density 0.1", r, 4, 12, [4, 2], 0.1);
    cases.push(small);
    const refSmall = referencePerExample(small.model, small.x, small.y, small.loss);
    withOptions({ enabled: true, minWork: 4 * 12 * 4 + 1 }, () => routes(small, 1, refSmall));
    expect(sparseDenseCalls).toEqual(before);
    withOptions({ enabled: true, minWork: 4 * 12 * 4 }, () => routes(small, 1, refSmall));
    expect(sparseDenseCalls.forward).toBeGreaterThan(before.forward);
  });

  it("a non-finite example (NaN, Infinity in a sparse row) is dropped on the sparse path as on the dense one", () => {
    const r = lcg(backend === "cpu" ? 13 : 14);
    const c = ruleCase("40→6→3 with non-finite rows", r, 7, 40, [6, 3], 0.15);
    cases.push(c);
    const values = c.x.dataSync().slice();
    values[2 * 40 + 5] = NaN;
    values[4 * 40 + 7] = Infinity;
    const x = tf.tensor2d(values, [7, 40]);
    const keep = [0, 1, 3, 5, 6];
    const xGood = tf.gather(x, keep);
    const yGood = tf.gather(c.y, keep);
    try {
      const ref = referencePerExample(c.model, xGood, yGood, c.loss);
      const clip = medianClip(ref.norms);
      const before = sparseDenseCalls.clippedSum;
      const got = withOptions({ enabled: true, minWork: 0, maxDensity: 0.4 }, () =>
        clippedGradients({ model: c.model, x, y: c.y, loss: c.loss, l2NormClip: clip, training: false }),
      );
      // the clipped sum ran on the sparse path (a CSR of the cleaned input)
      expect(sparseDenseCalls.clippedSum).toBeGreaterThan(before);
      expect(Array.from(got.norms.slice(2, 3))).toEqual([Infinity]);
      expect(got.norms[4]).toBe(Infinity);
      const cmp = compareWithReference({ ...got, norms: Float32Array.from(keep.map((i) => got.norms[i])) }, ref, clip);
      for (const t of Object.values(got.clippedSum)) expect(Array.from(t.dataSync()).every(Number.isFinite)).toBe(true);
      expect(cmp.sumError).toBeLessThanOrEqual(TOL);
      expect(cmp.normError).toBeLessThanOrEqual(TOL);
      tf.dispose(got.clippedSum);
    } finally {
      tf.dispose([x, xGood, yGood]);
    }
  });

  it("a hidden Dense layer with a sparse ReLU input: sparse forward on the tape, gradients still right", () => {
    const r = lcg(backend === "cpu" ? 11 : 12);
    // First layer: d = 12 dense inputs (density 1 stays dense); its ReLU output is mostly zero.
    const c = ruleCase("12→24→6→3, hidden bias -1.2", r, 10, 12, [24, 6, 3], 1, { hiddenBias: -1.2 });
    cases.push(c);
    const h = tf.tidy(() => c.model.layers[0].apply(c.x) as tf.Tensor);
    const hv = h.dataSync();
    h.dispose();
    let nz = 0;
    for (const v of hv) if (v !== 0) nz++;
    expect(nz / hv.length).toBeLessThan(0.4);
    expect(nz).toBeGreaterThan(0);
    const ref = referencePerExample(c.model, c.x, c.y, c.loss);
    const clip = medianClip(ref.norms);
    const before = { ...sparseDenseCalls };
    const got = withOptions({ enabled: true, minWork: 0, maxDensity: 0.4 }, () => routes(c, clip, ref));
    expect(sparseDenseCalls.forward).toBeGreaterThan(before.forward);
    expect(got.tensor.normError).toBeLessThanOrEqual(TOL);
    expect(got.tensor.sumError).toBeLessThanOrEqual(TOL);
    expect(got.host.sumError).toBeLessThanOrEqual(TOL);
  });
});
