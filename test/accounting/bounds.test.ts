import { describe, expect, it } from "vitest";
import { DpError } from "../../src/errors.js";
import {
  calibrateNoiseMultiplier,
  gaussianEvent,
  PldAccountant,
  poissonSampledEvent,
  samplingProbabilityForBudget,
} from "../../src/accounting/index.js";
import { gaussianMechanism, geometricMechanism, laplaceMechanism } from "../../src/mechanisms/index.js";

// Issue 12, defects 2 and 7: loops a user sizes are bounded or checked up front, and internal
// RangeErrors become DpErrors naming the argument. Each call here used to hang or throw a RangeError.
function refusal(f: () => unknown): DpError {
  const t = Date.now();
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(Date.now() - t, "refused up front").toBeLessThan(5_000);
  expect(caught).toBeInstanceOf(DpError);
  return caught as DpError;
}

describe("bounded work and named refusals", () => {
  const step = poissonSampledEvent(0.01, gaussianEvent(1));

  it("PLD: 1e9 steps are refused up front (the grid would need ~3e8 points), not run for minutes", () => {
    const e = refusal(() => new PldAccountant().compose(step, 1e9).getEpsilon(1e-5));
    expect(e.message).toMatch(/grid points/);
    expect(e.argument).toBe("valueDiscretizationInterval");
  });

  it("PLD: sigma = 1e-3 and a discretization of 1e308 are DpErrors, not 'Invalid typed array length'", () => {
    expect(refusal(() => new PldAccountant().compose(poissonSampledEvent(0.01, gaussianEvent(1e-3)), 100).getEpsilon(1e-5)).argument).toBe(
      "valueDiscretizationInterval",
    );
    expect(refusal(() => new PldAccountant({ valueDiscretizationInterval: 1e308 })).argument).toBe("valueDiscretizationInterval");
    // control: an ordinary run works
    expect(new PldAccountant().compose(step, 1000).getEpsilon(1e-5)).toBeGreaterThan(0);
  });

  it("calibration: a tolerance below 2^-53 or above 0.1 is refused (it used to loop forever / mean nothing)", () => {
    const base = { targetEpsilon: 3, targetDelta: 1e-5, samplingProbability: 0.01, steps: 1000 };
    for (const tolerance of [1e-17, 10, 0])
      expect(refusal(() => calibrateNoiseMultiplier({ ...base, tolerance })).argument).toBe("tolerance");
    for (const tolerance of [1e-17, 10]) {
      expect(
        refusal(() => samplingProbabilityForBudget({ targetEpsilon: 3, targetDelta: 1e-5, noiseMultiplier: 1.1, steps: 1000, tolerance }))
          .argument,
      ).toBe("tolerance");
    }
    // control: the tightest accepted tolerance terminates
    expect(calibrateNoiseMultiplier({ ...base, tolerance: 1e-12 })).toBeGreaterThan(0);
  });

  it("confidence intervals terminate at noise scales beyond 2^53 (geometric, epsilon 1e-16)", () => {
    const t = Date.now();
    const ci = geometricMechanism({ epsilon: 1e-16 }).confidenceInterval(0.95, 3);
    expect(Date.now() - t).toBeLessThan(1000);
    expect(ci.halfWidth).toBeGreaterThan(2.9e16); // ~ b ln(20) = 1e16 * 3.0
    expect(Number.isFinite(ci.upper)).toBe(true);
  });

  it("a granularity too fine for the noise is a DpError naming it (Gaussian 2^-1000 was a RangeError)", () => {
    expect(refusal(() => gaussianMechanism({ epsilon: 1, delta: 1e-5, sensitivity: 1, granularity: 2 ** -1000 })).argument).toBe(
      "granularity",
    );
    expect(refusal(() => laplaceMechanism({ epsilon: 1, sensitivity: 1, granularity: 2 ** -1000 })).argument).toBe("granularity");
  });
});
