/**
 * `dpkit/mechanisms`: central differential privacy. Laplace and Gaussian mechanisms on a
 * power-of-two grid (immune to the floating-point attack), the geometric mechanism for counts,
 * the exponential mechanism and report-noisy-max (sampled exactly), bounded count/sum/mean, and
 * noise calibration (Laplace scale, classic and analytic Gaussian sigma).
 * @module
 */
export { type NoiseMechanism, type ReleaseConfidenceInterval } from "./types.js";
export {
  analyticGaussianSigma,
  classicGaussianSigma,
  type GaussianCalibrationOptions,
  type LaplaceCalibrationOptions,
  laplaceScaleFor,
} from "./calibration.js";
export { erfcx, standardNormalCdf, standardNormalQuantile, standardNormalTail } from "../math/normal.js";
export { laplaceMechanism, type LaplaceMechanismOptions } from "./laplace.js";
export { gaussianMechanism, type GaussianMechanismOptions } from "./gaussian.js";
export {
  addGaussianNoise,
  type AddGaussianNoiseOptions,
  exactNoiseGrid,
  GAUSSIAN_NOISE_KINDS,
  type GaussianNoiseKind,
} from "./gaussian-noise.js";
export { createNoiseWorker, NoiseWorker } from "./noise-prefetch.js";
export { geometricMechanism, type GeometricMechanismOptions } from "./geometric.js";
export { exponentialMechanism, reportNoisyMaxMechanism, type SelectionMechanism, type SelectionMechanismOptions } from "./exponential.js";
export {
  type AggregateRelease,
  type PrivateBoundedOptions,
  privateCount,
  type PrivateCountOptions,
  privateMean,
  privateSum,
} from "./aggregates.js";
export { noiseSummary, type NoiseSummary, type NoiseSummaryOptions } from "./summary.js";
