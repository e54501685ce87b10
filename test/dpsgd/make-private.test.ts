/**
 * makePrivate: fit mirrors model.fit (epochs, callbacks, validation, history), reports epsilon
 * after every epoch, calibrates noise from a target epsilon, stops (or refuses) at the budget,
 * and refuses bad input with DpErrors.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../../src/backend/index.js";
import { DpError } from "../../src/errors.js";
import { RdpAccountant, computeDpSgdEpsilon } from "../../src/accounting/index.js";
import { makePrivate } from "../../src/dpsgd/index.js";
import { blobModel as model, blobOptions as base, blobs } from "../helpers/blobs.js";

beforeAll(async () => {
  await prepareBackend({ backend: "cpu", announce: false });
});

describe("makePrivate", () => {
  const train = blobs(500, 2);
  const test = blobs(200, 3);

  it("trains, reports epsilon after every epoch in logs and history, and calls callbacks", async () => {
    const accountant = new RdpAccountant();
    const priv = makePrivate(model(), base({ accountant }));
    const seen: string[] = [];
    const epochLogs: number[] = [];
    const h = await priv.fit(train.x, train.y, {
      epochs: 3,
      verbose: 0,
      validationData: [test.x, test.y],
      callbacks: {
        onTrainBegin: () => void seen.push("trainBegin"),
        onEpochBegin: (e) => void seen.push(`epochBegin${e}`),
        onBatchEnd: () => void seen.push("batch"),
        onEpochEnd: (_e, logs) => void epochLogs.push(logs!.epsilon),
        onTrainEnd: () => void seen.push("trainEnd"),
      },
    });
    expect(h.epoch).toEqual([0, 1, 2]);
    expect(h.history.epsilon).toEqual(epochLogs);
    expect(h.history.epsilon[0]).toBeGreaterThan(0);
    expect(h.history.epsilon[2]).toBeGreaterThan(h.history.epsilon[1]);
    // Same as the accountant's one-call answer for the steps taken (10 per epoch).
    expect(h.epsilon).toBeCloseTo(computeDpSgdEpsilon({ samplingProbability: 0.1, noiseMultiplier: 1, steps: 30, targetDelta: 1e-5 }), 6);
    expect(priv.steps).toBe(30);
    expect(accountant.getEpsilon(1e-5)).toBeCloseTo(h.epsilon, 9); // every step composed into the user's accountant
    expect(h.history.val_acc[2]).toBeGreaterThan(0.8);
    expect(h.history.loss.length).toBe(3);
    expect(seen.filter((s) => s === "batch").length).toBe(30);
    expect(seen[0]).toBe("trainBegin");
    expect(seen[seen.length - 1]).toBe("trainEnd");
    expect(priv.event()).toEqual({
      kind: "selfComposed",
      count: 30,
      event: { kind: "poissonSampled", samplingProbability: 0.1, event: { kind: "gaussian", noiseMultiplier: 1 } },
    });
  });

  it("calibrates the noise from targetEpsilon so the planned run spends at most it", async () => {
    const priv = makePrivate(model(), base({ noiseMultiplier: undefined, targetEpsilon: 2 }));
    const h = await priv.fit(train.x, train.y, { epochs: 2, verbose: 0 });
    expect(priv.noiseMultiplier).toBeGreaterThan(0);
    expect(h.epsilon).toBeLessThanOrEqual(2);
    expect(h.epsilon).toBeGreaterThan(1.9);
    expect(h.stopReason).toBeUndefined();
  });

  it("stops before a step would exceed targetEpsilon, and then refuses further training", async () => {
    const priv = makePrivate(model(), base({ noiseMultiplier: 1.5, targetEpsilon: 3 }));
    const h = await priv.fit(train.x, train.y, { epochs: 50, verbose: 0 });
    expect(h.stopReason).toBe("budget");
    expect(h.epsilon).toBeLessThanOrEqual(3);
    expect(h.stepsRun).toBeGreaterThan(1);
    expect(h.stepsRun).toBeLessThan(500);
    // One more step would have gone over.
    expect(
      computeDpSgdEpsilon({ samplingProbability: 0.1, noiseMultiplier: 1.5, steps: h.stepsRun + 1, targetDelta: 1e-5 }),
    ).toBeGreaterThan(3);
    await expect(priv.fit(train.x, train.y, { epochs: 1, verbose: 0 })).rejects.toThrow(/targetEpsilon/);
  });

  it("refuses noiseMultiplier 0 unless allowNonPrivate is given, and a seeded rng unless allowInsecureRng is (issue 12, defects 8 and 10)", () => {
    expect(() => makePrivate(model(), base({ noiseMultiplier: 0 }))).toThrow(/`noiseMultiplier` must be > 0: 0 adds no noise/);
    expect(() => makePrivate(model(), base({ noiseMultiplier: 0, allowNonPrivate: true }))).not.toThrow();
    expect(() => makePrivate(model(), base({ allowInsecureRng: false }))).toThrow(/allowInsecureRng: true/);
    expect(() => makePrivate(model(), base({ rng: undefined, allowInsecureRng: false }))).not.toThrow(); // the secure default
  });

  it("refuses up front when not even one step fits in targetEpsilon", async () => {
    // One step at q = 0.1, sigma = 1 costs epsilon 2.13 at delta 1e-5.
    const priv = makePrivate(model(), base({ noiseMultiplier: 1, targetEpsilon: 1.5 }));
    await expect(priv.fit(train.x, train.y, { epochs: 1, verbose: 0 })).rejects.toMatchObject({ code: "budget_exceeded" });
    expect(priv.steps).toBe(0);
  });

  it("supports adaptive clipping: the clip bound moves and is logged", async () => {
    const priv = makePrivate(model(), base({ l2NormClip: 5, adaptiveClipping: { targetQuantile: 0.5, learningRate: 0.5 } }));
    const h = await priv.fit(train.x, train.y, { epochs: 3, verbose: 0 });
    expect(h.history.l2NormClip.length).toBe(3);
    expect(priv.l2NormClip).toBeLessThan(5);
  });

  it("stops when a callback asks (earlyStopping-style stopTraining flag)", async () => {
    const priv = makePrivate(model(), base());
    let m: { stopTraining: boolean } | undefined;
    const h = await priv.fit(train.x, train.y, {
      epochs: 5,
      verbose: 0,
      callbacks: { setModel: (x: { stopTraining: boolean }) => void (m = x), onEpochEnd: () => void (m!.stopTraining = true) } as never,
    });
    expect(h.epoch).toEqual([0]);
    expect(h.stopReason).toBe("callback");
  });

  it("uniform fixed-size sampling is accounted with sampling without replacement (replace-one)", async () => {
    const priv = makePrivate(model(), base({ sampling: "uniform" }));
    const h = await priv.fit(train.x, train.y, { epochs: 1, verbose: 0 });
    expect(priv.event()).toMatchObject({
      kind: "selfComposed",
      event: { kind: "sampledWithoutReplacement", sampleSize: 50, sourceDatasetSize: 500 },
    });
    expect(h.epsilon).toBeGreaterThan(0);
    expect(Number.isFinite(h.epsilon)).toBe(true);
  });

  it("refuses bad input with clear DpErrors", async () => {
    const code = async (f: () => unknown): Promise<string | undefined> => {
      try {
        await f();
      } catch (e) {
        return e instanceof DpError ? `${e.code}:${e.argument}` : String(e);
      }
      return undefined;
    };
    expect(await code(() => makePrivate(model(), base({ noiseMultiplier: -1 })))).toBe("invalid_parameter:noiseMultiplier");
    expect(await code(() => makePrivate(model(), base({ l2NormClip: 0 })))).toBe("invalid_parameter:l2NormClip");
    expect(await code(() => makePrivate(model(), base({ l2NormClip: -1 })))).toBe("invalid_parameter:l2NormClip");
    expect(await code(() => makePrivate(model(), base({ noiseMultiplier: undefined })))).toBe("invalid_parameter:noiseMultiplier");
    expect(await code(() => makePrivate(model(), base({ optimizer: {} as tf.Optimizer })))).toBe("invalid_parameter:optimizer");
    expect(await code(() => makePrivate(model(), base({ targetDelta: 0 })))).toBe("invalid_parameter:targetDelta");
    expect(await code(() => makePrivate(model(), base({ batchSize: 501 })).fit(train.x, train.y, { verbose: 0 }))).toBe(
      "invalid_parameter:batchSize",
    );
    const bn = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 3 }),
        tf.layers.batchNormalization(),
        tf.layers.dense({ units: 2, activation: "softmax" }),
      ],
    });
    expect(await code(() => makePrivate(bn, base()))).toMatch(/^unsupported_layer/);
    const frozen = model();
    frozen.layers[0].trainable = false;
    expect(await code(() => makePrivate(frozen, base()))).toBe("invalid_parameter:model");
  });
});
