/**
 * The exact (ε, δ) curve of the Gaussian mechanism (Balle & Wang 2018, Theorem 8): the reference
 * against which composed Gaussians are checked (k Gaussians with multiplier σ = one with σ/√k).
 * @module
 */
import { requireNonNegative, requireOpenProbability, requirePositive } from "../errors.js";
import { logStandardNormalCdf } from "../math/normal.js";

/**
 * δ(ε) of the Gaussian mechanism with noise multiplier σ (sensitivity 1), unchecked: the one
 * implementation used by the PLD accountant, the analytic Gaussian calibration of
 * `dpkit/mechanisms` and {@link gaussianDeltaForEpsilon}.
 * @internal
 */
export function gaussianDelta(sigma: number, epsilon: number): number {
  if (epsilon === Infinity) return 0;
  if (epsilon === -Infinity) return 1;
  const la = logStandardNormalCdf(-epsilon * sigma + 1 / (2 * sigma));
  const lb = epsilon + logStandardNormalCdf(-epsilon * sigma - 1 / (2 * sigma));
  if (!(lb < la)) return 0;
  return Math.min(1, Math.exp(la) * -Math.expm1(lb - la));
}

/**
 * δ(ε) of the Gaussian mechanism with noise multiplier σ (sensitivity 1):
 * Φ(1/(2σ) - εσ) - e^ε Φ(-1/(2σ) - εσ), evaluated in log space.
 *
 * @remarks Exact for both add/remove and replace-one when σ is relative to that relation's
 * sensitivity.
 * @param noiseMultiplier - σ > 0
 * @param epsilon - ε >= 0
 * @returns δ in [0, 1]
 * @throws {@link DpError} `invalid_parameter` for a bad argument
 * @example
 * ```ts
 * import { gaussianDeltaForEpsilon } from "dpkit/accounting";
 * console.log(gaussianDeltaForEpsilon(1, 3)); // ≈ 4.5e-3
 * ```
 * @see https://arxiv.org/abs/1805.06530
 */
export function gaussianDeltaForEpsilon(noiseMultiplier: number, epsilon: number): number {
  return gaussianDelta(requirePositive("noiseMultiplier", noiseMultiplier), requireNonNegative("epsilon", epsilon));
}

/**
 * The smallest ε with δ(ε) <= `targetDelta` for the Gaussian mechanism (bisection to 1e-12
 * relative, rounded up).
 *
 * @param noiseMultiplier - σ > 0
 * @param targetDelta - δ in (0, 1)
 * @returns ε >= 0
 * @throws {@link DpError} `invalid_parameter` for a bad argument
 * @example
 * ```ts
 * import { gaussianEpsilonForDelta } from "dpkit/accounting";
 * console.log(gaussianEpsilonForDelta(2, 1e-5)); // ≈ 1.9931
 * ```
 * @see https://arxiv.org/abs/1805.06530
 */
export function gaussianEpsilonForDelta(noiseMultiplier: number, targetDelta: number): number {
  const sigma = requirePositive("noiseMultiplier", noiseMultiplier);
  const delta = requireOpenProbability("targetDelta", targetDelta);
  if (gaussianDelta(sigma, 0) <= delta) return 0;
  let hi = 1;
  while (gaussianDelta(sigma, hi) > delta) hi *= 2;
  let lo = hi / 2;
  if (gaussianDelta(sigma, lo) <= delta) lo = 0;
  while (hi - lo > 1e-12 * hi) {
    const mid = 0.5 * (lo + hi);
    if (gaussianDelta(sigma, mid) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}
