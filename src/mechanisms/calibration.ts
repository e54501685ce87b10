/**
 * Noise calibration: the Laplace scale, the classic Gaussian sigma (Dwork & Roth 2014) and the
 * analytic Gaussian sigma (Balle & Wang 2018), the smallest sigma for which the Gaussian
 * mechanism is (epsilon, delta)-DP.
 *
 * @see https://arxiv.org/abs/1805.06530 (Balle & Wang, "Improving the Gaussian Mechanism for
 * Differential Privacy: Analytical Calibration and Optimal Denoising", ICML 2018)
 * @module
 */
import { DpError, requireNonNegative, requireOpenProbability, requirePositive } from "../errors.js";
import { erfcx, standardNormalTail } from "./normal.js";

const SQRT1_2 = Math.SQRT1_2;

/** Options for {@link laplaceScaleFor}. */
export interface LaplaceCalibrationOptions {
  /** Privacy parameter, > 0 and finite. */
  epsilon: number;
  /** L1 sensitivity of the query, > 0. */
  sensitivity: number;
}

/**
 * The Laplace scale b = sensitivity / epsilon.
 *
 * @remarks
 * Adding Laplace(b) noise to a query of L1 sensitivity Δ (add/remove or replace-one, whichever
 * relation Δ was computed for) is (Δ/b)-DP (Dwork, McSherry, Nissim & Smith 2006).
 *
 * @param options - epsilon and sensitivity
 * @returns b
 * @throws {@link DpError} when `epsilon` or `sensitivity` is not a finite number > 0
 * @example
 * ```ts
 * import { laplaceScaleFor } from "dpkit/mechanisms";
 * laplaceScaleFor({ epsilon: 0.5, sensitivity: 1 }); // 2
 * ```
 */
export function laplaceScaleFor(options: LaplaceCalibrationOptions): number {
  const epsilon = requirePositive("epsilon", options?.epsilon);
  const sensitivity = requirePositive("sensitivity", options?.sensitivity);
  return sensitivity / epsilon;
}

/** Options for the Gaussian calibrations. */
export interface GaussianCalibrationOptions {
  /** Privacy parameter, > 0 and finite. */
  epsilon: number;
  /** Privacy parameter, in (0, 1). */
  delta: number;
  /** L2 sensitivity of the query, > 0. */
  sensitivity: number;
}

/**
 * The classic Gaussian sigma = sqrt(2 ln(1.25/delta)) · sensitivity / epsilon
 * (Dwork & Roth 2014, Theorem A.1).
 *
 * @remarks
 * The classic bound is proved only for epsilon < 1; for epsilon >= 1 it may not be private and
 * this function throws. Prefer {@link analyticGaussianSigma}, which is valid for every epsilon
 * and always smaller.
 *
 * @param options - epsilon (in (0, 1)), delta and sensitivity
 * @returns sigma
 * @throws {@link DpError} for a bad `epsilon` (including >= 1), `delta` or `sensitivity`
 * @see https://www.cis.upenn.edu/~aaroth/Papers/privacybook.pdf
 * @example
 * ```ts
 * import { classicGaussianSigma } from "dpkit/mechanisms";
 * classicGaussianSigma({ epsilon: 0.5, delta: 1e-5, sensitivity: 1 }); // 9.69...
 * ```
 */
export function classicGaussianSigma(options: GaussianCalibrationOptions): number {
  const epsilon = requirePositive("epsilon", options?.epsilon);
  const delta = requireOpenProbability("delta", options?.delta);
  const sensitivity = requirePositive("sensitivity", options?.sensitivity);
  if (!(epsilon < 1)) {
    throw new DpError("invalid_parameter", `\`epsilon\` must be < 1 for the classic Gaussian bound. Found ${epsilon}.`, "epsilon");
  }
  return (Math.sqrt(2 * Math.log(1.25 / delta)) * sensitivity) / epsilon;
}

/** Options for {@link analyticGaussianDelta}. */
export interface GaussianDeltaOptions {
  /** Privacy parameter epsilon >= 0. */
  epsilon: number;
  /** Standard deviation of the noise, > 0. */
  sigma: number;
  /** L2 sensitivity, > 0. */
  sensitivity: number;
}

/**
 * The exact delta(epsilon) of the Gaussian mechanism (Balle & Wang 2018, Theorem 8):
 * delta = Φ(Δ/(2σ) - εσ/Δ) - e^ε Φ(-Δ/(2σ) - εσ/Δ).
 *
 * @remarks
 * Computed without cancellation or overflow: with A = Δ/(2σ) - εσ/Δ and B = A - Δ/σ one has
 * e^ε·e^{-B²/2} = e^{-A²/2}, so for A < 0, delta = e^{-A²/2} (erfcx(-A/√2) - erfcx(-B/√2)) / 2.
 *
 * @param options - epsilon, sigma and sensitivity
 * @returns the smallest delta for which the Gaussian mechanism is (epsilon, delta)-DP
 * @throws {@link DpError} for a negative `epsilon` or non-positive `sigma`/`sensitivity`
 * @see https://arxiv.org/abs/1805.06530
 * @example
 * ```ts
 * import { analyticGaussianDelta } from "dpkit/mechanisms";
 * analyticGaussianDelta({ epsilon: 1, sigma: 4, sensitivity: 1 }); // about 4.2e-6
 * ```
 */
export function analyticGaussianDelta(options: GaussianDeltaOptions): number {
  const epsilon = requireNonNegative("epsilon", options?.epsilon);
  const sigma = requirePositive("sigma", options?.sigma);
  const sensitivity = requirePositive("sensitivity", options?.sensitivity);
  return gaussianDeltaUnchecked(epsilon, sigma / sensitivity);
}

/** delta(epsilon) for noise multiplier z = sigma / sensitivity. @internal */
export function gaussianDeltaUnchecked(epsilon: number, z: number): number {
  const a = 1 / (2 * z) - epsilon * z;
  const b = a - 1 / z;
  let delta: number;
  if (a < 0) {
    delta = 0.5 * Math.exp(-0.5 * a * a) * (erfcx(-a * SQRT1_2) - erfcx(-b * SQRT1_2));
  } else {
    // Φ(A) - e^ε Φ(B), with e^ε Φ(B) = e^{-A²/2} erfcx(-B/√2) / 2.
    delta = 1 - standardNormalTail(a) - 0.5 * Math.exp(-0.5 * a * a) * erfcx(-b * SQRT1_2);
  }
  return delta > 0 ? delta : 0;
}

/**
 * The analytic Gaussian mechanism's sigma (Balle & Wang 2018): the smallest sigma for which
 * adding N(0, sigma²) to a query of L2 sensitivity Δ is (epsilon, delta)-DP.
 *
 * @remarks
 * Bisection (on log sigma, to 1e-12 relative) on the exact, decreasing delta(epsilon, sigma) of
 * {@link analyticGaussianDelta}; the upper end of the final bracket is returned, so the result
 * never spends more than (epsilon, delta). Valid for every epsilon > 0 (unlike the classic bound).
 *
 * @param options - epsilon, delta and sensitivity
 * @returns sigma
 * @throws {@link DpError} for a bad `epsilon`, `delta` (must be in (0, 1)) or `sensitivity`
 * @see https://arxiv.org/abs/1805.06530
 * @example
 * ```ts
 * import { analyticGaussianSigma } from "dpkit/mechanisms";
 * analyticGaussianSigma({ epsilon: 1, delta: 1e-5, sensitivity: 1 }); // 3.73...
 * ```
 */
export function analyticGaussianSigma(options: GaussianCalibrationOptions): number {
  const epsilon = requirePositive("epsilon", options?.epsilon);
  const delta = requireOpenProbability("delta", options?.delta);
  const sensitivity = requirePositive("sensitivity", options?.sensitivity);
  return sensitivity * analyticNoiseMultiplier(epsilon, delta);
}

/** The analytic Gaussian noise multiplier sigma / sensitivity. @internal */
export function analyticNoiseMultiplier(epsilon: number, delta: number): number {
  let hi = 1;
  while (gaussianDeltaUnchecked(epsilon, hi) > delta) hi *= 2;
  let lo = hi / 2;
  while (lo > 1e-300 && gaussianDeltaUnchecked(epsilon, lo) <= delta) lo /= 2;
  for (let i = 0; i < 200 && hi / lo - 1 > 1e-13; i++) {
    const mid = Math.sqrt(lo * hi);
    if (gaussianDeltaUnchecked(epsilon, mid) <= delta) hi = mid;
    else lo = mid;
  }
  // A hair of margin for the ~1e-14 relative error of the delta evaluation.
  return hi * (1 + 1e-12);
}
