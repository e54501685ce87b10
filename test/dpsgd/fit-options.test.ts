/**
 * makePrivate(...).fit honours model.fit's options or refuses them by name, reuses the compiled
 * optimizer, loss and metrics, refuses a probability loss on a logits output (and the reverse),
 * and fitDataset accounts exactly the sampling it does on a tf.data dataset. Recurrent text
 * classifiers train through makePrivate(model, opts).fit with no other change.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../../src/backend/index.js";
import { DpError } from "../../src/errors.js";
import { SeededRng } from "../../src/random/index.js";
import { computeDpSgdEpsilon } from "../../src/accounting/index.js";
import { dpGradients, makePrivate, perExampleLoss, type MakePrivateOptions } from "../../src/dpsgd/index.js";

beforeAll(async () => {
  await prepareBackend({ backend: "cpu", announce: false });
});

function blobs(n: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const r = new SeededRng(seed);
  const u = () => r.nextUint32() / 2 ** 32;
  const xs = new Float32Array(n * 4);
  const ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    ys[i] = i % 2;
    for (let j = 0; j < 4; j++) xs[i * 4 + j] = (ys[i] ? 1 : -1) + 2 * (u() + u() + u() - 1.5);
  }
  return { x: tf.tensor2d(xs, [n, 4]), y: tf.tensor1d(ys) };
}

function softmaxModel(seed = 1, activation: "softmax" | "linear" = "softmax"): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 8, activation: "tanh", kernelInitializer: tf.initializers.glorotNormal({ seed }) }),
      tf.layers.dense({ units: 2, activation, kernelInitializer: tf.initializers.glorotNormal({ seed: seed + 1 }) }),
    ],
  });
}

const dp = (over: Partial<MakePrivateOptions> = {}): MakePrivateOptions => ({
  l2NormClip: 1,
  noiseMultiplier: 1,
  targetDelta: 1e-5,
  batchSize: 50,
  rng: new SeededRng(7),
  allowInsecureRng: true,
  ...over,
});

async function codeOf(f: () => unknown): Promise<string | undefined> {
  try {
    await f();
  } catch (e) {
    return e instanceof DpError ? `${e.code}:${e.argument}` : String(e);
  }
  return undefined;
}

describe("fit reuses what model.compile set", () => {
  const data = blobs(300, 2);

  it("trains with the compiled optimizer and loss and reports the compiled accuracy like tfjs (acc, val_acc)", async () => {
    const model = softmaxModel(3);
    const optimizer = tf.train.sgd(0);
    model.compile({ optimizer, loss: "sparseCategoricalCrossentropy", metrics: ["accuracy"] });
    // q = 1, no noise, learning rate 0: every batch is the whole set and the model never changes,
    // so the training accuracy must equal tfjs's own evaluate() on the same data.
    const priv = makePrivate(model, dp({ batchSize: undefined, samplingProbability: 1, noiseMultiplier: 0, allowNonPrivate: true }));
    const h = await priv.fit(data.x, data.y, { epochs: 2, verbose: 0, validationData: [data.x, data.y] });
    const [, accT] = model.evaluate(data.x, data.y) as tf.Scalar[];
    const tfAcc = accT.dataSync()[0];
    expect(h.params.metrics).toEqual(["loss", "acc"]);
    expect(h.history.acc.length).toBe(2);
    expect(h.history.acc[0]).toBeCloseTo(tfAcc, 6);
    expect(h.history.val_acc[0]).toBeCloseTo(tfAcc, 6);
    expect(optimizer.iterations).toBe(2);
    // and with a learning rate the compiled optimizer moves the weights
    const model2 = softmaxModel(4);
    model2.compile({ optimizer: tf.train.sgd(0.5), loss: "sparseCategoricalCrossentropy", metrics: ["acc", "ce"] });
    const h2 = await makePrivate(model2, dp()).fit(data.x, data.y, { epochs: 3, verbose: 0 });
    expect(Object.keys(h2.history).sort()).toEqual(["acc", "ce", "epsilon", "loss"]);
    expect(h2.history.acc[2]).toBeGreaterThan(0.8);
  });

  it("refuses an uncompiled model without optimizer or loss, and a compiled loss without a per-example form", async () => {
    expect(await codeOf(() => makePrivate(softmaxModel(), dp({ loss: "sparseCategoricalCrossentropy" })))).toBe(
      "invalid_parameter:optimizer",
    );
    expect(await codeOf(() => makePrivate(softmaxModel(), dp({ optimizer: tf.train.sgd(0.1) })))).toBe("invalid_parameter:loss");
    const m = softmaxModel();
    m.compile({ optimizer: "sgd", loss: "hinge" });
    expect(await codeOf(() => makePrivate(m, dp()))).toBe("invalid_parameter:loss");
    const m2 = softmaxModel();
    m2.compile({ optimizer: "sgd", loss: "sparseCategoricalCrossentropy", metrics: ["precision"] });
    expect(await codeOf(() => makePrivate(m2, dp()))).toBe("invalid_parameter:metrics");
  });
});

describe("fit options: honoured or refused by name", () => {
  const data = blobs(500, 5);
  const opts = () => dp({ optimizer: tf.train.sgd(0.3), loss: "sparseCategoricalCrossentropy" });

  it("refuses sampleWeight, validationSteps, shuffle: false and unknown options by name", async () => {
    const priv = makePrivate(softmaxModel(), opts());
    expect(await codeOf(() => priv.fit(data.x, data.y, { sampleWeight: tf.ones([500]) } as never))).toBe("invalid_parameter:sampleWeight");
    expect(await codeOf(() => priv.fit(data.x, data.y, { validationSteps: 2 } as never))).toBe("invalid_parameter:validationSteps");
    expect(await codeOf(() => priv.fit(data.x, data.y, { shuffle: false }))).toBe("invalid_parameter:shuffle");
    expect(await codeOf(() => priv.fit(data.x, data.y, { epochz: 2 } as never))).toBe("invalid_parameter:epochz");
    expect(await codeOf(() => priv.fit(data.x, data.y, { yieldEvery: "sometimes" } as never))).toBe("invalid_parameter:yieldEvery");
    expect(priv.steps).toBe(0);
  });

  it("validationSplit holds out the last fraction; the accountant uses the training part's size", async () => {
    const priv = makePrivate(softmaxModel(), opts());
    const h = await priv.fit(data.x, data.y, { epochs: 1, verbose: 0, validationSplit: 0.2, shuffle: true, yieldEvery: "batch" });
    expect(h.params.datasetSize).toBe(400);
    expect(h.params.samplingProbability).toBeCloseTo(50 / 400, 12);
    expect(h.stepsRun).toBe(8);
    expect(h.history.val_loss.length).toBe(1);
    expect(h.epsilon).toBeCloseTo(
      computeDpSgdEpsilon({ samplingProbability: 50 / 400, noiseMultiplier: 1, steps: 8, targetDelta: 1e-5 }),
      6,
    );
    // negative control: accounting over all 500 examples would be a different (smaller) epsilon
    expect(
      Math.abs(h.epsilon - computeDpSgdEpsilon({ samplingProbability: 50 / 500, noiseMultiplier: 1, steps: 8, targetDelta: 1e-5 })),
    ).toBeGreaterThan(0.01);
    expect(await codeOf(() => priv.fit(data.x, data.y, { validationSplit: 1 }))).toBe("invalid_parameter:validationSplit");
  });

  it("initialEpoch and stepsPerEpoch", async () => {
    const priv = makePrivate(softmaxModel(), opts());
    const h = await priv.fit(data.x, data.y, { epochs: 3, initialEpoch: 1, stepsPerEpoch: 4, verbose: 0 });
    expect(h.epoch).toEqual([1, 2]);
    expect(h.stepsRun).toBe(8);
    expect(priv.steps).toBe(8);
    expect(await codeOf(() => priv.fit(data.x, data.y, { epochs: 1, initialEpoch: 2 }))).toBe("invalid_parameter:initialEpoch");
  });

  it("classWeight weights each example's loss by its class (the reported loss is the weighted mean)", async () => {
    const model = softmaxModel(9);
    const priv = makePrivate(
      model,
      dp({
        optimizer: tf.train.sgd(0),
        loss: "sparseCategoricalCrossentropy",
        batchSize: undefined,
        samplingProbability: 1,
        noiseMultiplier: 0,
        allowNonPrivate: true,
      }),
    );
    const h = await priv.fit(data.x, data.y, { epochs: 1, verbose: 0, classWeight: { 0: 0, 1: 3 } });
    const per = perExampleLoss("sparseCategoricalCrossentropy", data.y, model.predict(data.x) as tf.Tensor).dataSync();
    const labels = data.y.dataSync();
    let expected = 0;
    for (let i = 0; i < per.length; i++) expected += per[i] * (labels[i] === 1 ? 3 : 0);
    expected /= per.length;
    expect(h.history.loss[0]).toBeCloseTo(expected, 5);
    // negative control: the unweighted mean differs
    const mean = Array.from(per).reduce((a, b) => a + b, 0) / per.length;
    expect(Math.abs(h.history.loss[0] - mean)).toBeGreaterThan(1e-3);
    expect(await codeOf(() => priv.fit(data.x, data.y, { classWeight: { 0: -1 } }))).toBe("invalid_parameter:classWeight");
  });
});

describe("fromLogits", () => {
  it("the logits form equals the probability form on the softmax / sigmoid of the logits", () => {
    const logits = tf.randomNormal([6, 4], 0, 2, "float32", 3);
    const labels = tf.tensor1d([0, 3, 1, 2, 2, 0]);
    const a = perExampleLoss({ name: "sparseCategoricalCrossentropy", fromLogits: true }, labels, logits).dataSync();
    const b = perExampleLoss("sparseCategoricalCrossentropy", labels, tf.softmax(logits)).dataSync();
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 5));
    const oneHot = tf.oneHot(tf.cast(labels, "int32"), 4);
    const c = perExampleLoss({ name: "categoricalCrossentropy", fromLogits: true }, oneHot, logits).dataSync();
    c.forEach((v, i) => expect(v).toBeCloseTo(b[i], 5));
    const t = tf.tensor2d([
      [1, 0, 1, 0],
      [0, 0, 1, 1],
      [1, 1, 1, 0],
      [0, 1, 0, 1],
      [1, 0, 0, 0],
      [0, 1, 1, 1],
    ]);
    const d = perExampleLoss({ name: "binaryCrossentropy", fromLogits: true }, t, logits).dataSync();
    const e = perExampleLoss("binaryCrossentropy", t, tf.sigmoid(logits)).dataSync();
    d.forEach((v, i) => expect(v).toBeCloseTo(e[i], 4));
  });

  it("a probability loss on a linear output is refused (makePrivate and dpGradients), and fromLogits on a softmax output too", async () => {
    const x = tf.ones([4, 4]);
    const y = tf.tensor1d([0, 1, 0, 1]);
    const logitsModel = softmaxModel(1, "linear");
    const base = { optimizer: tf.train.sgd(0.1) };
    expect(() => makePrivate(logitsModel, dp({ ...base, loss: "sparseCategoricalCrossentropy" }))).toThrow(/logits.*fromLogits: true/);
    expect(
      await codeOf(() =>
        dpGradients({
          model: logitsModel,
          loss: "categoricalCrossentropy",
          x,
          y: tf.oneHot(tf.cast(y, "int32"), 2),
          l2NormClip: 1,
          noiseMultiplier: 1,
          expectedBatchSize: 4,
        }),
      ),
    ).toBe("invalid_parameter:loss");
    expect(() => makePrivate(softmaxModel(), dp({ ...base, loss: { name: "sparseCategoricalCrossentropy", fromLogits: true } }))).toThrow(
      /already applies softmax/,
    );
    const priv = makePrivate(logitsModel, dp({ ...base, loss: { name: "sparseCategoricalCrossentropy", fromLogits: true } }));
    const data = blobs(200, 11);
    const h = await priv.fit(data.x, data.y, { epochs: 3, verbose: 0, validationData: [data.x, data.y] });
    expect(h.history.val_acc[2]).toBeGreaterThan(0.8);
  });
});

/** Token sequences: label 1 iff token 1 occurs; zeros are padding (masked). */
function textData(n: number, steps: number, vocab: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const r = new SeededRng(seed);
  const xs = new Float32Array(n * steps);
  const ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const len = 2 + (r.nextUint32() % (steps - 1));
    const positive = i % 2 === 1;
    for (let t = 0; t < len; t++) xs[i * steps + t] = 2 + (r.nextUint32() % (vocab - 2));
    if (positive) xs[i * steps + (r.nextUint32() % len)] = 1;
    ys[i] = positive ? 1 : 0;
  }
  return { x: tf.tensor2d(xs, [n, steps]), y: tf.tensor1d(ys) };
}

describe("recurrent text classifiers through makePrivate(model, opts).fit", () => {
  it.each(["lstm", "gru", "simpleRNN"] as const)(
    "%s with a masked embedding, compiled as in the tfjs tutorials",
    async (kind) => {
      const data = textData(400, 8, 12, 21);
      const init = (seed: number) => tf.initializers.glorotUniform({ seed });
      const model = tf.sequential({
        layers: [
          tf.layers.embedding({
            inputDim: 12,
            outputDim: 8,
            maskZero: true,
            inputLength: 8,
            embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: 1 }),
          }),
          (tf.layers[kind] as (a: object) => tf.layers.Layer)({ units: 8, kernelInitializer: init(2), recurrentInitializer: init(3) }),
          tf.layers.dense({ units: 2, activation: "softmax", kernelInitializer: init(4) }),
        ],
      });
      model.compile({ optimizer: tf.train.adam(0.02), loss: "sparseCategoricalCrossentropy", metrics: ["accuracy"] });
      const priv = makePrivate(model, {
        l2NormClip: 1,
        noiseMultiplier: 0.5,
        targetDelta: 1e-5,
        batchSize: 40,
        rng: new SeededRng(5),
        allowInsecureRng: true,
      });
      const h = await priv.fit(data.x, data.y, { epochs: 8, verbose: 0, validationSplit: 0.25 });
      expect(h.history.acc.length).toBe(8);
      expect(h.history.val_acc[7]).toBeGreaterThan(0.75);
      expect(h.epsilon).toBeGreaterThan(0);
    },
    120_000,
  );

  it("a stateful LSTM is refused before training with a clear DpError", () => {
    const model = tf.sequential({
      layers: [
        tf.layers.lstm({ units: 2, stateful: true, batchInputShape: [4, 3, 2] }),
        tf.layers.dense({ units: 2, activation: "softmax" }),
      ],
    });
    expect(() => makePrivate(model, dp({ optimizer: tf.train.sgd(0.1), loss: "sparseCategoricalCrossentropy" }))).toThrow(
      /stateful: its state is carried/,
    );
    expect(() =>
      makePrivate(model, dp({ optimizer: tf.train.sgd(0.1), loss: "sparseCategoricalCrossentropy", strategy: "naive" })),
    ).toThrow(DpError);
  });
});

function dataset(n: number, seed: number, batch: number): { ds: tf.data.Dataset<tf.TensorContainer>; x: tf.Tensor2D; y: tf.Tensor1D } {
  const { x, y } = blobs(n, seed);
  const xs = x.arraySync();
  const ys = y.arraySync();
  const ds = tf.data.array(xs.map((row, i) => ({ xs: tf.tensor1d(row), ys: tf.scalar(ys[i]) }))).batch(batch);
  return { ds, x, y };
}

describe("fitDataset", () => {
  const opts = (over: Partial<MakePrivateOptions> = {}) =>
    dp({ optimizer: tf.train.sgd(0.3), loss: "sparseCategoricalCrossentropy", ...over });

  it("Poisson sampling over the materialised dataset, accounted as poissonSampled(q = B / N) per step", async () => {
    const { ds, x, y } = dataset(500, 31, 32);
    const priv = makePrivate(softmaxModel(), opts());
    const h = await priv.fitDataset(ds, { epochs: 2, datasetSize: 500, verbose: 0, validationData: [x, y] });
    expect(h.params.datasetSize).toBe(500);
    expect(h.stepsRun).toBe(20);
    expect(priv.event()).toEqual({
      kind: "selfComposed",
      count: 20,
      event: { kind: "poissonSampled", samplingProbability: 0.1, event: { kind: "gaussian", noiseMultiplier: 1 } },
    });
    expect(h.epsilon).toBeCloseTo(computeDpSgdEpsilon({ samplingProbability: 0.1, noiseMultiplier: 1, steps: 20, targetDelta: 1e-5 }), 6);
    expect(h.history.val_acc[1]).toBeGreaterThan(0.8);
  });

  it("counts the dataset once when no size is given; the dataset's batch size is the default expected batch size", async () => {
    const { ds } = dataset(300, 32, 30);
    const priv = makePrivate(softmaxModel(), opts({ batchSize: undefined }));
    const h = await priv.fitDataset(ds, { epochs: 1, verbose: 0, validationData: dataset(100, 33, 50).ds });
    expect(h.params.datasetSize).toBe(300);
    expect(h.params.samplingProbability).toBeCloseTo(0.1, 12);
    expect(h.stepsRun).toBe(10);
    expect(h.history.val_loss.length).toBe(1);
  });

  it("uniform sampling is accounted as sampling without replacement of the dataset's size", async () => {
    const { ds } = dataset(200, 34, 25);
    const priv = makePrivate(softmaxModel(), opts({ sampling: "uniform", batchSize: 20 }));
    await priv.fitDataset(ds, { epochs: 1, verbose: 0, batchesPerEpoch: 3 });
    expect(priv.event()).toMatchObject({
      kind: "selfComposed",
      count: 3,
      event: { kind: "sampledWithoutReplacement", sampleSize: 20, sourceDatasetSize: 200 },
    });
  });

  it("refuses a wrong datasetSize (both ways) and options it does not honour, before any step", async () => {
    const priv = makePrivate(softmaxModel(), opts());
    expect(await codeOf(() => priv.fitDataset(dataset(200, 35, 50).ds, { datasetSize: 150 }))).toBe("invalid_parameter:datasetSize");
    expect(await codeOf(() => priv.fitDataset(dataset(200, 36, 50).ds, { datasetSize: 250 }))).toBe("invalid_parameter:datasetSize");
    expect(await codeOf(() => priv.fitDataset(dataset(200, 37, 50).ds, { validationBatches: 2 } as never))).toBe(
      "invalid_parameter:validationBatches",
    );
    expect(await codeOf(() => priv.fitDataset(tf.data.array([1, 2, 3]) as never))).toBe("invalid_parameter:dataset");
    expect(priv.steps).toBe(0);
  });
});
