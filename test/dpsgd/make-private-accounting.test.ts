/**
 * makePrivate's `accounting` option (issue 16): one accountant kind governs σ's calibration from
 * `targetEpsilon`, the budget check (how many planned steps fit), every reported ε and the printed
 * line. The default (RDP) is unchanged; PLD gives the exact σ of `calibrateNoiseMultiplier({
 * accountant: "pld" })` (the MNIST run's 1.0704413414001466), a smaller ε for the same σ, and a
 * budget that allows steps RDP refuses.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../../src/backend/index.js";
import { DpError } from "../../src/errors.js";
import { SeededRng } from "../../src/random/index.js";
import {
  PldAccountant,
  RdpAccountant,
  calibrateNoiseMultiplier,
  makeAccountant,
  poissonSampledEvent,
  gaussianEvent,
  stepsForBudget,
  type AccountantKind,
} from "../../src/accounting/index.js";
import { makePrivate } from "../../src/dpsgd/index.js";
import { blobModel as model, blobOptions as base, blobs } from "../helpers/blobs.js";

beforeAll(async () => {
  await prepareBackend({ backend: "cpu", announce: false });
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** ε of `steps` DP-SGD steps (q, σ) by a fresh accountant of `kind`, composed as makePrivate's ledger holds them. */
function epsilonBy(kind: AccountantKind, q: number, sigma: number, steps: number, delta = 1e-5): number {
  return makeAccountant(kind)
    .compose(poissonSampledEvent(q, gaussianEvent(sigma)), steps)
    .getEpsilon(delta);
}

const errorOf = async (f: () => unknown): Promise<string | undefined> => {
  try {
    await f();
  } catch (e) {
    return e instanceof DpError ? `${e.code}:${e.argument}` : String(e);
  }
  return undefined;
};

describe("makePrivate accounting", () => {
  const train = blobs(500, 2); // q = 50 / 500 = 0.1, 10 steps per epoch

  it('the MNIST run: accounting "pld" calibrates exactly the bench\'s sigma 1.0704413414001466, whose PLD epsilon is <= 3 (RDP: 3.28)', async () => {
    const n = 60000;
    const x = tf.zeros([n, 4]);
    const y = tf.zeros([n]);
    const priv = makePrivate(model(), base({ noiseMultiplier: undefined, targetEpsilon: 3, batchSize: 512, accounting: "pld" }));
    // One step of the planned 40 epochs (σ is calibrated for all of them before it), then stop.
    const h = await priv.fit(x, y, { epochs: 40, verbose: 0, callbacks: { onTrainBegin: () => priv.stopTraining() } });
    tf.dispose([x, y]);
    const steps = 40 * Math.ceil(n / 512);
    expect(h.params.steps).toBe(4720);
    expect(h.params.accounting).toBe("pld");
    const benchSigma = calibrateNoiseMultiplier({
      targetEpsilon: 3,
      targetDelta: 1e-5,
      samplingProbability: 512 / n,
      steps,
      accountant: "pld",
    });
    expect(benchSigma).toBe(1.0704413414001466);
    expect(priv.noiseMultiplier).toBe(benchSigma);
    expect(h.params.noiseMultiplier).toBe(benchSigma);
    // After the planned steps: within the budget by PLD, over it by RDP (the RDP-calibrated sigma is 1.1258).
    expect(epsilonBy("pld", 512 / n, benchSigma, steps)).toBeLessThanOrEqual(3);
    expect(epsilonBy("rdp", 512 / n, benchSigma, steps)).toBeGreaterThan(3.2);
    // The one step taken is reported by PLD.
    expect(h.stepsRun).toBe(1);
    expect(h.epsilon).toBe(epsilonBy("pld", 512 / n, benchSigma, 1));
  }, 60_000);

  it("a calibrated PLD run spends its target (tightly) by PLD after the planned steps, and the default still calibrates with RDP", async () => {
    const runs: Record<string, { sigma: number; eps: number; history: number[] }> = {};
    for (const accounting of ["rdp", "pld", undefined] as const) {
      const priv = makePrivate(model(), base({ noiseMultiplier: undefined, targetEpsilon: 2, ...(accounting ? { accounting } : {}) }));
      const h = await priv.fit(train.x, train.y, { epochs: 3, verbose: 0 });
      expect(h.stopReason).toBeUndefined();
      expect(priv.steps).toBe(30);
      runs[String(accounting)] = { sigma: priv.noiseMultiplier as number, eps: h.epsilon, history: h.history.epsilon };
    }
    const sigmaFor = (kind: AccountantKind) =>
      calibrateNoiseMultiplier({ targetEpsilon: 2, targetDelta: 1e-5, samplingProbability: 0.1, steps: 30, accountant: kind });
    expect(runs.pld.sigma).toBe(sigmaFor("pld"));
    expect(runs.rdp.sigma).toBe(sigmaFor("rdp"));
    expect(runs.undefined.sigma).toBe(runs.rdp.sigma); // default unchanged
    expect(runs.undefined.history).toEqual(runs.rdp.history);
    expect(runs.pld.sigma).toBeLessThan(runs.rdp.sigma);
    // Each reports by its own kind, and each spends (nearly) all of the target: a PLD report of an
    // RDP-calibrated σ would be well under it (negative control below).
    expect(runs.pld.eps).toBe(epsilonBy("pld", 0.1, runs.pld.sigma, 30));
    expect(runs.rdp.eps).toBe(epsilonBy("rdp", 0.1, runs.rdp.sigma, 30));
    for (const r of [runs.pld, runs.rdp]) {
      expect(r.eps).toBeLessThanOrEqual(2);
      expect(r.eps).toBeGreaterThan(1.99);
    }
    expect(epsilonBy("pld", 0.1, runs.rdp.sigma, 30)).toBeLessThan(1.9); // control: mixing the kinds is detectable
  });

  it("for the same sigma, PLD reports a smaller epsilon than RDP every epoch; training itself is the same", async () => {
    const user = new RdpAccountant();
    const rdp = makePrivate(model(), base());
    const pld = makePrivate(model(), base({ accounting: "pld", accountant: user }));
    const hr = await rdp.fit(train.x, train.y, { epochs: 3, verbose: 0 });
    const hp = await pld.fit(train.x, train.y, { epochs: 3, verbose: 0 });
    expect(hr.params.accounting).toBe("rdp");
    expect(hp.params.accounting).toBe("pld");
    expect(hp.history.loss).toEqual(hr.history.loss); // same seed, same steps: only the account differs
    for (let e = 0; e < 3; e++) {
      expect(hr.history.epsilon[e]).toBe(epsilonBy("rdp", 0.1, 1, 10 * (e + 1)));
      expect(hp.history.epsilon[e]).toBe(epsilonBy("pld", 0.1, 1, 10 * (e + 1)));
      expect(hp.history.epsilon[e]).toBeLessThan(hr.history.epsilon[e]);
    }
    expect(hp.epsilon).toBe(hp.history.epsilon[2]);
    expect(pld.epsilon()).toBe(hp.epsilon);
    expect(pld.epsilon(1e-3)).toBe(epsilonBy("pld", 0.1, 1, 30, 1e-3));
    expect(rdp.epsilon(1e-3)).toBe(epsilonBy("rdp", 0.1, 1, 30, 1e-3));
    // The user's RDP accountant composed the same events: the RDP bound of the PLD-governed run.
    expect(user.getEpsilon(1e-5)).toBeCloseTo(hr.epsilon, 12); // (composed step by step: the last bit may differ)
  });

  it("the budget is PLD's count: PLD runs steps that RDP refuses, then both refuse", async () => {
    // q = 0.1, σ = 1.2, ε = 3: RDP allows 20 steps, PLD 31.
    const opts = base({ noiseMultiplier: 1.2, targetEpsilon: 3 });
    const kr = stepsForBudget({ targetEpsilon: 3, targetDelta: 1e-5, samplingProbability: 0.1, noiseMultiplier: 1.2 });
    const kp = stepsForBudget({ targetEpsilon: 3, targetDelta: 1e-5, samplingProbability: 0.1, noiseMultiplier: 1.2, accountant: "pld" });
    expect([kr, kp]).toEqual([20, 31]);
    // Within one fit: 3 epochs (30 steps) stop at 20 under RDP and run whole under PLD.
    const oneFit = async (accounting: AccountantKind) => {
      const p = makePrivate(model(), { ...opts, rng: new SeededRng(3), accounting });
      return p.fit(train.x, train.y, { epochs: 3, verbose: 0 });
    };
    const [r3, p3] = [await oneFit("rdp"), await oneFit("pld")];
    expect([r3.stepsRun, r3.stopReason]).toEqual([20, "budget"]);
    expect([p3.stepsRun, p3.stopReason]).toEqual([30, undefined]);
    expect(p3.epsilon).toBeLessThanOrEqual(3);

    // Across fits: after 20 steps RDP refuses a second fit up front; PLD allows it.
    const rdp = makePrivate(model(), { ...opts, rng: new SeededRng(4) });
    const pld = makePrivate(model(), { ...opts, rng: new SeededRng(4), accounting: "pld" });
    await rdp.fit(train.x, train.y, { epochs: 2, verbose: 0 });
    await pld.fit(train.x, train.y, { epochs: 2, verbose: 0 });
    expect(await errorOf(() => rdp.fit(train.x, train.y, { epochs: 1, verbose: 0 }))).toBe("budget_exceeded:targetEpsilon");
    expect(rdp.steps).toBe(20);
    const second = await pld.fit(train.x, train.y, { epochs: 1, verbose: 0 });
    expect([second.stepsRun, second.stopReason]).toEqual([10, undefined]);
    // A third fit would overspend: PLD stops it after its 31st step in all...
    const third = await pld.fit(train.x, train.y, { epochs: 1, verbose: 0 });
    expect([third.stepsRun, third.stopReason, pld.steps]).toEqual([1, "budget", 31]);
    expect(third.epsilon).toBeLessThanOrEqual(3);
    expect(epsilonBy("pld", 0.1, 1.2, 32)).toBeGreaterThan(3);
    // ...and then both refuse, naming the budget (PLD's message names the accounting kind).
    await expect(pld.fit(train.x, train.y, { epochs: 1, verbose: 0 })).rejects.toThrow(/targetEpsilon` 3 .*accounting: "pld"/);
    expect(await errorOf(() => pld.fit(train.x, train.y, { epochs: 1, verbose: 0 }))).toBe("budget_exceeded:targetEpsilon");
    expect(await errorOf(() => rdp.fit(train.x, train.y, { epochs: 1, verbose: 0 }))).toBe("budget_exceeded:targetEpsilon");
    expect(pld.steps).toBe(31);
  });

  it("resumed fits (initialEpoch), fitDataset and adaptive clipping keep the PLD account", async () => {
    const priv = makePrivate(model(), base({ noiseMultiplier: undefined, targetEpsilon: 3, accounting: "pld" }));
    // Planned 4 epochs, interrupted after 2, resumed at epoch 2: σ is the one calibrated for 40 steps.
    const first = await priv.fit(train.x, train.y, {
      epochs: 4,
      verbose: 0,
      callbacks: { onEpochEnd: (e) => void (e === 1 && priv.stopTraining()) },
    });
    expect([first.stepsRun, first.stopReason]).toEqual([20, "callback"]);
    const sigma = priv.noiseMultiplier as number;
    expect(sigma).toBe(
      calibrateNoiseMultiplier({ targetEpsilon: 3, targetDelta: 1e-5, samplingProbability: 0.1, steps: 40, accountant: "pld" }),
    );
    const h = await priv.fit(train.x, train.y, { epochs: 4, initialEpoch: 2, verbose: 0 });
    expect(priv.noiseMultiplier).toBe(sigma);
    expect([h.epoch, h.stepsRun, h.stopReason]).toEqual([[2, 3], 20, undefined]);
    expect(h.epsilon).toBe(epsilonBy("pld", 0.1, sigma, 40));
    expect(h.epsilon).toBeLessThanOrEqual(3);
    expect(h.epsilon).toBeGreaterThan(2.99);
    // One more epoch would overspend: refused by PLD's count.
    expect(await errorOf(() => priv.fit(train.x, train.y, { epochs: 5, initialEpoch: 4, verbose: 0 }))).toBe(
      "budget_exceeded:targetEpsilon",
    );

    const ds = tf.data.zip({ xs: tf.data.array(tf.unstack(train.x)), ys: tf.data.array(tf.unstack(train.y)) }).batch(50);
    const fromDataset = makePrivate(model(), base({ accounting: "pld" }));
    const hd = await fromDataset.fitDataset(ds as tf.data.Dataset<tf.TensorContainer>, { epochs: 2, verbose: 0 });
    expect(hd.params.accounting).toBe("pld");
    expect(hd.epsilon).toBe(epsilonBy("pld", 0.1, 1, 20));

    const adaptive = makePrivate(model(), base({ l2NormClip: 5, adaptiveClipping: true, accounting: "pld" }));
    const ha = await adaptive.fit(train.x, train.y, { epochs: 2, verbose: 0 });
    expect(ha.history.l2NormClip).toHaveLength(2);
    expect(ha.epsilon).toBe(makeAccountant("pld").compose(adaptive.event()).getEpsilon(1e-5));
    expect(ha.epsilon).toBe(epsilonBy("pld", 0.1, 1, 20));
  });

  it("computes each PLD epsilon once per ledger state: one evaluation per epoch, none repeated at the end", async () => {
    const spy = vi.spyOn(PldAccountant.prototype, "getEpsilon");
    const priv = makePrivate(model(), base({ accounting: "pld" }));
    const h = await priv.fit(train.x, train.y, { epochs: 4, verbose: 0 });
    // 1 for the (empty) ledger at the start, then 1 per epoch; the fit's final epsilon is the last epoch's.
    expect(spy).toHaveBeenCalledTimes(5);
    expect(priv.epsilon()).toBe(h.epsilon);
    expect(spy).toHaveBeenCalledTimes(5);
    priv.epsilon(1e-6); // another delta is a new question
    expect(spy).toHaveBeenCalledTimes(6);
    // A second fit starts from the cached value.
    await priv.fit(train.x, train.y, { epochs: 1, verbose: 0 });
    expect(spy).toHaveBeenCalledTimes(7);
    // The default kind never touches the PLD accountant.
    await makePrivate(model(), base()).fit(train.x, train.y, { epochs: 1, verbose: 0 });
    expect(spy).toHaveBeenCalledTimes(7);
  });

  it("prints the kind on the progress line with PLD, and leaves the RDP line as it was", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((s: string) => void lines.push(s));
    await makePrivate(model(), base({ accounting: "pld" })).fit(train.x, train.y, { epochs: 1, verbose: 1 });
    await makePrivate(model(), base()).fit(train.x, train.y, { epochs: 1, verbose: 1 });
    expect(lines[0]).toMatch(/epsilon [\d.]+ \(delta 0\.00001, PLD\)$/);
    expect(lines[1]).toMatch(/epsilon [\d.]+ \(delta 0\.00001\)$/);
    const pldEps = Number(/epsilon ([\d.]+)/.exec(lines[0])![1]);
    expect(pldEps).toBeCloseTo(epsilonBy("pld", 0.1, 1, 10), 3);
  });

  it("refuses a bad kind and a sampling the kind cannot bound, naming `accounting`; non-private runs report infinity", async () => {
    expect(await errorOf(() => makePrivate(model(), base({ accounting: "moments" as AccountantKind })))).toBe(
      "invalid_parameter:accounting",
    );
    // PLD has no bound for sampling without replacement; RDP does (replace-one).
    expect(await errorOf(() => makePrivate(model(), base({ sampling: "uniform", accounting: "pld" })))).toBe(
      "unsupported_event:accounting",
    );
    expect(() => makePrivate(model(), base({ sampling: "uniform", accounting: "pld" }))).toThrow(/accounting: "rdp"/);
    expect(() => makePrivate(model(), base({ sampling: "uniform", accounting: "rdp" }))).not.toThrow();
    // A run too long for the PLD grid (q = 1, σ = 0.5, 100,000 steps: 1.2e8 grid points) is refused
    // before the first step, naming `accounting` (not the accountant's own grid option).
    const long = makePrivate(model(), base({ noiseMultiplier: 0.5, samplingProbability: 1, batchSize: undefined, accounting: "pld" }));
    const longFit = () => long.fit(train.x, train.y, { epochs: 1, stepsPerEpoch: 100_000, verbose: 0 });
    expect(await errorOf(longFit)).toBe("unsupported_event:accounting");
    await expect(longFit()).rejects.toThrow(/100000 steps .*accounting: "rdp"/);
    expect(long.steps).toBe(0);
    const open = makePrivate(model(), base({ noiseMultiplier: 0, allowNonPrivate: true, accounting: "pld" }));
    const h = await open.fit(train.x, train.y, { epochs: 1, verbose: 0 });
    expect(h.epsilon).toBe(Infinity);
  });
});
