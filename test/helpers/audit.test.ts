import { describe, expect, it } from "vitest";
import { SeededRng, bernoulli } from "../../src/random/index.js";
import {
  auditSamplers,
  betaQuantile,
  clopperPearson,
  discreteDeltaExcess,
  empiricalEpsilon,
  logGamma,
  regularizedIncompleteBeta,
  valueEvents,
} from "./audit.js";

describe("audit helper: special functions", () => {
  it("logGamma matches factorials", () => {
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(11)).toBeCloseTo(Math.log(3628800), 10);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
  });

  it("incomplete beta: closed forms", () => {
    // I_x(1, b) = 1 - (1-x)^b ; I_x(a, 1) = x^a
    expect(regularizedIncompleteBeta(0.3, 1, 5)).toBeCloseTo(1 - 0.7 ** 5, 12);
    expect(regularizedIncompleteBeta(0.3, 4, 1)).toBeCloseTo(0.3 ** 4, 12);
    expect(betaQuantile(0.5, 2, 2)).toBeCloseTo(0.5, 10);
  });

  it("Clopper-Pearson matches the textbook 95% interval for 5/10 and large n", () => {
    const { lower, upper } = clopperPearson(5, 10, 0.025);
    expect(lower).toBeCloseTo(0.187086, 5);
    expect(upper).toBeCloseTo(0.812914, 5);
    expect(clopperPearson(0, 10, 0.05).lower).toBe(0);
    expect(clopperPearson(10, 10, 0.05).upper).toBe(1);
    // n = 200,000, k = 100,000: half-width about 5.3 sigma at alpha = 1e-7 one-sided.
    const b = clopperPearson(100000, 200000, 1e-7);
    const sigma = Math.sqrt(0.25 / 200000);
    expect((0.5 - b.lower) / sigma).toBeGreaterThan(5);
    expect((0.5 - b.lower) / sigma).toBeLessThan(5.6);
  });
});

describe("audit helper: empirical epsilon", () => {
  const rr = (eps: number, bit: number, rng: SeededRng) => () => {
    const keep = Math.exp(eps) / (1 + Math.exp(eps));
    return bernoulli(keep, rng) ? bit : 1 - bit;
  };

  it("binary randomized response with epsilon 1 is not flagged at its claim", () => {
    const rng = new SeededRng(1);
    const r = auditSamplers({ sample0: rr(1, 0, rng), sample1: rr(1, 1, rng), events: valueEvents([0, 1]), n: 200_000, delta: 0 });
    expect(r.epsilonLowerBound).toBeLessThanOrEqual(1);
    expect(r.epsilonLowerBound).toBeGreaterThan(0.9); // tight: the audit has power
  });

  it("power check: epsilon 1.2 randomized response is flagged against a claim of 1", () => {
    const rng = new SeededRng(2);
    const r = auditSamplers({ sample0: rr(1.2, 0, rng), sample1: rr(1.2, 1, rng), events: valueEvents([0, 1]), n: 200_000, delta: 0 });
    expect(r.epsilonLowerBound).toBeGreaterThan(1);
  });

  it("delta is subtracted before the ratio, and both directions are checked", () => {
    const r = empiricalEpsilon({ hits0: [1000], hits1: [10], n: 10000, delta: 0.05 });
    expect(r.worst.direction).toBe("x0 over x1");
    const r2 = empiricalEpsilon({ hits0: [10], hits1: [1000], n: 10000, delta: 0 });
    expect(r2.worst.direction).toBe("x1 over x0");
    expect(r2.epsilonLowerBound).toBeGreaterThan(r.epsilonLowerBound);
  });

  it("discrete delta excess is zero for identical histograms and positive otherwise", () => {
    expect(discreteDeltaExcess([0, 1, 1, 2], [2, 1, 1, 0], 0)).toBe(0);
    expect(discreteDeltaExcess([0, 0, 0, 0], [1, 1, 1, 1], 1)).toBe(1);
  });
});
