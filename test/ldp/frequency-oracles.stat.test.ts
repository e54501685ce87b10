/**
 * Distributional tests of the unary encodings and OLH: unbiased estimators with the stated
 * variances, and the empirical-epsilon audit of OUE with its power check.
 */
import { describe, expect, it } from "vitest";
import { SeededRng, bernoulli } from "../../src/index.js";
import { optimizedLocalHashing, optimizedUnaryEncoding, symmetricUnaryEncoding } from "../../src/ldp/index.js";
import { auditSamplers, valueEvents } from "../helpers/audit.js";
import { checkUnbiasedAndVariance } from "./estimator-check.js";

function population(truth: number[], n: number): Uint32Array {
  const out = new Uint32Array(n);
  let i = 0;
  for (let v = 0; v < truth.length; v++) for (let j = 0; j < Math.round(truth[v] * n); j++) out[i++] = v;
  return out;
}

describe("frequency oracles are unbiased with the stated variances", () => {
  const truth = [0.5, 0.3, 0.2, 0, 0, 0];
  const n = 500;
  const pop = population(truth, n);

  it("OUE (seeded)", () => {
    const oue = optimizedUnaryEncoding({ epsilon: 1, domainSize: 6, rng: new SeededRng(31), allowInsecureRng: true });
    const res = checkUnbiasedAndVariance({
      repetitions: 400,
      truth,
      run: () => oue.estimateFrequencies(Array.from(pop, (v) => oue.randomize(v))).frequencies,
      variance: (f) => oue.frequencyVariance(f, n),
    });
    expect(res.failures).toEqual([]);
  });

  it("SUE (secure source)", () => {
    const sue = symmetricUnaryEncoding({ epsilon: 2, domainSize: 6 });
    const res = checkUnbiasedAndVariance({
      repetitions: 300,
      truth,
      run: () => sue.estimateFrequencies(Array.from(pop, (v) => sue.randomize(v))).frequencies,
      variance: (f) => sue.frequencyVariance(f, n),
    });
    expect(res.failures).toEqual([]);
  });

  it("OLH (seeded)", () => {
    const olh = optimizedLocalHashing({ epsilon: 2, domainSize: 6, rng: new SeededRng(32), allowInsecureRng: true });
    const res = checkUnbiasedAndVariance({
      repetitions: 400,
      truth,
      run: () => olh.estimateFrequencies(Array.from(pop, (v) => olh.randomize(v))).frequencies,
      variance: (f) => olh.frequencyVariance(f, n),
    });
    expect(res.failures).toEqual([]);
  });

  it("negative control: OUE estimates decoded with SUE's p and q are flagged as biased", () => {
    const rng = new SeededRng(33);
    const oue = optimizedUnaryEncoding({ epsilon: 1, domainSize: 6, rng, allowInsecureRng: true });
    const sue = symmetricUnaryEncoding({ epsilon: 1, domainSize: 6 });
    const res = checkUnbiasedAndVariance({
      repetitions: 200,
      truth,
      run: () => sue.estimateFrequencies(Array.from(pop, (v) => oue.randomize(v))).frequencies,
      variance: (f) => oue.frequencyVariance(f, n),
    });
    expect(res.failures.some((f) => f.startsWith("bias"))).toBe(true);
  });
});

describe("empirical epsilon of OUE (docs/testing.md section 3)", () => {
  it("stays within its epsilon; a variant with half the noise on the other bits is caught", () => {
    const rng = new SeededRng(34);
    const oue = optimizedUnaryEncoding({ epsilon: 1, domainSize: 4, rng, allowInsecureRng: true });
    // The privacy loss between values 0 and 1 lives in bits 0 and 1: read y = 2 b0 + b1.
    const read = (bits: Uint8Array): number => 2 * bits[0] + bits[1];
    const events = valueEvents([0, 1, 2, 3]);
    const audit = auditSamplers({
      sample0: () => read(oue.randomize(0)),
      sample1: () => read(oue.randomize(1)),
      events,
      n: 200_000,
      delta: 0,
    });
    expect(audit.epsilonLowerBound).toBeLessThanOrEqual(oue.epsilon);
    expect(audit.epsilonLowerBound).toBeGreaterThan(0.85);
    const broken = (v: number): number => {
      const b0 = bernoulli(v === 0 ? oue.p : oue.q / 2, rng) ? 1 : 0;
      const b1 = bernoulli(v === 1 ? oue.p : oue.q / 2, rng) ? 1 : 0;
      return 2 * b0 + b1;
    };
    const power = auditSamplers({ sample0: () => broken(0), sample1: () => broken(1), events, n: 200_000, delta: 0 });
    expect(power.epsilonLowerBound).toBeGreaterThan(oue.epsilon);
  });
});
