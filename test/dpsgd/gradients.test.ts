/**
 * dpGradients / dpApplyGradients / DpOptimizer on real tfjs models: with noise 0 the result is
 * exactly the mean over the expected batch size of per-example gradients clipped one example at
 * a time; noise has the stated scale; foreign and reused gradients are refused; bad input gives
 * DpErrors.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../../src/backend/index.js";
import { DpError } from "../../src/errors.js";
import { SeededRng } from "../../src/random/index.js";
import { RdpAccountant } from "../../src/accounting/index.js";
import { DpOptimizer, dpApplyGradients, dpGradients } from "../../src/dpsgd/index.js";

beforeAll(async () => {
  await prepareBackend({ backend: "cpu", announce: false });
});

function smallModel(seed: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed: s });
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [5], units: 4, activation: "tanh", kernelInitializer: init(seed), biasInitializer: init(seed + 1) }),
      tf.layers.dense({ units: 3, activation: "softmax", kernelInitializer: init(seed + 2) }),
    ],
  });
}

function batch(n: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const r = new SeededRng(seed);
  const xs = Float32Array.from({ length: n * 5 }, () => (r.nextUint32() / 2 ** 32 - 0.5) * 6);
  const ys = Float32Array.from({ length: n }, () => r.nextUint32() % 3);
  return { x: tf.tensor2d(xs, [n, 5]), y: tf.tensor1d(ys) };
}

/** Reference: per-example gradients one at a time (batch size 1), clipped over all variables. */
function referenceMean(
  model: tf.LayersModel,
  x: tf.Tensor2D,
  y: tf.Tensor1D,
  clip: number,
  expected: number,
): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  const n = x.shape[0];
  for (let i = 0; i < n; i++) {
    const { grads, value } = tf.variableGrads(() => {
      const p = model.predict(x.slice(i, 1)) as tf.Tensor;
      const oneHot = tf.oneHot(tf.cast(y.slice(i, 1), "int32"), 3);
      return tf.neg(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(p, 1e-7, 1 - 1e-7))))) as tf.Scalar;
    });
    value.dispose();
    const arrays = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.dataSync().slice()]));
    tf.dispose(grads);
    let sq = 0;
    for (const a of Object.values(arrays)) for (const v of a) sq += v * v;
    const f = Math.min(1, clip / Math.sqrt(sq));
    for (const [k, a] of Object.entries(arrays)) {
      out[k] ??= new Float64Array(a.length);
      for (let j = 0; j < a.length; j++) out[k][j] += (f * a[j]) / expected;
    }
  }
  return out;
}

describe("dpGradients", () => {
  it("with noiseMultiplier 0 equals the mean over the expected batch size of clipped per-example gradients", () => {
    const model = smallModel(1);
    const { x, y } = batch(9, 2);
    for (const clip of [0.05, 1, 100]) {
      const expected = 7.5;
      const ref = referenceMean(model, x, y, clip, expected);
      const r = dpGradients({
        model,
        loss: "sparseCategoricalCrossentropy",
        x,
        y,
        l2NormClip: clip,
        noiseMultiplier: 0,
        expectedBatchSize: expected,
      });
      expect(Object.keys(r.gradientValues()).sort()).toEqual(Object.keys(ref).sort());
      for (const [k, a] of Object.entries(r.gradientValues())) {
        const b = ref[k];
        let num = 0;
        let den = 0;
        for (let j = 0; j < a.length; j++) {
          num += (a[j] - b[j]) ** 2;
          den += b[j] ** 2;
        }
        expect(Math.sqrt(num / Math.max(den, 1e-30))).toBeLessThan(1e-5);
      }
      // Negative controls: the same comparison catches normalising by the realised size (9) and
      // skipping the clip where it binds.
      const relErr = (b: Record<string, Float64Array>): number => {
        let num = 0;
        let den = 0;
        for (const [k, a] of Object.entries(r.gradientValues())) {
          for (let j = 0; j < a.length; j++) {
            num += (a[j] - b[k][j]) ** 2;
            den += b[k][j] ** 2;
          }
        }
        return Math.sqrt(num / den);
      };
      expect(relErr(referenceMean(model, x, y, clip, 9))).toBeGreaterThan(1e-3);
      if (clip < 1) expect(relErr(referenceMean(model, x, y, Infinity, expected))).toBeGreaterThan(1e-3);
      expect(r.event.kind).toBe("nonPrivate");
      expect(r.norms.length).toBe(9);
      expect(r.batchSize).toBe(9);
      dpApplyGradients(tf.train.sgd(0), r);
    }
  });

  it("keys gradients like tf.variableGrads", () => {
    const model = smallModel(3);
    const { x, y } = batch(4, 4);
    const r = dpGradients({ model, loss: "sparseCategoricalCrossentropy", x, y, l2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: 4 });
    const { grads } = tf.variableGrads(() => tf.sum(model.predict(x) as tf.Tensor) as tf.Scalar);
    expect(Object.keys(r.gradientValues()).sort()).toEqual(Object.keys(grads).sort());
    tf.dispose(grads);
    dpApplyGradients(tf.train.sgd(0), r);
  });

  it("adds noise of standard deviation sigma·C / expected batch size, and records the event", () => {
    const model = smallModel(5);
    const empty = { x: tf.zeros([0, 5]) as tf.Tensor2D, y: tf.zeros([0]) as tf.Tensor1D };
    const values: number[] = [];
    const rng = new SeededRng(6);
    for (let t = 0; t < 40; t++) {
      const r = dpGradients({
        model,
        loss: "sparseCategoricalCrossentropy",
        ...empty,
        l2NormClip: 2,
        noiseMultiplier: 1.5,
        expectedBatchSize: 10,
        samplingProbability: 0.1,
        rng,
        allowInsecureRng: true,
      });
      for (const g of Object.values(r.gradientValues())) values.push(...g);
      dpApplyGradients(tf.train.sgd(0), r);
      expect(r.event).toEqual({ kind: "poissonSampled", samplingProbability: 0.1, event: { kind: "gaussian", noiseMultiplier: 1.5 } });
      expect(r.batchSize).toBe(0);
    }
    const sd = Math.sqrt(values.reduce((a, v) => a + v * v, 0) / values.length);
    // 40 × 39 = 1560 draws: the sample sd is within ±10% of 0.3 with overwhelming probability.
    expect(sd).toBeGreaterThan(0.27);
    expect(sd).toBeLessThan(0.33);
  });

  it("virtual steps: physical chunks give the same clipped sum", () => {
    const model = smallModel(7);
    const { x, y } = batch(10, 8);
    const whole = dpGradients({
      model,
      loss: "sparseCategoricalCrossentropy",
      x,
      y,
      l2NormClip: 0.5,
      noiseMultiplier: 0,
      expectedBatchSize: 10,
    });
    const chunked = dpGradients({
      model,
      loss: "sparseCategoricalCrossentropy",
      x,
      y,
      l2NormClip: 0.5,
      noiseMultiplier: 0,
      expectedBatchSize: 10,
      maxPhysicalBatchSize: 3,
    });
    const wv = whole.gradientValues();
    const cv = chunked.gradientValues();
    for (const k of Object.keys(wv)) {
      const a = wv[k];
      const b = cv[k];
      for (let j = 0; j < a.length; j++) expect(Math.abs(a[j] - b[j])).toBeLessThan(1e-6);
    }
    expect(Array.from(chunked.norms)).toEqual(Array.from(whole.norms));
    dpApplyGradients(tf.train.sgd(0), whole);
    dpApplyGradients(tf.train.sgd(0), chunked);
  });

  it("refuses bad input with DpErrors", () => {
    const model = smallModel(9);
    const { x, y } = batch(4, 10);
    const base = { model, loss: "sparseCategoricalCrossentropy" as const, x, y, l2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: 4 };
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return e instanceof DpError ? `${e.code}:${e.argument}` : String(e);
      }
      return undefined;
    };
    expect(code(() => dpGradients({ ...base, noiseMultiplier: -1 }))).toBe("invalid_parameter:noiseMultiplier");
    expect(code(() => dpGradients({ ...base, l2NormClip: 0 }))).toBe("invalid_parameter:l2NormClip");
    expect(code(() => dpGradients({ ...base, l2NormClip: NaN }))).toBe("non_finite:l2NormClip");
    expect(code(() => dpGradients({ ...base, expectedBatchSize: 0 }))).toBe("invalid_parameter:expectedBatchSize");
    expect(code(() => dpGradients({ ...base, y: tf.zeros([3]) }))).toBe("invalid_parameter:y");
    const bn = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [5], units: 3 }),
        tf.layers.batchNormalization(),
        tf.layers.dense({ units: 3, activation: "softmax" }),
      ],
    });
    expect(() => dpGradients({ ...base, model: bn })).toThrow(/BatchNormalization|LayerNormalization/);
    expect(code(() => dpGradients({ ...base, model: bn }))).toMatch(/^unsupported_layer/);
    const frozen = smallModel(11);
    for (const l of frozen.layers) l.trainable = false;
    expect(code(() => dpGradients({ ...base, model: frozen }))).toMatch(/^invalid_parameter:model|^unsupported_layer/);
  });
});

describe("dpApplyGradients and DpOptimizer", () => {
  it("apply private gradients through SGD, momentum and Adam, and compose the event", () => {
    for (const optimizer of [tf.train.sgd(0.1), tf.train.momentum(0.1, 0.9), tf.train.adam(0.01)]) {
      const model = smallModel(12);
      const { x, y } = batch(6, 13);
      const before = model.getWeights().map((w) => w.dataSync().slice());
      const accountant = new RdpAccountant();
      const opt = new DpOptimizer({ optimizer, accountant });
      opt.applyGradients(
        dpGradients({
          model,
          loss: "sparseCategoricalCrossentropy",
          x,
          y,
          l2NormClip: 1,
          noiseMultiplier: 1.1,
          expectedBatchSize: 6,
          samplingProbability: 0.01,
        }),
      );
      opt.applyGradients(
        dpGradients({
          model,
          loss: "sparseCategoricalCrossentropy",
          x,
          y,
          l2NormClip: 1,
          noiseMultiplier: 1.1,
          expectedBatchSize: 6,
          samplingProbability: 0.01,
        }),
      );
      expect(opt.steps).toBe(2);
      expect(accountant.ledger.length).toBeGreaterThan(0);
      expect(accountant.getEpsilon(1e-5)).toBeGreaterThan(0);
      const after = model.getWeights().map((w) => w.dataSync());
      expect(after.some((a, i) => a.some((v, j) => v !== before[i][j]))).toBe(true);
    }
  });

  it("the ledger cannot be bypassed: a plain optimizer.applyGradients(result.grads) throws and changes nothing", () => {
    const model = smallModel(16);
    const { x, y } = batch(5, 17);
    const before = model.getWeights().map((w) => w.dataSync().slice());
    const opt = tf.train.sgd(0.5);
    const accountant = new RdpAccountant();
    const r = dpGradients({
      model,
      loss: "sparseCategoricalCrossentropy",
      x,
      y,
      l2NormClip: 1,
      noiseMultiplier: 1,
      expectedBatchSize: 5,
      samplingProbability: 0.05,
    });
    // the line a custom loop keeps from before switching to dpGradients
    expect(() => opt.applyGradients((r as unknown as { grads: tf.NamedTensorMap }).grads)).toThrow(/dpApplyGradients.*accountant/);
    expect(() => opt.applyGradients({ ...(r as object) } as tf.NamedTensorMap)).toThrow();
    expect(Object.keys(r)).not.toContain("grads");
    const untouched = model.getWeights().map((w) => w.dataSync());
    expect(untouched.every((a, i) => a.every((v, j) => v === before[i][j]))).toBe(true);
    expect(accountant.ledger.length).toBe(0);
    // the supported path applies it and counts it
    const values = r.gradientValues();
    dpApplyGradients(opt, r, accountant);
    expect(accountant.ledger.length).toBe(1);
    const after = model.getWeights().map((w) => w.dataSync());
    expect(after.some((a, i) => a.some((v, j) => v !== before[i][j]))).toBe(true);
    expect(Object.values(values).some((a) => a.some((v) => v !== 0))).toBe(true);
    expect(() => r.gradientValues()).toThrow(/already applied/);
  });

  it("refuses gradients it did not produce, copies of them, and reuse", () => {
    const model = smallModel(14);
    const { x, y } = batch(4, 15);
    const opt = tf.train.sgd(0.1);
    const { grads, value } = tf.variableGrads(() => tf.sum(model.predict(x) as tf.Tensor) as tf.Scalar);
    value.dispose();
    expect(() =>
      dpApplyGradients(opt, { grads, norms: new Float32Array(4), event: { kind: "noOp" }, lossValue: 0, batchSize: 4 } as never),
    ).toThrow(DpError);
    const r = dpGradients({ model, loss: "sparseCategoricalCrossentropy", x, y, l2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: 4 });
    expect(() => dpApplyGradients(opt, { ...r })).toThrow(/did not privatise/);
    dpApplyGradients(opt, r);
    expect(() => dpApplyGradients(opt, r)).toThrow(/already applied/);
    expect(() => new DpOptimizer({ optimizer: {} as tf.Optimizer })).toThrow(DpError);
    tf.dispose(grads);
  });
});

describe('strategy "naive" for layers without a per-example rule', () => {
  /** PReLU has trainable weights and no per-example rule: only strategy "naive" can train it. */
  function preluModel(seed: number): tf.LayersModel {
    const init = (s: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed: s });
    return tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [5], units: 4, kernelInitializer: init(seed) }),
        tf.layers.prelu({ alphaInitializer: tf.initializers.constant({ value: 0.3 }) }),
        tf.layers.dense({ units: 3, activation: "softmax", kernelInitializer: init(seed + 1) }),
      ],
    });
  }

  it("dpGradients refuses the model by default, naming naive, and accepts it with strategy naive (exact clipped mean)", () => {
    const model = preluModel(21);
    const { x, y } = batch(6, 22);
    const base = { model, loss: "sparseCategoricalCrossentropy" as const, x, y, l2NormClip: 0.3, noiseMultiplier: 0, expectedBatchSize: 6 };
    expect(() => dpGradients(base)).toThrow(/PReLU.*naive/);
    const r = dpGradients({ ...base, strategy: "naive" });
    const ref = referenceMean(model, x, y, 0.3, 6);
    expect(Object.keys(r.gradientValues()).sort()).toEqual(Object.keys(ref).sort());
    for (const [k, a] of Object.entries(r.gradientValues())) {
      let num = 0;
      let den = 0;
      for (let j = 0; j < a.length; j++) {
        num += (a[j] - ref[k][j]) ** 2;
        den += ref[k][j] ** 2;
      }
      expect(Math.sqrt(num / Math.max(den, 1e-30))).toBeLessThan(1e-5);
    }
    dpApplyGradients(tf.train.sgd(0), r);
  });

  it("makePrivate refuses the model by default and trains it with strategy naive", async () => {
    const { makePrivate } = await import("../../src/dpsgd/index.js");
    const model = preluModel(23);
    const { x, y } = batch(40, 24);
    const opts = {
      l2NormClip: 1,
      noiseMultiplier: 1,
      targetDelta: 1e-5,
      batchSize: 10,
      optimizer: tf.train.sgd(0.1),
      loss: "sparseCategoricalCrossentropy" as const,
      rng: new SeededRng(3),
      allowInsecureRng: true,
    };
    expect(() => makePrivate(model, opts)).toThrow(/PReLU.*naive/);
    const before = model.getWeights().map((w) => w.dataSync().slice());
    const priv = makePrivate(model, { ...opts, strategy: "naive" });
    const h = await priv.fit(x, y, { epochs: 1, verbose: 0 });
    expect(h.stepsRun).toBe(4);
    expect(priv.epsilon()).toBeGreaterThan(0);
    const after = model.getWeights().map((w) => w.dataSync());
    expect(after.some((a, i) => a.some((v, j) => v !== before[i][j]))).toBe(true);
  });
});
