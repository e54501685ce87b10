/**
 * makePrivate's `ema` option: the weight average equals a hand-computed EMA of the private
 * iterates, is written into the model at the end of fit (the iterate stays obtainable), costs no
 * privacy (same ledger, same ε, same iterates), momentum 0 gives the weights of a run without it
 * (negative control), and bad options are refused by name.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../../src/backend/index.js";
import { DpError } from "../../src/errors.js";
import { SeededRng } from "../../src/random/index.js";
import { evaluatePrivateModel, makePrivate, type MakePrivateOptions } from "../../src/dpsgd/index.js";
import { blobs } from "../helpers/blobs.js";
import { emaMomentumAt } from "../../src/dpsgd/ema.js";

beforeAll(async () => {
  await prepareBackend({ backend: "cpu", announce: false });
});

/** A tiny model with deterministic initial weights. */
function model(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 3, activation: "tanh", kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }),
      tf.layers.dense({ units: 2, activation: "softmax", kernelInitializer: "zeros" }),
    ],
  });
}

const base = (over: Partial<MakePrivateOptions> = {}): MakePrivateOptions => ({
  l2NormClip: 1,
  noiseMultiplier: 1,
  targetDelta: 1e-5,
  batchSize: 50,
  optimizer: tf.train.momentum(0.5, 0.5),
  loss: "sparseCategoricalCrossentropy",
  rng: new SeededRng(11),
  allowInsecureRng: true,
  ...over,
});

/** Float64 copies of tensors' values. */
const values = (ts: tf.Tensor[]): Float64Array[] => ts.map((t) => Float64Array.from(t.dataSync()));
const trainable = (m: tf.LayersModel): Float64Array[] => values(m.trainableWeights.map((w) => w.read()));
const maxAbsDiff = (a: Float64Array[], b: Float64Array[]): number =>
  Math.max(...a.map((ai, i) => Math.max(...ai.map((v, j) => Math.abs(v - b[i][j])))));
const bitEqual = (a: Float64Array[], b: Float64Array[]): boolean => a.every((ai, i) => ai.every((v, j) => Object.is(v, b[i][j])));

describe("makePrivate ema", () => {
  const train = blobs(400, 2);
  const test = blobs(100, 3);

  for (const warmup of [false, true]) {
    it(`equals a hand-computed EMA of the iterates over two fits (warm-up ${warmup}) and is written into the model at the end`, async () => {
      const m = model();
      const momentum = 0.8;
      const priv = makePrivate(m, base({ ema: { momentum, warmup } }));
      // By hand, in float64, from the iterates the steps produced (read after every step).
      let avg = trainable(m);
      let t = 0;
      const onBatchEnd = (): void => {
        const w = trainable(m);
        const mu = warmup ? Math.min(momentum, (1 + t) / (10 + t)) : t === 0 ? 0 : momentum;
        avg = avg.map((a, i) => a.map((v, j) => mu * v + (1 - mu) * w[i][j]));
        t++;
      };
      let lastIterate: Float64Array[] = [];
      const h1 = await priv.fit(train.x, train.y, { epochs: 2, verbose: 0, callbacks: { onBatchEnd } });
      expect(h1.ema).toEqual({ momentum, warmup, updates: priv.steps, swappedIn: true });
      expect(t).toBe(priv.steps);
      // The model now holds the average; the iterate is kept apart.
      expect(maxAbsDiff(trainable(m), avg)).toBeLessThan(1e-6);
      const ema1 = priv.emaWeights()!;
      expect(maxAbsDiff(values(ema1), avg)).toBeLessThan(1e-6);
      tf.dispose(ema1);
      const it1 = priv.iterateWeights();
      const iterate1 = values(it1);
      tf.dispose(it1);
      // Negative control: the average is not the last iterate (else the checks above could not fail).
      expect(maxAbsDiff(iterate1, avg)).toBeGreaterThan(1e-3);
      // A second fit resumes from the iterate and continues the same average.
      const resumed: Float64Array[][] = [];
      await priv.fit(train.x, train.y, {
        epochs: 1,
        verbose: 0,
        callbacks: {
          onTrainBegin: () => void resumed.push(trainable(m)),
          onBatchEnd: () => {
            onBatchEnd();
            lastIterate = trainable(m);
          },
        },
      });
      expect(bitEqual(resumed[0], iterate1)).toBe(true);
      expect(t).toBe(priv.steps);
      expect(maxAbsDiff(trainable(m), avg)).toBeLessThan(1e-6);
      const it2 = priv.iterateWeights();
      expect(bitEqual(values(it2), lastIterate)).toBe(true);
      tf.dispose(it2);
    });
  }

  it("a second fit starts from the last private iterate, not from the average", async () => {
    const m = model();
    const priv = makePrivate(m, base({ ema: { momentum: 0.9 } }));
    await priv.fit(train.x, train.y, { epochs: 1, verbose: 0 });
    const iterate = values(priv.iterateWeights());
    let atStart: Float64Array[] = [];
    await priv.fit(train.x, train.y, { epochs: 1, verbose: 0, callbacks: { onTrainBegin: () => void (atStart = trainable(m)) } });
    expect(bitEqual(atStart, iterate)).toBe(true);
  });

  it("costs no privacy: the same ledger, ε and iterates as the same seeded run without it", async () => {
    const plain = makePrivate(model(), base({ rng: new SeededRng(5), targetEpsilon: 2, noiseMultiplier: undefined }));
    const withEma = makePrivate(
      model(),
      base({ rng: new SeededRng(5), targetEpsilon: 2, noiseMultiplier: undefined, ema: { momentum: 0.9 } }),
    );
    const h0 = await plain.fit(train.x, train.y, { epochs: 2, verbose: 0 });
    const h1 = await withEma.fit(train.x, train.y, { epochs: 2, verbose: 0 });
    expect(withEma.noiseMultiplier).toBe(plain.noiseMultiplier);
    expect(h1.epsilon).toBe(h0.epsilon);
    expect(h1.history.epsilon).toEqual(h0.history.epsilon);
    expect(withEma.steps).toBe(plain.steps);
    expect(JSON.stringify(withEma.event())).toBe(JSON.stringify(plain.event()));
    expect(withEma.epsilon(1e-6)).toBe(plain.epsilon(1e-6));
    // The EMA draws no randomness and leaves the training trajectory alone: identical iterates.
    expect(bitEqual(values(withEma.iterateWeights()), trainable(plain.model))).toBe(true);
    // ... while the model itself holds something else (the average).
    expect(maxAbsDiff(trainable(withEma.model), trainable(plain.model))).toBeGreaterThan(1e-4);
    expect(h0.ema).toBeUndefined();
    expect(plain.emaWeights()).toBeUndefined();
  });

  it("negative control: momentum 0 gives exactly the weights of the run without ema", async () => {
    const plain = makePrivate(model(), base({ rng: new SeededRng(9) }));
    const zero = makePrivate(model(), base({ rng: new SeededRng(9), ema: { momentum: 0 } }));
    await plain.fit(train.x, train.y, { epochs: 2, verbose: 0 });
    await zero.fit(train.x, train.y, { epochs: 2, verbose: 0 });
    expect(bitEqual(trainable(zero.model), trainable(plain.model))).toBe(true);
    expect(bitEqual(values(zero.emaWeights()!), trainable(plain.model))).toBe(true);
  });

  it("logs the average's validation accuracy every epoch; the last equals the returned model's", async () => {
    const m = model();
    const priv = makePrivate(m, base({ ema: { momentum: 0.7 } }));
    const h = await priv.fit(train.x, train.y, { epochs: 2, verbose: 0, validationData: [test.x, test.y] });
    expect(h.history.val_ema_acc).toHaveLength(2);
    expect(h.history.val_ema_loss).toHaveLength(2);
    // Computed independently, on the model fit returned (holding the average) and on a copy holding the iterate.
    const onModel = evaluatePrivateModel({ model: m, x: test.x, y: test.y, loss: "sparseCategoricalCrossentropy" });
    expect(h.history.val_ema_loss[1]).toBeCloseTo(onModel.loss, 10);
    expect(h.history.val_ema_acc[1]).toBeCloseTo(onModel.accuracy!, 10);
    const it = priv.iterateWeights();
    const probe = model();
    probe.trainableWeights.forEach((w, i) => w.write(it[i]));
    const onIterate = evaluatePrivateModel({ model: probe, x: test.x, y: test.y, loss: "sparseCategoricalCrossentropy" });
    expect(h.history.val_loss[1]).toBeCloseTo(onIterate.loss, 10);
    expect(h.history.val_acc[1]).toBeCloseTo(onIterate.accuracy!, 10);
    // Negative control: the two losses differ, so the checks above tell the weights apart.
    expect(Math.abs(onModel.loss - onIterate.loss)).toBeGreaterThan(1e-4);
  });

  it("leaks no tensors: a second fit with validation and ema leaves the tensor count unchanged", async () => {
    const priv = makePrivate(model(), base({ ema: { momentum: 0.9 } }));
    await priv.fit(train.x, train.y, { epochs: 1, verbose: 0, validationData: [test.x, test.y] });
    const before = tf.memory().numTensors;
    await priv.fit(train.x, train.y, { epochs: 2, verbose: 0, validationData: [test.x, test.y] });
    tf.dispose(priv.iterateWeights());
    tf.dispose(priv.emaWeights()!);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("the warm-up follows min(momentum, (1 + t) / (10 + t)); without it the first update copies", () => {
    expect(emaMomentumAt({ momentum: 0.999, warmup: true }, 0)).toBeCloseTo(0.1, 15);
    expect(emaMomentumAt({ momentum: 0.999, warmup: true }, 4719)).toBeCloseTo(4720 / 4729, 15);
    expect(emaMomentumAt({ momentum: 0.999, warmup: true }, 9000)).toBe(0.999);
    expect(emaMomentumAt({ momentum: 0.999, warmup: false }, 0)).toBe(0);
    expect(emaMomentumAt({ momentum: 0.999, warmup: false }, 1)).toBe(0.999);
  });

  it("refuses a bad ema option with a DpError naming the argument", () => {
    const reason = (ema: unknown): string => {
      try {
        makePrivate(model(), base({ ema: ema as MakePrivateOptions["ema"] }));
        return "accepted";
      } catch (e) {
        return e instanceof DpError ? `${e.code}:${e.argument}` : String(e);
      }
    };
    for (const m of [-0.1, 1, 1.5, NaN, Infinity, "0.9", undefined]) expect(reason({ momentum: m })).toBe("invalid_parameter:ema.momentum");
    expect(reason(0.999)).toBe("invalid_parameter:ema");
    expect(reason(null)).toBe("invalid_parameter:ema");
    expect(reason({ momentum: 0.9, warmup: "yes" })).toBe("invalid_parameter:ema.warmup");
    expect(reason({ momentum: 0 })).toBe("accepted");
    expect(reason({ momentum: 0.999, warmup: true })).toBe("accepted");
    expect(() => makePrivate(model(), base({ ema: { momentum: 1 } }))).toThrow(/`ema.momentum` must be a number in \[0, 1\)\. Found 1\./);
  });
});
