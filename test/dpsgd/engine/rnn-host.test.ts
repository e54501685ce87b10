/**
 * The GRU and SimpleRNN host ops (src/dpsgd/engine/layers/rnn-host.ts) on cpu and wasm:
 * - forward values equal tfjs-layers' own layer (`model.predict`) to float32 rounding, masked,
 *   both directions, sequences on and off (negative control: a recurrent kernel 1% off fails);
 * - the op covers exactly the activations it implements (others fall back);
 * - a state recorded for one input is never used for another (the rule recomputes instead;
 *   negative control: a record taken from another input changes the result);
 * - a smaller batch after a larger one (work arrays kept per layer) equals batch-of-one autodiff.
 * The per-example rule through the ops is checked against batch-of-one autodiff in rules.test.ts
 * and wasm.test.ts (recurrentCases: "gru host op", "simpleRNN host op").
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { clippedGradients, recurrentRule } from "../../../src/dpsgd/engine/index.js";
import { gruHostEligible, simpleRnnHostEligible } from "../../../src/dpsgd/engine/layers/rnn-host.js";
import { randomizeWeights } from "./cases.js";
import { compareWithReference, lcg, randInt, referencePerExample } from "./reference.js";

const TOL = 1e-5;
/** float32 rounding of values of order 1 through a few dozen operations */
const VALUE_TOL = 2e-6;

type Variant = { kind: "gru" | "simpleRNN"; args: Record<string, unknown> };

const VARIANTS: Variant[] = [
  { kind: "gru", args: {} },
  { kind: "gru", args: { recurrentActivation: "sigmoid" } },
  { kind: "simpleRNN", args: {} },
  { kind: "simpleRNN", args: { activation: "relu" } },
  { kind: "simpleRNN", args: { activation: "linear" } },
];

function layerOf(kind: Variant["kind"], args: Record<string, unknown>): tf.layers.Layer {
  return (tf.layers[kind] as unknown as (a: Record<string, unknown>) => tf.layers.Layer)(args);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** max |a − b| / max |b| */
function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  const y = b.dataSync();
  let scale = 0;
  for (const v of y) scale = Math.max(scale, Math.abs(v));
  return maxAbsDiff(a, b) / Math.max(scale, 1e-12);
}

/** Embedding(maskZero) → the recurrent layer; token ids with masked steps (example 0 entirely). */
function maskedModel(v: Variant, steps: number, extra: Record<string, unknown>): { model: tf.Sequential; layer: tf.layers.Layer } {
  const layer = layerOf(v.kind, { units: 5, ...v.args, ...extra });
  const model = tf.sequential({ layers: [tf.layers.embedding({ inputDim: 9, outputDim: 4, maskZero: true, inputLength: steps }), layer] });
  randomizeWeights(model, 0.7);
  return { model, layer };
}

function tokenIds(n: number, steps: number, seed: number): tf.Tensor2D {
  const r = lcg(seed);
  const v = Array.from({ length: n * steps }, () => randInt(r, 0, 8));
  for (let t = 0; t < steps; t++) v[t] = 0;
  v[steps + 1] = 0;
  return tf.tensor2d(v, [n, steps]);
}

/** The rule's forward pass (input projection, then the recurrence) on the layer's embedded input. */
function ruleForward(model: tf.Sequential, layer: tf.layers.Layer, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const emb = model.layers[0];
    const e = emb.apply(x) as tf.Tensor;
    const mask = emb.computeMask(x) as tf.Tensor;
    const z = recurrentRule.linear(layer, e);
    return recurrentRule.activate(layer, z, mask);
  });
}

describe.each(["cpu", "wasm"] as const)("GRU and SimpleRNN host ops on %s", (backend) => {
  beforeAll(async () => {
    await prepareBackend({ backend, announce: false });
    expect(tf.getBackend()).toBe(backend);
  });

  it.each(VARIANTS.map((v) => [`${v.kind} ${JSON.stringify(v.args)}`, v] as const))(
    "%s: forward values equal tfjs-layers' layer (masks, both directions, sequences on and off)",
    (_name, v) => {
      const steps = 7;
      const x = tokenIds(6, steps, 11);
      for (const goBackwards of [false, true]) {
        for (const returnSequences of [false, true]) {
          const { model, layer } = maskedModel(v, steps, { goBackwards, returnSequences });
          try {
            expect(v.kind === "gru" ? gruHostEligible(layer) : simpleRnnHostEligible(layer)).toBe(true);
            const want = model.predict(x) as tf.Tensor;
            const got = ruleForward(model, layer, x);
            expect(got.shape).toEqual(want.shape);
            expect(maxAbsDiff(got, want), `back=${goBackwards} seq=${returnSequences}`).toBeLessThanOrEqual(VALUE_TOL);
            // negative control: the same comparison catches a recurrent kernel 1% off
            const u = (layer as unknown as { cell: { recurrentKernel: tf.LayerVariable } }).cell.recurrentKernel;
            const saved = tf.clone(u.read());
            u.write(tf.mul(saved, 1.01));
            const off = ruleForward(model, layer, x);
            u.write(saved);
            expect(maxAbsDiff(off, want)).toBeGreaterThan(10 * VALUE_TOL);
            tf.dispose([want, got, off, saved]);
          } finally {
            model.dispose();
          }
        }
      }
      x.dispose();
    },
  );

  it("covers only the activations it implements (others run the generic recurrence)", () => {
    const cases: [tf.layers.Layer, boolean][] = [
      [tf.layers.gru({ units: 2 }), true],
      [tf.layers.gru({ units: 2, recurrentActivation: "sigmoid" }), true],
      [tf.layers.gru({ units: 2, activation: "relu" }), false],
      [tf.layers.gru({ units: 2, recurrentActivation: "tanh" }), false],
      [tf.layers.simpleRNN({ units: 2 }), true],
      [tf.layers.simpleRNN({ units: 2, activation: "relu" }), true],
      [tf.layers.simpleRNN({ units: 2, activation: "linear" }), true],
      [tf.layers.simpleRNN({ units: 2, activation: "sigmoid" }), false],
      [tf.layers.lstm({ units: 2 }), false],
    ];
    for (const [layer, want] of cases) {
      expect(gruHostEligible(layer) || simpleRnnHostEligible(layer), `${layer.getClassName()}`).toBe(want);
    }
  });

  it.each(["gru", "simpleRNN"] as const)("%s: a state recorded for one input is not used for another", (kind) => {
    const steps = 5;
    const { model, layer } = maskedModel({ kind, args: {} }, steps, { returnSequences: true });
    const emb = model.layers[0];
    const width = kind === "gru" ? 15 : 5;
    const xa = tokenIds(4, steps, 3);
    const xb = tokenIds(4, steps, 4);
    const [ea, eb, maskB] = tf.tidy(() => [emb.apply(xa) as tf.Tensor, emb.apply(xb) as tf.Tensor, emb.computeMask(xb) as tf.Tensor]);
    const g = tf.randomNormal([4, steps, width], 0, 1, "float32", 5);
    const w = tf.tensor1d([1, 0.5, 0.25, 2]);
    const terms = (input: tf.Tensor) => {
      const t = recurrentRule.perExample(layer, { input, outputGradient: g, mask: maskB, mode: "auto" });
      return [t.squaredNorms, ...t.weightedSum(w)];
    };
    try {
      // fresh: forward on b records b's states, consumed by the rule on b
      const fresh = tf.tidy(() => {
        recurrentRule.activate(layer, recurrentRule.linear(layer, eb), maskB);
        return terms(eb);
      });
      // stale: forward on a records a's states; the rule on b must not take them
      const guarded = tf.tidy(() => {
        recurrentRule.activate(layer, recurrentRule.linear(layer, ea), emb.computeMask(xa) as tf.Tensor);
        return terms(eb);
      });
      for (let i = 0; i < fresh.length; i++) expect(relDiff(guarded[i], fresh[i])).toBeLessThanOrEqual(TOL);
      // negative control: a's states filed under b's input (what the guard prevents) change the result
      const stale = tf.tidy(() => {
        const za = recurrentRule.linear(layer, ea);
        recurrentRule.linear(layer, eb); // the latest noted input is b: a's states are recorded against b
        recurrentRule.activate(layer, za, emb.computeMask(xa) as tf.Tensor);
        return terms(eb);
      });
      let worst = 0;
      for (let i = 0; i < fresh.length; i++) worst = Math.max(worst, relDiff(stale[i], fresh[i]));
      expect(worst).toBeGreaterThan(1e-2);
      tf.dispose([...fresh, ...guarded, ...stale]);
    } finally {
      tf.dispose([xa, xb, ea, eb, maskB, g, w]);
      model.dispose();
    }
  });

  it("a smaller batch after a larger one (and back) equals batch-of-one gradients", () => {
    const model = tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: 9, outputDim: 3, maskZero: true, inputLength: 5 }),
        tf.layers.gru({ units: 4, returnSequences: true }),
        tf.layers.simpleRNN({ units: 3, goBackwards: true, returnSequences: true }),
        tf.layers.gru({ units: 3, recurrentActivation: "sigmoid", goBackwards: true }),
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
