/**
 * Noise calibration: the Laplace scale, the classic Gaussian sigma (Dwork & Roth 2014) and the
 * analytic Gaussian sigma (Balle & Wang 2018), the smallest sigma for which the Gaussian
 * mechanism is (epsilon, delta)-DP.
 *
 * @see https://arxiv.org/abs/1805.06530 (Balle & Wang, "Improving the Gaussian Mechanism for
 * Differential Privacy: Analytical Calibration and Optimal Denoising", ICML 2018)
 * @module
 */
import { DpError, requireOpenProbability, requirePositive } from "../errors.js";
import { gaussianDelta } from "../accounting/analytic-gaussian.js";

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

/**
 * The analytic Gaussian mechanism's sigma (Balle & Wang 2018): the smallest sigma for which
 * adding N(0, sigma²) to a query of L2 sensitivity Δ is (epsilon, delta)-DP.
 *
 * @remarks
 * Bisection (on log sigma, to 1e-12 relative) on the exact, decreasing delta(epsilon, sigma) of
 * `gaussianDeltaForEpsilon` (`dpkit/accounting`); the upper end of the final bracket is returned,
 * so the result never spends more than (epsilon, delta). Valid for every epsilon > 0 (unlike the classic bound).
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
  while (gaussianDelta(hi, epsilon) > delta) hi *= 2;
  let lo = hi / 2;
  while (lo > 1e-300 && gaussianDelta(lo, epsilon) <= delta) lo /= 2;
  for (let i = 0; i < 200 && hi / lo - 1 > 1e-13; i++) {
    const mid = Math.sqrt(lo * hi);
    if (gaussianDelta(mid, epsilon) <= delta) hi = mid;
    else lo = mid;
  }
  // A hair of margin for the ~1e-14 relative error of the delta evaluation.
  return hi * (1 + 1e-12);
}
