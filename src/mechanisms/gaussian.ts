/**
 * The Gaussian mechanism on a power-of-two grid, immune to the floating-point attack.
 *
 * The input is rounded to a multiple of the granularity gamma, an exact discrete Gaussian
 * integer (Canonne, Kamath & Steinke 2020, Algorithm 3) is added to each coordinate, and the
 * sum is scaled by gamma, so every output is an exact multiple of gamma. Rounding moves a
 * d-dimensional input by at most gamma·√d/2 in L2, charged to the sensitivity: Δ + gamma·√d.
 * sigma is calibrated with the analytic Gaussian mechanism (Balle & Wang 2018) by default.
 *
 * @see https://arxiv.org/abs/2004.00010
 * @see https://arxiv.org/abs/1805.06530
 * @see https://github.com/google/differential-privacy/blob/main/common_docs/Secure_Noise_Generation.pdf
 * @module
 */
import { gaussianEvent, type DpEvent } from "../accounting/events.js";
import { DpError, describeValue, requireOneOf, requireOpenProbability, requirePositive, requirePositiveInteger } from "../errors.js";
import { requireSecureRng, type Rng } from "../random/rng.js";
import { discreteGaussianSampler, discreteGaussianVectorSampler } from "../random/discrete-gaussian.js";
import { analyticNoiseMultiplier, classicGaussianSigma } from "./calibration.js";
import { discreteGaussianHalfWidth, intervalAround, requireLevel } from "./confidence.js";
import { defaultGranularity, gridReleases, requirePowerOfTwo } from "./grid.js";
import type { NoiseMechanism, ReleaseConfidenceInterval } from "./types.js";

/** Options for {@link gaussianMechanism}. */
export interface GaussianMechanismOptions {
  /** Privacy parameter of one release, > 0 and finite. */
  epsilon: number;
  /** Privacy parameter of one release, in (0, 1). */
  delta: number;
  /** L2 sensitivity of the (scalar or vector) query under your neighbouring relation, > 0. */
  sensitivity: number;
  /** `"analytic"` (default, Balle & Wang 2018: smallest sigma) or `"classic"` (Dwork & Roth; epsilon < 1 only). */
  calibration?: "analytic" | "classic";
  /** Output grid step, a power of two. Default: the largest power of two <= sigma · 2^-30. */
  granularity?: number;
  /** Largest vector length released at once (the rounding charge is granularity · √dimension). Default 1. */
  dimension?: number;
  /** Randomness source; defaults to the secure source. A source that is not `secure` is refused unless `allowInsecureRng` is set. */
  rng?: Rng;
  /** Accept an insecure (e.g. seeded) `rng` for a reproducible simulation; the mechanism then reports `secure: false` and gives NO privacy. Default false. */
  allowInsecureRng?: boolean;
}

/**
 * Creates a Gaussian mechanism whose outputs are exact multiples of a power-of-two granularity.
 *
 * @remarks
 * Privacy: (epsilon, delta)-DP for a query whose L2 sensitivity under your neighbouring relation
 * is at most `sensitivity`, with sigma = z · (Δ + gamma·√d) where z is the analytic (or classic)
 * noise multiplier for (epsilon, delta). The noise is the discrete Gaussian on the grid, which
 * satisfies exactly the same zCDP/Rényi-DP bound as the continuous Gaussian with the same sigma
 * (CKS 2020, Theorem 4 and Section 2.3); its (epsilon, delta) curve is within the grid
 * resolution of the continuous one. The reported `event` is `gaussian` with noise multiplier z.
 *
 * @param options - epsilon, delta, sensitivity and optional calibration, granularity, dimension, rng
 * @returns a {@link NoiseMechanism}
 * @throws {@link DpError} `invalid_parameter` / `non_finite` naming the bad option
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { gaussianMechanism } from "dpkit/mechanisms";
 * const m = gaussianMechanism({ epsilon: 1, delta: 1e-5, sensitivity: 1, dimension: 3 });
 * const noisy = m.releaseVector([0.25, 1, 7]); // exact multiples of m.granularity
 * ```
 */
export function gaussianMechanism(options: GaussianMechanismOptions): NoiseMechanism {
  const epsilon = requirePositive("epsilon", options?.epsilon);
  const delta = requireOpenProbability("delta", options.delta);
  const sensitivity = requirePositive("sensitivity", options.sensitivity);
  const calibration =
    options.calibration === undefined ? "analytic" : requireOneOf("calibration", options.calibration, ["analytic", "classic"] as const);
  const dimension = options.dimension === undefined ? 1 : requirePositiveInteger("dimension", options.dimension);
  const z = calibration === "analytic" ? analyticNoiseMultiplier(epsilon, delta) : classicGaussianSigma({ epsilon, delta, sensitivity: 1 });
  const granularity =
    options.granularity === undefined ? defaultGranularity(z * sensitivity) : requirePowerOfTwo("granularity", options.granularity);
  const rng = options.rng;
  const secure = requireSecureRng(rng, options.allowInsecureRng);
  const chargedSensitivity = sensitivity + granularity * Math.sqrt(dimension);
  const sigma = z * chargedSensitivity;
  const sigmaGrid = sigma / granularity; // exact: division by a power of two
  if (!(sigmaGrid >= 2 ** -400 && sigmaGrid <= Number.MAX_SAFE_INTEGER)) {
    // Beyond 2^53 grid steps per standard deviation the exact sampler's integers overflow.
    throw new DpError(
      "invalid_parameter",
      `\`granularity\` is ${sigmaGrid > 1 ? "too fine" : "too coarse"} for this noise scale (${sigmaGrid} grid steps per standard deviation; at most 2^53). Found ${describeValue(granularity)}.`,
      "granularity",
    );
  }
  const noise = discreteGaussianSampler(sigmaGrid);
  const noiseVector = discreteGaussianVectorSampler(sigmaGrid);
  const event: DpEvent = gaussianEvent(z);

  return {
    mechanism: "gaussian",
    epsilon,
    delta,
    sensitivity,
    scale: sigma,
    standardDeviation: sigma,
    granularity,
    dimension,
    event,
    secure,
    ...gridReleases({ granularity, dimension, rng, noise, noiseVector }),
    confidenceInterval(level: number, released = 0): ReleaseConfidenceInterval {
      const l = requireLevel(level);
      return intervalAround(released, discreteGaussianHalfWidth(sigmaGrid, l) * granularity, l);
    },
  };
}
