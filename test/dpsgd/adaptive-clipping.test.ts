/**
 * Adaptive clipping: the clip bound converges to the target quantile of the norms; the noise split
 * keeps the accounted noise multiplier; bad parameters are refused.
 */
import { describe, expect, it } from "vitest";
import { SeededRng } from "../../src/random/index.js";
import { AdaptiveClipState, gradientNoiseMultiplier } from "../../src/dpsgd/index.js";

describe("adaptive clipping", () => {
  it("tracks the target quantile of the per-example norms", () => {
    const rng = new SeededRng(3);
    const norms = Float32Array.from({ length: 200 }, (_, i) => 0.01 * (i + 1)); // uniform on (0, 2]
    for (const [gamma, want] of [
      [0.5, 1.0],
      [0.9, 1.8],
    ] as const) {
      const s = new AdaptiveClipState({
        initialL2NormClip: 0.1,
        noiseMultiplier: 1,
        expectedBatchSize: 200,
        targetQuantile: gamma,
        learningRate: 0.2,
      });
      for (let t = 0; t < 400; t++) s.update(norms, rng);
      expect(Math.abs(s.l2NormClip - want)).toBeLessThan(0.15);
    }
  });

  it("splits the noise so that the combined release is one Gaussian with the total noise multiplier", () => {
    const sg = gradientNoiseMultiplier(1.1, 5);
    expect(sg).toBeGreaterThan(1.1);
    // sigma_total^-2 = sigma_g^-2 + sigma_b^-2
    expect(1 / sg ** 2 + 1 / 25).toBeCloseTo(1 / 1.21, 12);
    const s = new AdaptiveClipState({ initialL2NormClip: 1, noiseMultiplier: 1.1, expectedBatchSize: 256 });
    expect(s.countNoiseMultiplier).toBeCloseTo(256 / 20, 12);
    expect(1 / s.gradientNoiseMultiplier ** 2 + 1 / s.countNoiseMultiplier ** 2).toBeCloseTo(1 / 1.21, 12);
  });

  it("refuses a count noise not above the total, and bad quantiles", () => {
    expect(() => gradientNoiseMultiplier(2, 1)).toThrow(/countNoiseMultiplier/);
    expect(() => new AdaptiveClipState({ initialL2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: 10, targetQuantile: 1 })).toThrow(
      /targetQuantile/,
    );
    expect(() => new AdaptiveClipState({ initialL2NormClip: 0, noiseMultiplier: 1, expectedBatchSize: 10 })).toThrow(/initialL2NormClip/);
  });
});
