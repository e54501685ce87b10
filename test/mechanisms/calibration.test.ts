/**
 * Calibration: the analytic Gaussian delta(epsilon) (`gaussianDeltaForEpsilon`, the one implementation) against direct numerical integration of
 * the hockey-stick divergence, the analytic sigma against its defining property (the smallest
 * sigma with delta <= target), the classic bound, the Laplace scale, and the tails of Φ.
 */
import { describe, expect, it } from "vitest";
import { gaussianDeltaForEpsilon } from "../../src/accounting/index.js";
import {
  analyticGaussianSigma,
  classicGaussianSigma,
  erfcx,
  laplaceScaleFor,
  noiseSummary,
  standardNormalCdf,
  standardNormalQuantile,
  standardNormalTail,
} from "../../src/mechanisms/index.js";
import { SeededRng, uniform01 } from "../../src/random/index.js";

/** delta = ∫ max(0, p0(y) - e^eps p1(y)) dy for N(0, s²) vs N(1, s²), by the midpoint rule. */
function integratedDelta(epsilon: number, sigma: number): number {
  const h = sigma / 4000;
  let sum = 0;
  const c = 1 / (sigma * Math.sqrt(2 * Math.PI));
  for (let y = -30 * sigma + h / 2; y < 30 * sigma + 1; y += h) {
    const p0 = c * Math.exp(-(y * y) / (2 * sigma * sigma));
    const p1 = c * Math.exp(-((y - 1) * (y - 1)) / (2 * sigma * sigma));
    sum += Math.max(0, p0 - Math.exp(epsilon) * p1);
  }
  return sum * h;
}

describe("standard normal tails", () => {
  it("matches reference values deep in the tails", () => {
    // Reference values: erfc/erfcx tables (mpmath).
    expect(erfcx(1)).toBeCloseTo(0.427583576155807, 14);
    expect(erfcx(10) / 0.05614099274382259 - 1).toBeLessThan(1e-13);
    expect(Math.abs(standardNormalTail(10) / 7.61985302416047e-24 - 1)).toBeLessThan(1e-12);
    expect(Math.abs(standardNormalTail(30) / 4.906713927148187e-198 - 1)).toBeLessThan(1e-12);
    expect(standardNormalCdf(0)).toBe(0.5);
    expect(standardNormalQuantile(0.975)).toBeCloseTo(1.959963984540054, 12);
    expect(standardNormalQuantile(1e-10)).toBeCloseTo(-6.361340902404056, 10);
  });
});

describe("analytic Gaussian (Balle & Wang 2018)", () => {
  it("delta(epsilon, sigma) equals the integrated hockey-stick divergence", () => {
    for (const [e, s] of [
      [0.5, 1],
      [1, 2],
      [2, 0.7],
      [0.1, 5],
    ]) {
      const exact = gaussianDeltaForEpsilon(s, e);
      expect(Math.abs(exact / integratedDelta(e, s) - 1)).toBeLessThan(1e-6);
    }
  });
  it("sigma is the smallest with delta <= target, for random targets", () => {
    const rng = new SeededRng(3);
    for (let i = 0; i < 30; i++) {
      const epsilon = 10 ** (uniform01(rng) * 3 - 2); // 0.01 .. 10
      const delta = 10 ** -(2 + uniform01(rng) * 10); // 1e-2 .. 1e-12
      const sensitivity = 0.1 + uniform01(rng) * 10;
      const sigma = analyticGaussianSigma({ epsilon, delta, sensitivity });
      expect(gaussianDeltaForEpsilon(sigma / sensitivity, epsilon)).toBeLessThanOrEqual(delta);
      expect(gaussianDeltaForEpsilon((sigma * (1 - 1e-6)) / sensitivity, epsilon)).toBeGreaterThan(delta);
    }
  });
  it("known value and comparison with the classic bound", () => {
    const s = analyticGaussianSigma({ epsilon: 1, delta: 1e-5, sensitivity: 1 });
    expect(s).toBeCloseTo(3.7306, 3);
    const classic = classicGaussianSigma({ epsilon: 0.5, delta: 1e-5, sensitivity: 1 });
    expect(classic).toBeCloseTo(Math.sqrt(2 * Math.log(1.25e5)) / 0.5, 12);
    expect(analyticGaussianSigma({ epsilon: 0.5, delta: 1e-5, sensitivity: 1 })).toBeLessThan(classic);
    // Linear in the sensitivity
    expect(
      analyticGaussianSigma({ epsilon: 0.5, delta: 1e-5, sensitivity: 3 }) /
        analyticGaussianSigma({ epsilon: 0.5, delta: 1e-5, sensitivity: 1 }),
    ).toBeCloseTo(3, 9);
  });
  it("negative control: the classic sigma at epsilon = 5 would not be (5, 1e-5)-DP, and is refused", () => {
    const naive = Math.sqrt(2 * Math.log(1.25e5)) / 5;
    expect(gaussianDeltaForEpsilon(naive * 0.5, 5)).toBeGreaterThan(1e-5);
    expect(() => classicGaussianSigma({ epsilon: 5, delta: 1e-5, sensitivity: 1 })).toThrow(/epsilon/);
  });
});

describe("Laplace scale and noise summaries", () => {
  it("b = sensitivity / epsilon; summary standard deviation and interval", () => {
    expect(laplaceScaleFor({ epsilon: 0.5, sensitivity: 2 })).toBe(4);
    const s = noiseSummary({ mechanism: "laplace", epsilon: 1, sensitivity: 1, level: 0.95 });
    expect(s.scale).toBeCloseTo(1, 7); // the grid rounding is charged: about 2^-30 more noise
    expect(s.standardDeviation).toBeCloseTo(Math.SQRT2, 7);
    expect(s.halfWidth).toBeCloseTo(Math.log(20), 7); // P[|L| > h] = e^{-h/b}
    const g = noiseSummary({ mechanism: "gaussian", epsilon: 1, delta: 1e-5, sensitivity: 1 });
    expect(g.halfWidth).toBeCloseTo(g.scale * 1.959963984540054, 8);
    const c = noiseSummary({ mechanism: "geometric", epsilon: 1 });
    expect(Number.isInteger(c.halfWidth)).toBe(true);
  });
  it("intervals cover the noise at least at their level (empirically)", () => {
    const rng = new SeededRng(77);
    // Imported lazily to keep this file about calibration.
    return import("../../src/mechanisms/index.js").then(({ laplaceMechanism, gaussianMechanism, geometricMechanism }) => {
      for (const m of [
        laplaceMechanism({ epsilon: 1, sensitivity: 1, rng, allowInsecureRng: true }),
        gaussianMechanism({ epsilon: 1, delta: 1e-5, sensitivity: 1, rng, allowInsecureRng: true }),
        geometricMechanism({ epsilon: 0.7, rng, allowInsecureRng: true }),
      ]) {
        const h = m.confidenceInterval(0.9).halfWidth;
        let inside = 0;
        const n = 20_000;
        for (let i = 0; i < n; i++) if (Math.abs(m.release(0)) <= h) inside++;
        // 6-sigma slack below 0.9
        expect(inside / n).toBeGreaterThan(0.9 - 6 * Math.sqrt(0.09 / n));
      }
    });
  });
});
