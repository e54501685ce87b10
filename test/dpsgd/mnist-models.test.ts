/**
 * mnistModel: the three MNIST architectures build with the documented sizes, and each trains
 * privately through makePrivate (every layer has a per-example rule: no `unsupported_layer`).
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../../src/backend/index.js";
import { DpError } from "../../src/errors.js";
import { loadMnist } from "../../src/data/index.js";
import { makePrivate, MNIST_MODEL_KINDS, mnistInputShape, mnistModel } from "../../src/dpsgd/index.js";

beforeAll(async () => {
  await prepareBackend({ backend: "cpu", announce: false });
});

describe("mnistModel", () => {
  it("builds each kind with its documented parameter count and shape", () => {
    const params = { mlp: 101770, cnn: 7946, papernot: 26010 };
    for (const kind of MNIST_MODEL_KINDS) {
      const m = mnistModel(kind);
      expect(m.countParams()).toBe(params[kind]);
      expect(m.inputs[0].shape.slice(1)).toEqual(mnistInputShape(kind));
      expect(m.outputs[0].shape).toEqual([null, 10]);
    }
    // Papernot et al.'s CNN reaches the dense layers with a 4×4×32 map, as in the papers' PyTorch code
    const papernot = mnistModel("papernot");
    expect(papernot.layers[4].outputShape).toEqual([null, 512]);
    expect(() => mnistModel("resnet" as never)).toThrow(DpError);
  });

  it("trains every kind privately for a few steps", async () => {
    const d = loadMnist({ split: "train", count: 64 });
    for (const kind of MNIST_MODEL_KINDS) {
      const model = mnistModel(kind);
      const before = model.getWeights().map((w) => w.dataSync().slice());
      const priv = makePrivate(model, {
        l2NormClip: 0.1,
        noiseMultiplier: 1,
        targetDelta: 1e-5,
        batchSize: 16,
        optimizer: tf.train.momentum(0.5, 0.9),
        loss: "sparseCategoricalCrossentropy",
      });
      const x = tf.tensor(d.images, [d.count, ...mnistInputShape(kind)]);
      const y = tf.tensor1d(d.labels, "float32");
      const h = await priv.fit(x, y, { epochs: 1, verbose: 0 });
      expect(priv.steps).toBe(4);
      expect(Number.isFinite(h.history.loss[0])).toBe(true);
      const after = model.getWeights().map((w) => w.dataSync());
      for (let i = 0; i < after.length; i++) expect(after[i].some((v, j) => v !== before[i][j])).toBe(true);
      tf.dispose([x, y]);
    }
  }, 120_000);
});
