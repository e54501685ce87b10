/**
 * Membership inference and canary audits of real tfjs training (small, seeded where the library
 * allows; tfjs weight initialisation is not seeded, so thresholds leave room).
 * Positive control: a non-private model overfit on 200 MNIST images leaks (AUC clearly > 0.5).
 * Negative side: the same model trained with DP-SGD at ε = 1 is near chance.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../../src/backend/index.js";
import { loadMnist } from "../../src/data/mnist.js";
import { makePrivate } from "../../src/dpsgd/index.js";
import { auditTrainingWithCanaries, membershipInference, oneRunCeiling, rocPlot } from "../../src/audit/index.js";
import { SeededRng } from "../../src/random/index.js";

beforeAll(async () => {
  await prepareBackend({ backend: "cpu", announce: false });
});

const train = loadMnist({ split: "train", count: 1400 });
const set = (s: typeof train, from: number, to: number): { x: tf.Tensor; y: number[] } => ({
  x: tf.tensor(s.images.subarray(from * 784, to * 784), [to - from, 784]),
  y: Array.from(s.labels.subarray(from, to)),
});
const tiny = (): tf.Sequential =>
  tf.sequential({
    layers: [tf.layers.dense({ inputShape: [784], units: 32, activation: "tanh" }), tf.layers.dense({ units: 10, activation: "softmax" })],
  });

async function overfit(s: { x: tf.Tensor; y: number[] }): Promise<tf.LayersModel> {
  const m = tiny();
  m.compile({ optimizer: tf.train.adam(3e-3), loss: "sparseCategoricalCrossentropy" });
  await m.fit(s.x, tf.tensor1d(s.y, "float32"), { epochs: 40, batchSize: 50, verbose: 0 });
  return m;
}

describe("membership inference", () => {
  const members = set(train, 0, 200);
  // Non-members from the same distribution (held-out training images), not the test split.
  const nonMembers = set(train, 200, 400);

  it("a non-private model overfit on 200 images leaks: loss, confidence and offline LiRA AUC > 0.6", async () => {
    const model = await overfit(members);
    const shadows = [await overfit(set(train, 400, 600)), await overfit(set(train, 600, 800))];
    const r = membershipInference({ model, members, nonMembers, shadowModels: shadows, bootstrapResamples: 50, rng: new SeededRng(9) });
    expect(r.attacks.map((a) => a.attack)).toEqual(["loss", "confidence", "lira-offline"]);
    for (const a of r.attacks) {
      expect(a.auc).toBeGreaterThan(0.6);
      expect(a.advantage).toBeGreaterThan(0.1);
      expect(a.aucInterval?.lower).toBeLessThanOrEqual(a.auc);
      expect(a.aucInterval?.upper).toBeGreaterThanOrEqual(a.auc);
    }
    expect(r.slices.length).toBe(10);
    for (const s of r.slices) expect(s.members + s.nonMembers).toBeGreaterThan(0);
    expect(rocPlot({ curves: r.attacks.map((a) => ({ name: a.attack, roc: a.roc })) })).toContain("<svg");
  });

  it("the same model trained with DP-SGD at ε = 1 is near chance (|AUC − 0.5| < 0.1)", async () => {
    const model = tiny();
    const priv = makePrivate(model, {
      l2NormClip: 1,
      targetEpsilon: 1,
      targetDelta: 1e-5,
      batchSize: 50,
      optimizer: tf.train.sgd(0.5),
      loss: "sparseCategoricalCrossentropy",
      rng: new SeededRng(4),
      allowInsecureRng: true,
    });
    await priv.fit(members.x, tf.tensor1d(members.y, "float32"), { epochs: 10, verbose: 0 });
    expect(priv.epsilon()).toBeLessThanOrEqual(1);
    const r = membershipInference({ model, members, nonMembers });
    for (const a of r.attacks) expect(Math.abs(a.auc - 0.5)).toBeLessThan(0.1);
  });
});

describe("canary audits of makePrivate training", () => {
  const base = set(train, 0, 1000);

  it("Dirac gradient canaries without noise are found: the one-run bound is large (> 2) and within its ceiling", async () => {
    const r = await auditTrainingWithCanaries({
      kind: "gradient",
      canaries: 200,
      x: base.x,
      y: base.y,
      numClasses: 10,
      createModel: tiny,
      training: {
        l2NormClip: 1,
        noiseMultiplier: 0,
        targetDelta: 1e-5,
        batchSize: 250,
        learningRate: 0.5,
        epochs: 3,
        rng: new SeededRng(1),
      },
      rng: new SeededRng(2),
    });
    expect(r.claimedEpsilon).toBe(Infinity);
    expect(r.metrics.auc).toBeGreaterThan(0.95);
    // A canary never sampled in ~13 steps (q ≈ 0.22: about 4%) scores like an excluded one.
    expect(r.oneRun.epsilonLowerBound).toBeGreaterThan(2);
    expect(r.oneRun.epsilonLowerBound).toBeLessThanOrEqual(r.oneRun.ceiling);
    expect(r.oneRun.ceiling).toBeCloseTo(oneRunCeiling({ canaries: 200, guesses: r.oneRun.guesses, delta: 1e-5, beta: 0.05 / 4 }), 9);
  });

  it("with DP-SGD at ε = 2 the one-run bound stays below the claim", async () => {
    const r = await auditTrainingWithCanaries({
      kind: "gradient",
      canaries: 200,
      x: base.x,
      y: base.y,
      numClasses: 10,
      createModel: tiny,
      training: { l2NormClip: 1, targetEpsilon: 2, targetDelta: 1e-5, batchSize: 250, learningRate: 0.5, epochs: 3, rng: new SeededRng(1) },
      rng: new SeededRng(2),
    });
    expect(r.claimedEpsilon).toBeLessThanOrEqual(2);
    expect(r.oneRun.epsilonLowerBound).toBeLessThanOrEqual(r.claimedEpsilon);
    expect(r.metrics.auc).toBeGreaterThan(0.5);
  });

  it("input-space OOD canaries in a non-private run are scored and bounded", async () => {
    const r = await auditTrainingWithCanaries({
      kind: "ood",
      canaries: 100,
      x: base.x,
      y: base.y,
      numClasses: 10,
      createModel: tiny,
      training: {
        l2NormClip: 1,
        noiseMultiplier: 0,
        targetDelta: 1e-5,
        batchSize: 50,
        learningRate: 0.5,
        epochs: 8,
        rng: new SeededRng(1),
      },
      rng: new SeededRng(2),
    });
    expect(r.scores.length).toBe(100);
    expect(r.included).toBeGreaterThan(30);
    expect(r.metrics.auc).toBeGreaterThan(0.6);
    expect(r.oneRun.epsilonLowerBound).toBeLessThanOrEqual(r.oneRun.ceiling);
  });
});
