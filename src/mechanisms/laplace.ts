/**
 * The Laplace mechanism on a power-of-two grid, immune to the floating-point attack.
 *
 * The input is rounded to a multiple of the granularity gamma (a power of two), an exact
 * discrete Laplace integer is added (Canonne, Kamath & Steinke 2020, Algorithm 2), and the sum
 * is scaled by gamma: every output is an exact multiple of gamma whatever the input, so the low
 * bits of the output carry no information (Mironov 2012). The rounding moves each coordinate
 * by at most gamma/2, which is charged to the sensitivity: L1 sensitivity Δ + d·gamma.
 * This is the approach of Google's "Secure Noise Generation" (differential-privacy library).
 *
 * @see https://github.com/google/differential-privacy/blob/main/common_docs/Secure_Noise_Generation.pdf
 * @see https://arxiv.org/abs/2004.00010
 * @module
 */
import { laplaceEvent, type DpEvent } from "../accounting/events.js";
import { DpError, describeValue, requirePositive, requirePositiveInteger } from "../errors.js";
import { requireSecureRng, type Rng } from "../random/rng.js";
import { discreteLaplaceSampler } from "../random/discrete-laplace.js";
import { discreteLaplaceHalfWidth, intervalAround, requireLevel } from "./confidence.js";
import { defaultGranularity, gridReleases, requirePowerOfTwo } from "./grid.js";

export { requireVector } from "./grid.js";
import type { NoiseMechanism, ReleaseConfidenceInterval } from "./types.js";

/** Options for {@link laplaceMechanism}. */
export interface LaplaceMechanismOptions {
  /** Privacy parameter of one release, > 0 and finite. */
  epsilon: number;
  /** L1 sensitivity of the (scalar or vector) query under the neighbouring relation you use, > 0. */
  sensitivity: number;
  /**
   * Output grid step, a power of two. Default: the largest power of two <= (sensitivity /
   * epsilon) · 2^-30, i.e. about 2^30 grid steps per unit of noise scale.
   */
  granularity?: number;
  /** Largest vector length released at once (the rounding charge is dimension · granularity). Default 1. */
  dimension?: number;
  /** Randomness source; defaults to the secure source. A source that is not `secure` is refused unless `allowInsecureRng` is set. */
  rng?: Rng;
  /** Accept an insecure (e.g. seeded) `rng` for a reproducible simulation; the mechanism then reports `secure: false` and gives NO privacy. Default false. */
  allowInsecureRng?: boolean;
}

/**
 * Creates a Laplace mechanism whose outputs are exact multiples of a power-of-two granularity.
 *
 * @remarks
 * Privacy: epsilon-DP for a query whose L1 sensitivity under your neighbouring relation
 * (add/remove or replace-one) is at most `sensitivity`. The noise is discrete Laplace on the
 * grid with scale b = ceil((Δ + d·gamma) / (epsilon·gamma)) · gamma, so the grid rounding is
 * paid for and the real epsilon is at most the requested one. The reported `event` is
 * `laplace` with noise multiplier b / (Δ + d·gamma); the pure-DP bound is exact, and
 * accountants that treat the event as the continuous Laplace are accurate to the grid
 * resolution (2^-30 of the scale by default).
 *
 * @param options - epsilon, sensitivity and optional granularity, dimension and rng
 * @returns a {@link NoiseMechanism}
 * @throws {@link DpError} `invalid_parameter` / `non_finite` naming the bad option
 * @see https://github.com/google/differential-privacy/blob/main/common_docs/Secure_Noise_Generation.pdf
 * @example
 * ```ts
 * import { laplaceMechanism } from "dpkit/mechanisms";
 * const m = laplaceMechanism({ epsilon: 1, sensitivity: 1 });
 * const noisy = m.release(42.5);          // an exact multiple of m.granularity
 * const ci = m.confidenceInterval(0.95, noisy);
 * ```
 */
export function laplaceMechanism(options: LaplaceMechanismOptions): NoiseMechanism {
  const epsilon = requirePositive("epsilon", options?.epsilon);
  const sensitivity = requirePositive("sensitivity", options.sensitivity);
  const dimension = options.dimension === undefined ? 1 : requirePositiveInteger("dimension", options.dimension);
  const granularity =
    options.granularity === undefined ? defaultGranularity(sensitivity / epsilon) : requirePowerOfTwo("granularity", options.granularity);
  const rng = options.rng;
  const secure = requireSecureRng(rng, options.allowInsecureRng);
  const chargedSensitivity = sensitivity + dimension * granularity;
  const t = Math.ceil(chargedSensitivity / epsilon / granularity); // scale in grid units
  if (!(t >= 1 && t <= Number.MAX_SAFE_INTEGER)) {
    throw new DpError(
      "invalid_parameter",
      `\`granularity\` is too fine for this noise scale (${t} grid steps per unit of scale). Found ${describeValue(granularity)}.`,
      "granularity",
    );
  }
  const scale = t * granularity;
  const realEpsilon = chargedSensitivity / scale;
  const q = Math.exp(-1 / t);
  const standardDeviation = (granularity * Math.sqrt(2 * q)) / -Math.expm1(-1 / t);
  const event: DpEvent = laplaceEvent(scale / chargedSensitivity);
  const noise = discreteLaplaceSampler(t);

  return {
    mechanism: "laplace",
    epsilon: realEpsilon,
    delta: 0,
    sensitivity,
    scale,
    standardDeviation,
    granularity,
    dimension,
    event,
    secure,
    ...gridReleases({ granularity, dimension, rng, noise }),
    confidenceInterval(level: number, released = 0): ReleaseConfidenceInterval {
      const l = requireLevel(level);
      return intervalAround(released, discreteLaplaceHalfWidth(t, l) * granularity, l);
    },
  };
}
