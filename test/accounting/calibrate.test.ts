import { describe, expect, it } from "vitest";
import {
  SeededRng,
  calibrateNoiseMultiplier,
  computeDpSgdEpsilon,
  computeEpsilon,
  gaussianEvent,
  selfComposedEvent,
  stepsForBudget,
  uniform01,
} from "../../src/index.js";
import { sections } from "./reference.js";

const eps = (q: number, s: number, t: number, accountant: "rdp" | "pld" = "rdp"): number =>
  computeDpSgdEpsilon({
    samplingProbability: q,
    noiseMultiplier: s,
    steps: t,
    targetDelta: 1e-5,
    accountant,
    valueDiscretizationInterval: 1e-3,
  });

describe("calibrateNoiseMultiplier", () => {
  it("matches dp_accounting's calibration (RDP) to its tolerance", () => {
    for (const c of (sections.a_rdp_calibration as any[]).filter((x) =>
      x.accountant.startsWith("dp_accounting.calibrate_dp_mechanism(RdpAccountant"),
    )) {
      const { target_epsilon: e, delta, sampling_rate_q: q, steps } = c.inputs;
      const s = calibrateNoiseMultiplier({ targetEpsilon: e, targetDelta: delta, samplingProbability: q, steps });
      expect(Math.abs(s - c.output.noise_multiplier) / c.output.noise_multiplier, c.id).toBeLessThan(2e-6);
      expect(eps(q, s, steps)).toBeLessThanOrEqual(e);
    }
  });

  it("never overspends, and is within tolerance of the smallest multiplier, on random targets", () => {
    const rng = new SeededRng(20261128);
    for (let i = 0; i < 12; i++) {
      const target = 0.3 + 7 * uniform01(rng);
      const q = 10 ** (-3 + 2 * uniform01(rng));
      const steps = Math.ceil(10 ** (1 + 3 * uniform01(rng)));
      const s = calibrateNoiseMultiplier({ targetEpsilon: target, targetDelta: 1e-5, samplingProbability: q, steps, tolerance: 1e-6 });
      expect(eps(q, s, steps)).toBeLessThanOrEqual(target);
      expect(eps(q, s * (1 - 2e-6), steps)).toBeGreaterThan(target);
    }
  });

  it("negative control: returning the lower end of the bracket would overspend, and the property catches it", () => {
    const q = 256 / 60000;
    const steps = 14063;
    const s = calibrateNoiseMultiplier({ targetEpsilon: 3, targetDelta: 1e-5, samplingProbability: q, steps, tolerance: 1e-4 });
    const careless = s * (1 - 1e-4); // what a calibrator that does not re-check might return
    expect(eps(q, careless, steps)).toBeGreaterThan(3);
  });

  it("PLD calibration needs less noise than RDP for the same budget, and never overspends", () => {
    const q = 0.01;
    const steps = 300;
    const sr = calibrateNoiseMultiplier({ targetEpsilon: 2, targetDelta: 1e-5, samplingProbability: q, steps });
    const sp = calibrateNoiseMultiplier({
      targetEpsilon: 2,
      targetDelta: 1e-5,
      samplingProbability: q,
      steps,
      accountant: "pld",
      tolerance: 1e-2,
      valueDiscretizationInterval: 1e-3,
    });
    expect(sp).toBeLessThan(sr);
    expect(eps(q, sp, steps, "pld")).toBeLessThanOrEqual(2);
  });

  it("rejects bad input naming the argument", () => {
    const base = { targetEpsilon: 1, targetDelta: 1e-5, samplingProbability: 0.01, steps: 100 };
    for (const [k, v] of [
      ["targetEpsilon", 0],
      ["targetEpsilon", NaN],
      ["targetDelta", 0],
      ["targetDelta", 1],
      ["samplingProbability", 1.5],
      ["samplingProbability", -0.1],
      ["samplingProbability", 0],
      ["steps", 1.5],
      ["steps", 0],
      ["accountant", "moments"],
      ["tolerance", -1],
    ] as const) {
      expect(() => calibrateNoiseMultiplier({ ...base, [k]: v } as never), `${k}=${v}`).toThrowError(
        expect.objectContaining({ argument: k }),
      );
    }
  });
});

describe("stepsForBudget and the one-call helpers", () => {
  it("returns the largest step count within budget", () => {
    const q = 256 / 60000;
    const t = stepsForBudget({ targetEpsilon: 2.6, targetDelta: 1e-5, samplingProbability: q, noiseMultiplier: 1.1 });
    expect(eps(q, 1.1, t)).toBeLessThanOrEqual(2.6);
    expect(eps(q, 1.1, t + 1)).toBeGreaterThan(2.6);
    expect(t).toBeGreaterThan(14063); // 2.597 at 14,063 steps
    expect(stepsForBudget({ targetEpsilon: 0.01, targetDelta: 1e-5, samplingProbability: 1, noiseMultiplier: 1 })).toBe(0);
    expect(stepsForBudget({ targetEpsilon: 10, targetDelta: 1e-5, samplingProbability: 0, noiseMultiplier: 1, maxSteps: 1000 })).toBe(1000);
  });

  it("computeDpSgdEpsilon and computeEpsilon validate and agree", () => {
    expect(eps(256 / 60000, 1.1, 14063)).toBeCloseTo(2.596655529521983, 6);
    const a = computeEpsilon({ event: selfComposedEvent(gaussianEvent(3), 4), targetDelta: 1e-5 });
    const b = computeEpsilon({ event: gaussianEvent(1.5), targetDelta: 1e-5 });
    expect(a).toBeCloseTo(b, 10);
    const bad = { samplingProbability: 0.01, noiseMultiplier: 1, steps: 10, targetDelta: 1e-5 };
    for (const [k, v] of [
      ["samplingProbability", 2],
      ["noiseMultiplier", 0],
      ["noiseMultiplier", NaN],
      ["steps", 2.5],
      ["steps", -1],
      ["targetDelta", 0],
      ["accountant", "x"],
    ] as const) {
      expect(() => computeDpSgdEpsilon({ ...bad, [k]: v } as never), `${k}`).toThrowError(expect.objectContaining({ argument: k }));
    }
  });
});

describe("samplingProbabilityForBudget", () => {
  it("returns the largest rate within budget (never overspends)", async () => {
    const { samplingProbabilityForBudget } = await import("../../src/index.js");
    const q = samplingProbabilityForBudget({ targetEpsilon: 3, targetDelta: 1e-5, noiseMultiplier: 1.1, steps: 14063 });
    expect(eps(q, 1.1, 14063)).toBeLessThanOrEqual(3);
    expect(eps(q * (1 + 2e-6), 1.1, 14063)).toBeGreaterThan(3);
    expect(q).toBeGreaterThan(256 / 60000); // 2.597 < 3 at 256/60000
    expect(samplingProbabilityForBudget({ targetEpsilon: 100, targetDelta: 1e-5, noiseMultiplier: 5, steps: 10 })).toBe(1);
    expect(() => samplingProbabilityForBudget({ targetEpsilon: 1, targetDelta: 1e-5, noiseMultiplier: -1, steps: 10 })).toThrowError(
      expect.objectContaining({ argument: "noiseMultiplier" }),
    );
  });
});
