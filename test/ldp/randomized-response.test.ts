import { describe, expect, it } from "vitest";
import { DpError, SeededRng, randomizedResponseEvent } from "../../src/index.js";
import {
  binaryRandomizedResponse,
  kRandomizedResponse,
  randomizedResponseEpsilon,
  randomizedResponseNoiseParameter,
  pureProtocolFrequencyVariance,
} from "../../src/ldp/index.js";

describe("randomized response parameters", () => {
  it("states the accountant's epsilon ln(1 + k(1-nu)/nu), never above the request", () => {
    for (const k of [2, 3, 10, 1000]) {
      for (const eps of [0.01, 0.1, 0.5, 1, Math.log(3), 2, 5, 10, 30]) {
        const rr = kRandomizedResponse({ epsilon: eps, k });
        const nu = rr.event.noiseParameter;
        expect(rr.event).toEqual({ kind: "randomizedResponse", noiseParameter: nu, numBuckets: k });
        // The accountant's view, from its definition: P[true] / P[other].
        const ratio = (1 - nu + nu / k) / (nu / k);
        expect(rr.epsilon).toBeCloseTo(Math.log(ratio), 10);
        expect(rr.epsilon).toBe(randomizedResponseEpsilon(nu, k));
        expect(rr.epsilon).toBeLessThanOrEqual(eps);
        expect(eps - rr.epsilon).toBeLessThan(1e-12 * Math.max(1, eps));
        // Wang et al.'s parametrisation p = e^eps / (e^eps + k - 1).
        expect(rr.keepProbability).toBeCloseTo(Math.exp(eps) / (Math.exp(eps) + k - 1), 12);
        expect(rr.keepProbability + (k - 1) * rr.otherProbability).toBeCloseTo(1, 14);
      }
    }
  });

  it("binary RR with epsilon ln 3 tells the truth with probability 3/4", () => {
    const rr = binaryRandomizedResponse({ epsilon: Math.log(3) });
    expect(rr.noiseParameter).toBeCloseTo(0.5, 15);
    expect(rr.keepProbability).toBeCloseTo(0.75, 15);
    expect(rr.event.numBuckets).toBe(2);
    expect(randomizedResponseNoiseParameter(0, 5)).toBe(1);
    expect(randomizedResponseEpsilon(1, 5)).toBe(0);
    expect(randomizedResponseEpsilon(0, 5)).toBe(Infinity);
  });

  it("rejects bad parameters and values with named errors", () => {
    expect(() => kRandomizedResponse({ epsilon: -1, k: 3 })).toThrow(/`epsilon` must be >= 0/);
    expect(() => kRandomizedResponse({ epsilon: NaN, k: 3 })).toThrow(DpError);
    expect(() => kRandomizedResponse({ epsilon: 1, k: 1 })).toThrow(/`k`/);
    expect(() => kRandomizedResponse({ epsilon: 1, k: 2.5 })).toThrow(/`k`/);
    const rr = kRandomizedResponse({ epsilon: 1, k: 3 });
    expect(() => rr.randomize(3)).toThrow(/`value`/);
    expect(() => rr.estimateFrequencies([0, 5])).toThrow(/reports\[1\]/);
    expect(() => binaryRandomizedResponse({ epsilon: 1 }).randomize(1 as unknown as boolean)).toThrow(/boolean/);
    expect(() => pureProtocolFrequencyVariance({ p: 0.2, q: 0.3, n: 10, trueFrequency: 0 })).toThrow(/`p` must be > `q`/);
  });

  it("estimates are exact inverses of the expected support counts", () => {
    const rr = kRandomizedResponse({ epsilon: 1, k: 3, rng: new SeededRng(1) });
    const est = rr.estimateFrequencies([]);
    expect(est.n).toBe(0);
    // With every report = 0, the estimate for 0 is (n - n q)/(p - q) / n.
    const e2 = rr.estimateFrequencies(new Array(10).fill(0));
    expect(e2.frequencies[0]).toBeCloseTo((1 - rr.otherProbability) / (rr.keepProbability - rr.otherProbability), 12);
  });
});

describe("the accountant's view of the events", () => {
  it("the PLD accountant (replace-one) gives each randomizer's stated epsilon (delta -> 0)", async () => {
    const { PldAccountant } = await import("../../src/accounting/index.js");
    const cases = [
      binaryRandomizedResponse({ epsilon: 1 }),
      kRandomizedResponse({ epsilon: 2, k: 5 }),
      kRandomizedResponse({ epsilon: 0.3, k: 100 }),
    ];
    for (const rr of cases) {
      const acc = new PldAccountant({ neighboringRelation: "replaceOne", valueDiscretizationInterval: 1e-5 });
      acc.compose(rr.event);
      const eps = acc.getEpsilon(1e-12); // delta = 0 is refused; at 1e-12 RR loses < 1e-11 of its epsilon
      // Pessimistic discretisation: at most one grid step above the exact value, never below.
      expect(eps).toBeGreaterThanOrEqual(rr.epsilon - 1e-9);
      expect(eps).toBeLessThanOrEqual(rr.epsilon + 2e-5);
      // Negative control: an event with a different noise parameter is told apart.
      const other = new PldAccountant({ neighboringRelation: "replaceOne", valueDiscretizationInterval: 1e-5 });
      other.compose(randomizedResponseEvent(rr.event.noiseParameter * 0.99, rr.event.numBuckets));
      expect(other.getEpsilon(1e-12)).toBeGreaterThan(rr.epsilon + 1e-3);
    }
  });
});
