/**
 * Distributional tests of randomized response: unbiased estimators, variances matching the
 * formulas, and the empirical-epsilon audit of docs/testing.md section 3 with its power check.
 */
import { describe, expect, it } from "vitest";
import { SeededRng, randomizedResponseEvent, bernoulli, uniformInt, type Rng } from "../../src/index.js";
import { binaryRandomizedResponse, kRandomizedResponse } from "../../src/ldp/index.js";
import { auditSamplers, discreteDeltaExcess, valueEvents } from "../helpers/audit.js";
import { checkUnbiasedAndVariance } from "./estimator-check.js";

describe("k-RR estimator", () => {
  const k = 4;
  const truth = [0.7, 0.2, 0.1, 0];
  const n = 1000;
  const population = new Uint32Array(n);
  {
    let i = 0;
    for (let v = 0; v < k; v++) for (let j = 0; j < Math.round(truth[v] * n); j++) population[i++] = v;
  }

  it("is unbiased and its variance matches the formula (seeded)", () => {
    const rng = new SeededRng(11);
    const rr = kRandomizedResponse({ epsilon: 1, k, rng });
    const res = checkUnbiasedAndVariance({
      repetitions: 400,
      truth,
      run: () => rr.estimateFrequencies(Array.from(population, (v) => rr.randomize(v))).frequencies,
      variance: (f) => rr.frequencyVariance(f, n),
    });
    expect(res.failures).toEqual([]);
  });

  it("negative controls: a naive estimator and a variance without the f term are flagged", () => {
    const rng = new SeededRng(12);
    const rr = kRandomizedResponse({ epsilon: 1, k, rng });
    const naive = checkUnbiasedAndVariance({
      repetitions: 400,
      truth,
      run: () => {
        const counts = new Float64Array(k);
        for (const v of population) counts[rr.randomize(v)]++;
        return counts.map((c) => c / n); // observed share, not de-biased
      },
      variance: (f) => rr.frequencyVariance(f, n),
    });
    expect(naive.failures.some((f) => f.startsWith("bias"))).toBe(true);
    const p = rr.keepProbability;
    const q = rr.otherProbability;
    // Expected ratio 1.51; with 1000 repetitions the check flags ratios beyond 1.22.
    const wrongVariance = checkUnbiasedAndVariance({
      repetitions: 1000,
      truth,
      run: () => rr.estimateFrequencies(Array.from(population, (v) => rr.randomize(v))).frequencies,
      variance: () => (q * (1 - q)) / (n * (p - q) ** 2),
    });
    expect(wrongVariance.failures.some((f) => f.startsWith("variance[0]"))).toBe(true);
  });

  it("binary RR is unbiased on the secure source", () => {
    const rr = binaryRandomizedResponse({ epsilon: 0.5 });
    const answers = Array.from({ length: 2000 }, (_, i) => i < 600);
    const res = checkUnbiasedAndVariance({
      repetitions: 200,
      truth: [0.7, 0.3],
      run: () => rr.estimateFrequencies(answers.map((a) => rr.randomize(a))).frequencies,
      variance: (f) => rr.frequencyVariance(f, 2000),
    });
    expect(res.failures).toEqual([]);
  });
});

/** A deliberately broken k-RR that uses half the claimed noise parameter. */
function halfNoiseRandomize(nu: number, k: number, rng: Rng): (v: number) => number {
  return (v) => (bernoulli(nu / 2, rng) ? uniformInt(k, rng) : v);
}

describe("empirical epsilon (docs/testing.md section 3)", () => {
  const N = 200_000;

  it("binary RR on the secure source stays within its epsilon; half the noise is caught", () => {
    const rr = binaryRandomizedResponse({ epsilon: 1 });
    const events = valueEvents([0, 1]);
    const audit = auditSamplers({
      sample0: () => (rr.randomize(false) ? 1 : 0),
      sample1: () => (rr.randomize(true) ? 1 : 0),
      events,
      n: N,
      delta: 0,
    });
    expect(audit.epsilonLowerBound).toBeLessThanOrEqual(rr.epsilon);
    expect(audit.epsilonLowerBound).toBeGreaterThan(0.9); // tight: the audit sees most of it
    const rng = new SeededRng(21);
    const broken = halfNoiseRandomize(rr.noiseParameter, 2, rng);
    const power = auditSamplers({ sample0: () => broken(0), sample1: () => broken(1), events, n: N, delta: 0 });
    expect(power.epsilonLowerBound).toBeGreaterThan(rr.epsilon);
  });

  it("k-RR (k = 5, epsilon = 1.5) stays within its epsilon; delta excess ~ 0; half the noise is caught", () => {
    const rng = new SeededRng(22);
    const k = 5;
    const rr = kRandomizedResponse({ epsilon: 1.5, k, rng });
    const events = valueEvents([0, 1, 2, 3, 4]);
    const s0 = new Float64Array(N);
    const s1 = new Float64Array(N);
    for (let i = 0; i < N; i++) s0[i] = rr.randomize(0);
    for (let i = 0; i < N; i++) s1[i] = rr.randomize(1);
    let i0 = 0;
    let i1 = 0;
    const audit = auditSamplers({ sample0: () => s0[i0++], sample1: () => s1[i1++], events, n: N, delta: 0 });
    expect(audit.epsilonLowerBound).toBeLessThanOrEqual(rr.epsilon);
    expect(discreteDeltaExcess(s0, s1, rr.epsilon)).toBeLessThan(0.01);
    const broken = halfNoiseRandomize(rr.noiseParameter, k, rng);
    const power = auditSamplers({ sample0: () => broken(0), sample1: () => broken(1), events, n: N, delta: 0 });
    expect(power.epsilonLowerBound).toBeGreaterThan(rr.epsilon);
    // Sanity: the broken variant really is randomized response with nu / 2.
    expect(randomizedResponseEvent(rr.noiseParameter / 2, k).noiseParameter).toBeCloseTo(rr.noiseParameter / 2, 15);
  });
});
