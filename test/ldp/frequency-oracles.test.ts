import { describe, expect, it } from "vitest";
import { SeededRng } from "../../src/index.js";
import { optimizedLocalHashing, optimizedUnaryEncoding, randomizedResponseEpsilon, symmetricUnaryEncoding } from "../../src/ldp/index.js";

describe("unary encodings", () => {
  it("OUE: p = 1/2, q = 1/(e^eps+1), epsilon = ln(p(1-q)/((1-p)q)) <= requested, epsilonDelta event", () => {
    for (const eps of [0.1, 1, 3, 8]) {
      const oue = optimizedUnaryEncoding({ epsilon: eps, domainSize: 10 });
      expect(oue.p).toBe(0.5);
      expect(oue.q).toBeCloseTo(1 / (Math.exp(eps) + 1), 14);
      expect(oue.epsilon).toBeLessThanOrEqual(eps);
      expect(oue.epsilon).toBeCloseTo(eps, 12);
      expect(oue.event).toEqual({ kind: "epsilonDelta", epsilon: oue.epsilon, delta: 0 });
      // Variance at f = 0 is 4 e^eps / (n (e^eps - 1)^2) (Wang et al. 2017, Eq. 13).
      expect(oue.frequencyVariance(0, 100)).toBeCloseTo((4 * Math.exp(eps)) / (100 * Math.expm1(eps) ** 2), 12);
    }
  });

  it("SUE: p + q = 1 and epsilon = 2 ln(p/q)", () => {
    const sue = symmetricUnaryEncoding({ epsilon: 2, domainSize: 5 });
    expect(sue.p + sue.q).toBeCloseTo(1, 15);
    expect(2 * Math.log(sue.p / sue.q)).toBeCloseTo(2, 12);
    expect(sue.epsilon).toBeLessThanOrEqual(2);
  });

  it("reports have d bits; estimateFromBitSums agrees with estimateFrequencies", () => {
    const oue = optimizedUnaryEncoding({ epsilon: 1, domainSize: 6, rng: new SeededRng(3) });
    const reports = [0, 1, 2, 2, 5].map((v) => oue.randomize(v));
    expect(reports.every((r) => r.length === 6 && r.every((b) => b === 0 || b === 1))).toBe(true);
    const sums = new Float64Array(6);
    for (const r of reports) r.forEach((b, i) => (sums[i] += b));
    expect(Array.from(oue.estimateFromBitSums(sums, 5).counts)).toEqual(Array.from(oue.estimateFrequencies(reports).counts));
  });

  it("rejects bad parameters", () => {
    expect(() => optimizedUnaryEncoding({ epsilon: 0, domainSize: 3 })).toThrow(/`epsilon` must be > 0/);
    expect(() => optimizedUnaryEncoding({ epsilon: 1, domainSize: 1 })).toThrow(/`domainSize`/);
    expect(() => optimizedUnaryEncoding({ epsilon: 1, domainSize: 3 }).randomize(3)).toThrow(/`value`/);
    expect(() => optimizedUnaryEncoding({ epsilon: 1, domainSize: 3 }).estimateFrequencies([[1, 0]])).toThrow(/reports\[0\]/);
    expect(() => optimizedLocalHashing({ epsilon: 1, domainSize: 3, buckets: 1 })).toThrow(/`buckets`/);
  });
});

describe("optimised local hashing", () => {
  it("uses g = round(e^eps) + 1 buckets and the g-ary RR event", () => {
    const olh = optimizedLocalHashing({ epsilon: 2, domainSize: 100 });
    expect(olh.buckets).toBe(Math.round(Math.exp(2)) + 1);
    expect(olh.event.kind).toBe("randomizedResponse");
    expect(olh.event.numBuckets).toBe(olh.buckets);
    expect(olh.epsilon).toBe(randomizedResponseEpsilon(olh.event.noiseParameter, olh.buckets));
    expect(olh.epsilon).toBeLessThanOrEqual(2);
    expect(olh.q).toBeCloseTo(1 / olh.buckets, 15);
  });

  it("hashes are spread evenly over the buckets and are deterministic in (seed, value)", () => {
    const olh = optimizedLocalHashing({ epsilon: 2, domainSize: 100 });
    const g = olh.buckets;
    const counts = new Array(g).fill(0);
    const N = 50_000;
    for (let s = 0; s < N; s++) counts[olh.hash(s * 7919, s % 100)]++;
    for (const c of counts) expect(Math.abs(c - N / g)).toBeLessThan(6 * Math.sqrt(N / g));
    expect(olh.hash(123, 45)).toBe(olh.hash(123, 45));
    // Pairwise collisions of two values across seeds happen at rate 1/g.
    let coll = 0;
    for (let s = 0; s < N; s++) if (olh.hash(s, 3) === olh.hash(s, 4)) coll++;
    expect(Math.abs(coll - N / g)).toBeLessThan(6 * Math.sqrt(N / g));
  });
});
