/**
 * Refusals before any work (unsupported layers, BatchNormalization, no trainable weights, bad
 * parameters), non-finite examples, empty batches, tensor hygiene, and the per-example losses.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { DpError } from "../../../src/errors.js";
import {
  checkModelSupported,
  clippedGradients,
  perExampleLoss,
  registerLayerRule,
  supportedLayerClasses,
} from "../../../src/dpsgd/engine/index.js";
import { randomizeWeights } from "./cases.js";
import { compareWithReference, referencePerExample } from "./reference.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

function mlp(): tf.Sequential {
  const m = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [4], units: 5, activation: "relu" }), tf.layers.dense({ units: 3, activation: "softmax" })],
  });
  randomizeWeights(m);
  return m;
}

function expectDpError(f: () => unknown, code: string, pattern: RegExp): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DpError);
  expect((caught as DpError).code).toBe(code);
  expect((caught as DpError).message).toMatch(pattern);
}

describe("refusals happen before any work", () => {
  const x = tf.ones([2, 4]);
  const y = tf.tensor1d([0, 1]);

  it("BatchNormalization is refused in every strategy, suggesting LayerNormalization", () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 3 }),
        tf.layers.batchNormalization({ name: "bn_here" }),
        tf.layers.dense({ units: 2, activation: "softmax" }),
      ],
    });
    for (const strategy of ["auto", "ghost", "materialize", "naive"] as const) {
      const before = tf.memory().numTensors;
      expectDpError(
        () => clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1, strategy }),
        "unsupported_layer",
        /"bn_here" \(BatchNormalization\).*LayerNormalization/,
      );
      expect(tf.memory().numTensors).toBe(before);
    }
    expectDpError(() => checkModelSupported(model), "unsupported_layer", /GroupNorm/);
  });

  it("a layer without a rule is named; strategy naive accepts it", () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [3, 4], units: 2 }),
        tf.layers.prelu({ name: "my_prelu" }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, activation: "softmax" }),
      ],
    });
    const xs = tf.ones([2, 3, 4]);
    const before = tf.memory().numTensors;
    expectDpError(
      () => clippedGradients({ model, x: xs, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1 }),
      "unsupported_layer",
      /"my_prelu" \(PReLU\).*naive/,
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(() => checkModelSupported(model, { strategy: "naive" })).not.toThrow();
    const r = clippedGradients({ model, x: xs, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1, strategy: "naive" });
    expect(r.norms.length).toBe(2);
    tf.dispose(r.clippedSum);
  });

  it("a frozen layer without a rule but with unknown behaviour is still refused; a frozen Dense is fine", () => {
    const model = mlp();
    model.layers[0].trainable = false;
    const r = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1 });
    expect(Object.keys(r.clippedSum)).toEqual(model.trainableWeights.map((w) => (w.read() as tf.Variable).name));
    tf.dispose(r.clippedSum);
  });

  it("a layer with some weights frozen is refused in the fast strategies (its norm would count them)", () => {
    const model = mlp();
    (model.layers[0].weights[1] as unknown as { trainable: boolean }).trainable = false;
    expectDpError(() => checkModelSupported(model), "unsupported_layer", /trainable and frozen/);
    const r = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1, strategy: "naive" });
    expect(Object.keys(r.clippedSum).length).toBe(3);
    tf.dispose(r.clippedSum);
  });

  it("a model with no trainable weights is refused", () => {
    const model = mlp();
    for (const l of model.layers) l.trainable = false;
    expectDpError(
      () => clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1 }),
      "invalid_parameter",
      /trainable weights/,
    );
    expectDpError(() => checkModelSupported(model), "invalid_parameter", /trainable weights/);
  });

  it("a functional graph with branches and merges (residual Add, Concatenate) runs in the fast strategies", () => {
    const input = tf.input({ shape: [4] });
    const h = tf.layers.dense({ units: 5, activation: "tanh" }).apply(input) as tf.SymbolicTensor;
    const branch = tf.layers.dense({ units: 5, activation: "relu" }).apply(h) as tf.SymbolicTensor;
    const residual = tf.layers.add().apply([h, branch]) as tf.SymbolicTensor;
    const side = tf.layers.dense({ units: 2, useBias: false }).apply(input) as tf.SymbolicTensor;
    const merged = tf.layers.concatenate().apply([residual, side]) as tf.SymbolicTensor;
    const norm = tf.layers.layerNormalization().apply(merged) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, activation: "softmax" }).apply(norm) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    randomizeWeights(model);
    const xs = tf.randomNormal([5, 4], 0, 1, "float32", 12);
    {
      // no tensors left behind in graph mode either
      const warm = clippedGradients({
        model,
        x: xs,
        y: tf.tensor1d([0, 1, 2, 1, 0]),
        loss: "sparseCategoricalCrossentropy",
        l2NormClip: 1,
      });
      tf.dispose(warm.clippedSum);
      const before = tf.memory().numTensors;
      const again = clippedGradients({
        model,
        x: xs,
        y: tf.tensor1d([0, 1, 2, 1, 0]),
        loss: "sparseCategoricalCrossentropy",
        l2NormClip: 1,
      });
      tf.dispose(again.clippedSum);
      expect(tf.memory().numTensors).toBe(before + 1); // the label tensor created in this block
    }
    const ys = tf.tensor1d([0, 1, 2, 1, 0]);
    const ref = referencePerExample(model, xs, ys, "sparseCategoricalCrossentropy");
    const clip = [...ref.norms].sort((a, b) => a - b)[2];
    for (const strategy of ["auto", "ghost", "materialize"] as const) {
      const r = clippedGradients({ model, x: xs, y: ys, loss: "sparseCategoricalCrossentropy", l2NormClip: clip, strategy });
      const cmp = compareWithReference(r, ref, clip);
      tf.dispose(r.clippedSum);
      expect(cmp.keysMatch).toBe(true);
      expect(cmp.normError, strategy).toBeLessThan(1e-5);
      expect(cmp.sumError, strategy).toBeLessThan(1e-5);
    }
  });

  it("a shared layer (used twice) is refused in the fast strategies; naive accepts it", () => {
    const input = tf.input({ shape: [4] });
    const shared = tf.layers.dense({ units: 4, activation: "tanh" });
    const twice = shared.apply(shared.apply(input)) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2, activation: "softmax" }).apply(twice) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    expectDpError(() => checkModelSupported(model), "unsupported_layer", /shared layers/);
    const r = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1, strategy: "naive" });
    expect(Object.keys(r.clippedSum).length).toBe(4);
    tf.dispose(r.clippedSum);
  });

  it("a chain-shaped functional model runs in the fast strategy", () => {
    const input = tf.input({ shape: [4] });
    const h = tf.layers.dense({ units: 3, activation: "tanh" }).apply(input) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2, activation: "softmax" }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    randomizeWeights(model);
    const ref = referencePerExample(model, x, y, "sparseCategoricalCrossentropy");
    const r = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 0.1 });
    const cmp = compareWithReference(r, ref, 0.1);
    tf.dispose(r.clippedSum);
    expect(cmp.normError).toBeLessThan(1e-5);
    expect(cmp.sumError).toBeLessThan(1e-5);
  });

  it("a Sequential nested in a Sequential is expanded and runs in the fast strategy", () => {
    const inner = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: "tanh" }), tf.layers.dense({ units: 3, activation: "relu" })],
    });
    const model = tf.sequential({ layers: [inner, tf.layers.dense({ units: 2, activation: "softmax" })] });
    randomizeWeights(model);
    const ref = referencePerExample(model, x, y, "sparseCategoricalCrossentropy");
    const r = clippedGradients({
      model,
      x: tf.randomNormal([2, 4], 0, 1, "float32", 1),
      y,
      loss: "sparseCategoricalCrossentropy",
      l2NormClip: 0.1,
    });
    expect(Object.keys(r.clippedSum).length).toBe(6);
    tf.dispose(r.clippedSum);
    const r2 = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 0.1 });
    const cmp = compareWithReference(r2, ref, 0.1);
    tf.dispose(r2.clippedSum);
    expect(cmp.normError).toBeLessThan(1e-5);
    expect(cmp.sumError).toBeLessThan(1e-5);
  });

  it("bad parameters name the argument", () => {
    const model = mlp();
    expectDpError(
      () => clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 0 }),
      "invalid_parameter",
      /`l2NormClip` must be > 0/,
    );
    expectDpError(
      () => clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: NaN }),
      "non_finite",
      /`l2NormClip`/,
    );
    expectDpError(
      () => clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: -1 }),
      "invalid_parameter",
      /`l2NormClip`/,
    );
    expectDpError(
      () => clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1, strategy: "fast" as never }),
      "invalid_parameter",
      /`strategy`/,
    );
    expectDpError(
      () => clippedGradients({ model, x, y: tf.tensor1d([0, 1, 2]), loss: "sparseCategoricalCrossentropy", l2NormClip: 1 }),
      "invalid_parameter",
      /same number of examples/,
    );
    expectDpError(() => clippedGradients({ model, x, y, loss: "hinge" as never, l2NormClip: 1 }), "invalid_parameter", /`loss`/);
    expectDpError(
      () => clippedGradients({ model, x, y, loss: (_t, p) => tf.sum(p) as unknown as tf.Tensor1D, l2NormClip: 1 }),
      "invalid_parameter",
      /one loss per example/,
    );
    expectDpError(() => registerLayerRule({ classNames: ["BatchNormalization"] } as never), "invalid_parameter", /BatchNormalization/);
  });

  it("refuses stateful recurrent layers in every strategy, and returnState / dropout inside a recurrent layer in the fast ones", () => {
    const stateful = tf.sequential({
      layers: [tf.layers.lstm({ units: 2, stateful: true, batchInputShape: [2, 3, 4], name: "s_lstm" }), tf.layers.dense({ units: 2 })],
    });
    const bidi = tf.sequential({
      layers: [
        tf.layers.bidirectional({
          layer: tf.layers.gru({ units: 2, stateful: true, batchInputShape: [2, 3, 4] }) as tf.RNN,
          batchInputShape: [2, 3, 4],
          name: "s_bi",
        }),
        tf.layers.dense({ units: 2 }),
      ],
    });
    for (const strategy of ["auto", "ghost", "materialize", "naive"] as const) {
      expectDpError(() => checkModelSupported(stateful, { strategy }), "unsupported_layer", /"s_lstm" \(LSTM\) is stateful/);
      expectDpError(() => checkModelSupported(bidi, { strategy }), "unsupported_layer", /stateful/);
    }
    const drop = tf.sequential({
      layers: [tf.layers.gru({ inputShape: [3, 4], units: 2, recurrentDropout: 0.2, name: "d_gru" }), tf.layers.dense({ units: 2 })],
    });
    expectDpError(() => checkModelSupported(drop), "unsupported_layer", /"d_gru" \(GRU\) uses dropout 0 \/ recurrentDropout 0.2/);
    expect(() => checkModelSupported(drop, { strategy: "naive" })).not.toThrow();
    const input = tf.input({ shape: [3, 4] });
    const [seq] = tf.layers.simpleRNN({ units: 2, returnState: true, name: "rs" }).apply(input) as tf.SymbolicTensor[];
    const rs = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 1 }).apply(seq) as tf.SymbolicTensor });
    expect(() => checkModelSupported(rs)).toThrow(DpError);
  });

  it("lists the supported layers", () => {
    const s = supportedLayerClasses();
    expect(s.withWeights).toEqual([
      "Bidirectional",
      "Conv1D",
      "Conv2D",
      "Dense",
      "DepthwiseConv2D",
      "Embedding",
      "GRU",
      "LSTM",
      "LayerNormalization",
      "RNN",
      "SimpleRNN",
      "TimeDistributed",
    ]);
    expect(s.stateless).toContain("Dropout");
  });
});

describe("non-finite examples, empty batches, tensors", () => {
  it("a non-finite example is zeroed (norm Infinity) and the others are unaffected", () => {
    const model = mlp();
    const good = tf.randomNormal([3, 4], 0, 1, "float32", 5);
    const bad = tf.tensor2d([
      [NaN, 1, 2, 3],
      [Infinity, 0, 0, 1],
    ]);
    const x = tf.concat([tf.slice(good, [0], [2]), bad, tf.slice(good, [2], [1])]);
    const y = tf.tensor1d([0, 1, 2, 0, 2]);
    const yGood = tf.tensor1d([0, 1, 2]);
    for (const strategy of ["auto", "ghost", "materialize", "naive"] as const) {
      const r = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 0.3, strategy });
      expect(Array.from(r.norms.slice(2, 4))).toEqual([Infinity, Infinity]);
      const ref = referencePerExample(model, good, yGood, "sparseCategoricalCrossentropy");
      const rGood = { ...r, norms: Float32Array.from([r.norms[0], r.norms[1], r.norms[4]]) };
      const cmp = compareWithReference(rGood, ref, 0.3);
      for (const t of Object.values(r.clippedSum)) expect(Array.from(t.dataSync()).every(Number.isFinite)).toBe(true);
      expect(cmp.sumError, strategy).toBeLessThan(1e-5);
      expect(cmp.normError, strategy).toBeLessThan(1e-5);
      tf.dispose(r.clippedSum);
    }
    // negative control: the same comparison flags a sum that includes a non-finite example
    const withBad = clippedGradients({ model, x: good, y: yGood, loss: "sparseCategoricalCrossentropy", l2NormClip: 0.3 });
    const nanSum = {
      ...withBad,
      clippedSum: { ...withBad.clippedSum, [Object.keys(withBad.clippedSum)[0]]: tf.fill(Object.values(withBad.clippedSum)[0].shape, NaN) },
    };
    const ref = referencePerExample(model, good, yGood, "sparseCategoricalCrossentropy");
    expect(compareWithReference(nanSum, ref, 0.3).sumError).toBe(Infinity);
    tf.dispose(withBad.clippedSum);
  });

  it("an empty batch gives zero gradients of the right shapes", () => {
    const model = mlp();
    const r = clippedGradients({ model, x: tf.zeros([0, 4]), y: tf.zeros([0]), loss: "sparseCategoricalCrossentropy", l2NormClip: 1 });
    expect(r.batchSize).toBe(0);
    expect(r.norms.length).toBe(0);
    expect(r.lossValue).toBe(0);
    for (const w of model.trainableWeights) {
      const t = r.clippedSum[(w.read() as tf.Variable).name];
      expect(t.shape).toEqual(w.shape);
      expect(Array.from(t.dataSync()).every((v) => v === 0)).toBe(true);
    }
    tf.dispose(r.clippedSum);
  });

  it("leaves no tensors behind (fast and naive), beyond the returned sums", () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, activation: "relu" }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, activation: "softmax" }),
      ],
    });
    const x = tf.randomNormal([4, 6, 6, 1], 0, 1, "float32", 9);
    const y = tf.tensor1d([0, 1, 2, 1]);
    clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1 }); // warm caches
    for (const strategy of ["auto", "ghost", "materialize", "naive"] as const) {
      const before = tf.memory().numTensors;
      const r = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1, strategy });
      expect(tf.memory().numTensors - before).toBe(model.trainableWeights.length);
      tf.dispose(r.clippedSum);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it("reports the mean per-example loss and uses training mode (Dropout) by default", () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 8 }),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.dense({ units: 3, activation: "softmax" }),
      ],
    });
    model.compile({ loss: "sparseCategoricalCrossentropy", optimizer: "sgd" });
    const x = tf.randomNormal([6, 4], 0, 1, "float32", 2);
    const y = tf.tensor1d([0, 1, 2, 0, 1, 2]);
    const evalLoss = (model.evaluate(x, y) as tf.Scalar).dataSync()[0];
    const r = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1, training: false });
    expect(r.lossValue).toBeCloseTo(evalLoss, 5);
    tf.dispose(r.clippedSum);
    // with Dropout active, two calls differ
    const a = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1 });
    const b = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1 });
    expect(Array.from(a.norms)).not.toEqual(Array.from(b.norms));
    tf.dispose([a.clippedSum, b.clippedSum]);
  });
});

describe("per-example losses match tfjs's own (unreduced metrics)", () => {
  const p = tf.softmax(tf.randomNormal([5, 4], 0, 1, "float32", 4));
  const labels = tf.tensor1d([0, 3, 2, 1, 1]);
  const oneHot = tf.oneHot(tf.cast(labels, "int32"), 4);
  const probs = tf.sigmoid(tf.randomNormal([5, 4], 0, 1, "float32", 6));
  const bits = tf.tensor2d(
    Array.from({ length: 20 }, (_, i) => i % 2),
    [5, 4],
  );
  const cases: [string, tf.Tensor, tf.Tensor, tf.Tensor][] = [
    ["sparseCategoricalCrossentropy", labels, p, tf.metrics.categoricalCrossentropy(oneHot, p)],
    ["categoricalCrossentropy", oneHot, p, tf.metrics.categoricalCrossentropy(oneHot, p)],
    ["meanSquaredError", oneHot, p, tf.metrics.meanSquaredError(oneHot, p)],
    ["binaryCrossentropy", bits, probs, tf.metrics.binaryCrossentropy(bits, probs)],
  ];
  it.each(cases)("%s", (name, yTrue, yPred, expected) => {
    const got = perExampleLoss(name as never, yTrue, yPred);
    expect(got.shape).toEqual([5]);
    const g = got.dataSync();
    const e = expected.dataSync();
    for (let i = 0; i < 5; i++) expect(Math.abs(g[i] - e[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(e[i])));
  });
  it("averages over extra axes (sequence outputs)", () => {
    const seq = tf.softmax(tf.randomNormal([2, 3, 4], 0, 1, "float32", 8));
    const ids = tf.tensor2d([0, 1, 2, 3, 0, 1], [2, 3]);
    const got = perExampleLoss("sparseCategoricalCrossentropy", ids, seq).dataSync();
    const per = tf.reshape(
      tf.metrics.categoricalCrossentropy(tf.oneHot(tf.cast(tf.reshape(ids, [6]), "int32"), 4), tf.reshape(seq, [6, 4])),
      [2, 3],
    );
    const want = tf.mean(per, 1).dataSync();
    expect(Math.abs(got[0] - want[0])).toBeLessThan(1e-6);
    expect(Math.abs(got[1] - want[1])).toBeLessThan(1e-6);
  });
});
