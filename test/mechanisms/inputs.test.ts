/**
 * Bad input is refused with a DpError that names the argument (docs/testing.md section 3's
 * companion): epsilon <= 0 / NaN / Infinity, delta outside (0, 1), sensitivity <= 0, a
 * granularity that is not a power of two, lower > upper, non-numeric data. Data problems
 * (NaN values, an empty dataset) are not errors: they are clamped or noised.
 */
import { describe, expect, it } from "vitest";
import { DpError } from "../../src/errors.js";
import {
  analyticGaussianSigma,
  exponentialMechanism,
  gaussianMechanism,
  geometricMechanism,
  laplaceMechanism,
  laplaceScaleFor,
  privateCount,
  privateMean,
  privateSum,
  reportNoisyMaxMechanism,
} from "../../src/mechanisms/index.js";
import { SeededRng } from "../../src/random/index.js";

function throwsNaming(f: () => unknown, argument: string): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DpError);
  expect((caught as DpError).argument).toBe(argument);
  expect((caught as DpError).message).toContain(`\`${argument}\``);
}

const BAD_EPSILON = [0, -1, NaN, Infinity, -Infinity];

describe("bad parameters are refused, naming the argument", () => {
  it("epsilon <= 0, NaN, Infinity", () => {
    for (const epsilon of BAD_EPSILON) {
      throwsNaming(() => laplaceMechanism({ epsilon, sensitivity: 1 }), "epsilon");
      throwsNaming(() => gaussianMechanism({ epsilon, delta: 1e-5, sensitivity: 1 }), "epsilon");
      throwsNaming(() => geometricMechanism({ epsilon }), "epsilon");
      throwsNaming(() => exponentialMechanism({ epsilon, sensitivity: 1 }), "epsilon");
      throwsNaming(() => reportNoisyMaxMechanism({ epsilon, sensitivity: 1 }), "epsilon");
      throwsNaming(() => laplaceScaleFor({ epsilon, sensitivity: 1 }), "epsilon");
      throwsNaming(() => privateSum({ data: [1], lower: 0, upper: 1, epsilon }), "epsilon");
      throwsNaming(() => privateMean({ data: [1], lower: 0, upper: 1, epsilon }), "epsilon");
      throwsNaming(() => privateCount({ data: [1], epsilon }), "epsilon");
    }
  });
  it("delta outside (0, 1) for the Gaussian", () => {
    for (const delta of [0, 1, -0.1, 1.5, NaN, Infinity]) {
      throwsNaming(() => gaussianMechanism({ epsilon: 1, delta, sensitivity: 1 }), "delta");
      throwsNaming(() => analyticGaussianSigma({ epsilon: 1, delta, sensitivity: 1 }), "delta");
    }
    throwsNaming(() => gaussianMechanism({ epsilon: 1, sensitivity: 1 } as never), "delta");
  });
  it("sensitivity <= 0 or non-finite; non-integer sensitivity for counts", () => {
    for (const sensitivity of [0, -2, NaN, Infinity]) {
      throwsNaming(() => laplaceMechanism({ epsilon: 1, sensitivity }), "sensitivity");
      throwsNaming(() => gaussianMechanism({ epsilon: 1, delta: 1e-5, sensitivity }), "sensitivity");
      throwsNaming(() => exponentialMechanism({ epsilon: 1, sensitivity }), "sensitivity");
    }
    throwsNaming(() => geometricMechanism({ epsilon: 1, sensitivity: 1.5 }), "sensitivity");
  });
  it("a noise scale that overflows (sensitivity / epsilon = Infinity) is refused", () => {
    throwsNaming(() => laplaceMechanism({ epsilon: 1e-300, sensitivity: 1e300 }), "epsilon");
  });
  it("granularity must be a power of two; dimension a positive integer", () => {
    for (const granularity of [0, -1, 0.3, 3, NaN])
      throwsNaming(() => laplaceMechanism({ epsilon: 1, sensitivity: 1, granularity }), "granularity");
    throwsNaming(() => gaussianMechanism({ epsilon: 1, delta: 1e-5, sensitivity: 1, dimension: 0 }), "dimension");
  });
  it("lower > upper and non-numeric data for the aggregates", () => {
    throwsNaming(() => privateSum({ data: [1], lower: 2, upper: 1, epsilon: 1 }), "lower");
    throwsNaming(() => privateMean({ data: [1], lower: 2, upper: 1, epsilon: 1 }), "lower");
    throwsNaming(() => privateSum({ data: [1, "2"] as never, lower: 0, upper: 3, epsilon: 1 }), "data");
    throwsNaming(() => privateMean({ data: "123" as never, lower: 0, upper: 3, epsilon: 1 }), "data");
    throwsNaming(() => privateSum({ data: null as never, lower: 0, upper: 3, epsilon: 1 }), "data");
    throwsNaming(() => privateCount({ data: 5 as never, epsilon: 1 }), "data");
  });
  it("release inputs: non-finite values, non-integer counts, vectors longer than the dimension, bad scores", () => {
    const m = laplaceMechanism({ epsilon: 1, sensitivity: 1 });
    throwsNaming(() => m.release(NaN), "value");
    throwsNaming(() => m.release(Infinity), "value");
    throwsNaming(() => m.releaseVector([1, 2]), "values");
    throwsNaming(() => laplaceMechanism({ epsilon: 1, sensitivity: 1, dimension: 2 }).releaseVector([1, NaN]), "values[1]");
    throwsNaming(() => geometricMechanism({ epsilon: 1 }).release(1.5), "value");
    throwsNaming(() => exponentialMechanism({ epsilon: 1, sensitivity: 1 }).select([]), "scores");
    throwsNaming(() => exponentialMechanism({ epsilon: 1, sensitivity: 1 }).select([1, NaN]), "scores");
    throwsNaming(() => m.confidenceInterval(1), "level");
  });
});

describe("data problems are bounded, never errors", () => {
  const rng = new SeededRng(21);
  it("NaN and ±Infinity are clamped, never propagated", () => {
    const data = [NaN, Infinity, -Infinity, 2, 3];
    for (let i = 0; i < 50; i++) {
      const mean = privateMean({ data, lower: 0, upper: 4, epsilon: 1, rng, allowInsecureRng: true }).value;
      expect(Number.isFinite(mean)).toBe(true);
      expect(mean).toBeGreaterThanOrEqual(0);
      expect(mean).toBeLessThanOrEqual(4);
      expect(
        Number.isFinite(privateSum({ data: new Float64Array(data), lower: 0, upper: 4, epsilon: 1, rng, allowInsecureRng: true }).value),
      ).toBe(true);
    }
  });
  it("an empty dataset gets noise, not an error", () => {
    const sums = Array.from(
      { length: 200 },
      () => privateSum({ data: [], lower: -1, upper: 1, epsilon: 1, rng, allowInsecureRng: true }).value,
    );
    expect(new Set(sums).size).toBeGreaterThan(150);
    const mean = privateMean({ data: [], lower: 10, upper: 20, epsilon: 1, rng, allowInsecureRng: true });
    expect(mean.value).toBeGreaterThanOrEqual(10);
    expect(mean.value).toBeLessThanOrEqual(20);
    expect(Number.isInteger(privateCount({ data: [], epsilon: 1, rng, allowInsecureRng: true }).value)).toBe(true);
  });
  it("aggregates are accurate for large epsilon and clamp to the bounds", () => {
    const data = Array.from({ length: 1000 }, (_, i) => (i % 10) + 0.5); // mean 5, values in [0.5, 9.5]
    expect(privateMean({ data, lower: 0, upper: 10, epsilon: 100, rng, allowInsecureRng: true }).value).toBeCloseTo(5, 1);
    expect(privateSum({ data, lower: 0, upper: 5, epsilon: 100, rng, allowInsecureRng: true }).value).toBeCloseTo(3750, -1);
    const count = privateCount({ data, epsilon: 100, rng, allowInsecureRng: true });
    expect(Math.abs(count.value - 1000)).toBeLessThanOrEqual(2);
    expect(count.event).toEqual({ kind: "epsilonDelta", epsilon: count.epsilon, delta: 0 });
  });
});
