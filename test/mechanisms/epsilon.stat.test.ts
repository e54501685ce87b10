/**
 * Empirical epsilon (docs/testing.md section 3) with the shared auditor (test/helpers/audit.ts):
 * worst-case neighbours, at most 20 pre-registered events, n = 200,000 outputs per input,
 * Clopper–Pearson bounds at alpha = 1e-6, eps_LB = ln((p0_lo - delta) / p1_hi) in both
 * directions. Each mechanism must satisfy eps_LB <= claimed epsilon, and the power check (the
 * same audit of a variant with half the noise) must exceed the claim.
 */
import { describe, expect, it } from "vitest";
import {
  exponentialMechanism,
  gaussianMechanism,
  geometricMechanism,
  laplaceMechanism,
  privateSum,
  reportNoisyMaxMechanism,
} from "../../src/mechanisms/index.js";
import { secureRng, SeededRng } from "../../src/random/index.js";
import { auditSamplers, discreteDeltaExcess, thresholdEvents, valueEvents } from "../helpers/audit.js";

const N = 200_000;

describe("empirical epsilon of the Laplace mechanism (grid)", () => {
  const epsilon = 1;
  const events = thresholdEvents([-1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3]);
  const audit = (scaleFactor: number, seed: number) => {
    // Half the noise: calibrate for twice the epsilon.
    const rng = new SeededRng(seed);
    const m = laplaceMechanism({ epsilon: epsilon / scaleFactor, sensitivity: 1, rng });
    return auditSamplers({ sample0: () => m.release(0), sample1: () => m.release(1), events, n: N, delta: 0 });
  };
  it("eps_LB <= 1 (fixed seed)", () => {
    const r = audit(1, 1);
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(epsilon);
    expect(r.epsilonLowerBound).toBeGreaterThan(0.7); // the audit is tight enough to mean something
  });
  it("power check: half the noise exceeds the claim", () => {
    expect(audit(0.5, 2).epsilonLowerBound).toBeGreaterThan(epsilon);
  });
  it("eps_LB <= 1 on the secure source", () => {
    const m = laplaceMechanism({ epsilon, sensitivity: 1, rng: secureRng() });
    const r = auditSamplers({ sample0: () => m.release(0), sample1: () => m.release(1), events, n: N, delta: 0 });
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(epsilon);
  });
});

describe("empirical epsilon of the Gaussian mechanism (grid, analytic calibration)", () => {
  const epsilon = 1;
  const delta = 1e-5;
  const events = thresholdEvents([2, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const audit = (noiseFactor: number, seed: number) => {
    const rng = new SeededRng(seed);
    const m = gaussianMechanism({ epsilon, delta, sensitivity: noiseFactor, rng }); // sigma ∝ declared sensitivity; the true one is 1
    return auditSamplers({ sample0: () => m.release(1), sample1: () => m.release(0), events, n: N, delta });
  };
  it("eps_LB <= 1", () => {
    const r = audit(1, 3);
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(epsilon);
    expect(r.epsilonLowerBound).toBeGreaterThan(0.3);
  });
  it("power check: half the noise exceeds the claim", () => {
    expect(audit(0.5, 4).epsilonLowerBound).toBeGreaterThan(epsilon);
  });
});

describe("empirical epsilon of the geometric mechanism (counts)", () => {
  const epsilon = 1;
  const thresholds = [-2, -1, 0, 1, 2, 3];
  const audit = (mechanismEpsilon: number, seed: number) => {
    const m = geometricMechanism({ epsilon: mechanismEpsilon, rng: new SeededRng(seed) });
    const s0 = Float64Array.from({ length: N }, () => m.release(0));
    const s1 = Float64Array.from({ length: N }, () => m.release(1));
    let i0 = 0;
    let i1 = 0;
    const r = auditSamplers({
      sample0: () => s0[i0++],
      sample1: () => s1[i1++],
      events: [...thresholdEvents(thresholds), ...valueEvents([0, 1, 2])],
      n: N,
      delta: 0,
    });
    return { ...r, excess: discreteDeltaExcess(s0, s1, epsilon) };
  };
  it("eps_LB <= 1 and no delta excess beyond sampling noise", () => {
    const r = audit(epsilon, 5);
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(epsilon);
    expect(r.epsilonLowerBound).toBeGreaterThan(0.8);
    expect(r.excess).toBeLessThan(0.01);
  });
  it("power check: half the noise exceeds the claim (and shows a delta excess)", () => {
    const r = audit(2 * epsilon, 6);
    expect(r.epsilonLowerBound).toBeGreaterThan(epsilon);
    expect(r.excess).toBeGreaterThan(0.05);
  });
});

describe("empirical epsilon of the exponential mechanism and report-noisy-max", () => {
  // Worst case: one candidate loses a point while 49 others gain one.
  const k = 50;
  const scores0 = Array.from({ length: k }, (_, i) => (i === 0 ? 1 : 0));
  const scores1 = Array.from({ length: k }, (_, i) => (i === 0 ? 0 : 1));
  const events = valueEvents([0, 1]);
  const epsilon = 1;
  it("exponential mechanism: eps_LB <= 1; power check with half the noise fails", () => {
    const m = exponentialMechanism({ epsilon, sensitivity: 1, rng: new SeededRng(7) });
    const n = 100_000;
    const r = auditSamplers({ sample0: () => m.select(scores0), sample1: () => m.select(scores1), events, n, delta: 0 });
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(epsilon);
    expect(r.epsilonLowerBound).toBeGreaterThan(0.7);
    const half = exponentialMechanism({ epsilon: 2 * epsilon, sensitivity: 1, rng: new SeededRng(8) });
    const h = auditSamplers({ sample0: () => half.select(scores0), sample1: () => half.select(scores1), events, n, delta: 0 });
    expect(h.epsilonLowerBound).toBeGreaterThan(epsilon);
  });
  it("report-noisy-max (permute-and-flip): eps_LB <= 1; power check fails", () => {
    const m = reportNoisyMaxMechanism({ epsilon, sensitivity: 1, rng: new SeededRng(9) });
    const n = 100_000;
    const r = auditSamplers({ sample0: () => m.select(scores0), sample1: () => m.select(scores1), events, n, delta: 0 });
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(epsilon);
    const half = reportNoisyMaxMechanism({ epsilon: 2 * epsilon, sensitivity: 1, rng: new SeededRng(10) });
    const h = auditSamplers({ sample0: () => half.select(scores0), sample1: () => half.select(scores1), events, n, delta: 0 });
    expect(h.epsilonLowerBound).toBeGreaterThan(epsilon);
  });
  it("selection frequencies match the exact probabilities", () => {
    const m = exponentialMechanism({ epsilon: 2, sensitivity: 1, rng: new SeededRng(11) });
    const p = m.probabilities([1, 2, 0]);
    const counts = [0, 0, 0];
    const n = 60_000;
    for (let i = 0; i < n; i++) counts[m.select([1, 2, 0])]++;
    for (let j = 0; j < 3; j++) expect(Math.abs(counts[j] / n - p[j])).toBeLessThan(6 * Math.sqrt((p[j] * (1 - p[j])) / n));
  });
});

describe("empirical epsilon of the bounded sum (add/remove one record at the bound)", () => {
  const epsilon = 1;
  const events = thresholdEvents([-2, 0, 2, 4, 6, 8, 10, 12]);
  const audit = (mechanismEpsilon: number, seed: number) => {
    const rng = new SeededRng(seed);
    const data0 = [1, 2, 3];
    const data1 = [1, 2, 3, 50]; // clamped to 4: the worst-case contribution
    return auditSamplers({
      sample0: () => privateSum({ data: data0, lower: 0, upper: 4, epsilon: mechanismEpsilon, rng }).value,
      sample1: () => privateSum({ data: data1, lower: 0, upper: 4, epsilon: mechanismEpsilon, rng }).value,
      events,
      n: N,
      delta: 0,
    });
  };
  it("eps_LB <= 1", () => {
    const r = audit(epsilon, 12);
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(epsilon);
    expect(r.epsilonLowerBound).toBeGreaterThan(0.7);
  });
  it("power check: half the noise exceeds the claim", () => {
    expect(audit(2 * epsilon, 13).epsilonLowerBound).toBeGreaterThan(epsilon);
  });
});
