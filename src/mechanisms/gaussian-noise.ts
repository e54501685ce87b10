/**
 * The one place where DP-SGD and DP-FedAvg add Gaussian noise to a vector: exact discrete
 * Gaussian noise on a power-of-two grid by default (immune to the floating-point attack), or the
 * continuous ziggurat (`fillGaussian`) on request.
 *
 * @module
 */
import { DpError, requireNonNegative, requireOneOf, requirePositive } from "../errors.js";
import { discreteGaussianVectorSampler } from "../random/discrete-gaussian.js";
import { fillGaussian } from "../random/gaussian.js";
import { resolveRng, type Rng } from "../random/rng.js";
import { defaultGranularity, fromGridUnits, toGridUnits } from "./grid.js";

/** How {@link addGaussianNoise} draws its noise. */
export type GaussianNoiseKind = "exact" | "continuous";

/** The accepted values of {@link GaussianNoiseKind}. */
export const GAUSSIAN_NOISE_KINDS: readonly GaussianNoiseKind[] = ["exact", "continuous"];

/** Options for {@link addGaussianNoise}. */
export interface AddGaussianNoiseOptions {
  /** Noise standard deviation of the continuous mechanism it stands for (noise multiplier × sensitivity), >= 0. */
  stddev: number;
  /** L2 sensitivity of the vector (the clip bound), > 0: the grid's rounding is charged against it. */
  sensitivity: number;
  /** `"exact"` (default): discrete Gaussian on a power-of-two grid; `"continuous"`: floating-point ziggurat noise (faster to reason about, not attack-immune). */
  noise?: GaussianNoiseKind;
  /** Randomness source; defaults to the secure source (the caller checks `secure`). */
  rng?: Rng;
}

/** Recently used exact samplers, by grid sigma (their tables take milliseconds to certify). */
const samplers = new Map<number, (out: Float64Array, r: Rng) => void>();
const MAX_CACHED = 8;

function exactSampler(sigmaGrid: number): (out: Float64Array, r: Rng) => void {
  let s = samplers.get(sigmaGrid);
  if (s === undefined) {
    s = discreteGaussianVectorSampler(sigmaGrid);
    if (samplers.size >= MAX_CACHED) samplers.delete(samplers.keys().next().value as number);
  } else samplers.delete(sigmaGrid);
  samplers.set(sigmaGrid, s);
  return s;
}

/**
 * The grid an exact release of a `dimension`-long vector uses: granularity gamma (the largest
 * power of two <= stddev·2^-30) and the charged standard deviation stddev·(1 + gamma·√d / Δ).
 *
 * @param stddev - the noise standard deviation of the continuous mechanism, > 0
 * @param sensitivity - the L2 sensitivity Δ, > 0
 * @param dimension - the vector length d
 * @returns `{ granularity, chargedStddev, gridSigma }` (gridSigma = chargedStddev / granularity, exact)
 * @example
 * ```ts
 * import { exactNoiseGrid } from "dpkit/mechanisms";
 * exactNoiseGrid(1.1, 1, 1000).granularity; // 2^-30
 * ```
 */
export function exactNoiseGrid(
  stddev: number,
  sensitivity: number,
  dimension: number,
): { granularity: number; chargedStddev: number; gridSigma: number } {
  const granularity = defaultGranularity(stddev);
  const chargedStddev = stddev * (1 + (granularity * Math.sqrt(dimension)) / sensitivity);
  return { granularity, chargedStddev, gridSigma: chargedStddev / granularity };
}

/**
 * Returns `values` + Gaussian noise of standard deviation `stddev` per coordinate, as DP-SGD's
 * clipped sum and DP-FedAvg's clipped updates need it.
 *
 * @remarks
 * `noise: "exact"` (the default) is the Gaussian mechanism on a power-of-two grid, exactly as
 * `gaussianMechanism` releases vectors: each coordinate is rounded to a multiple of the
 * granularity gamma (the largest power of two <= stddev·2^-30), an exact discrete Gaussian integer
 * Z ~ N_ℤ(0, (sigma'/gamma)²) (the exact discrete ziggurat) is added, and the sum is scaled by
 * gamma, so every output is an exact multiple of gamma and no floating-point rounding of the noise
 * depends on the input. Rounding moves a d-dimensional vector by at most gamma·√d/2, so the
 * rounded vector's sensitivity is Δ + gamma·√d; the noise is charged for it:
 * sigma' = stddev·(1 + gamma·√d/Δ). With noise multiplier z = stddev/Δ the release is then the
 * discrete Gaussian mechanism with sensitivity Δ + gamma·√d and standard deviation
 * z·(Δ + gamma·√d): the same z, so an accountant's `gaussian(z)` event (and its subsampled forms)
 * describes it (the discrete Gaussian satisfies the continuous one's Rényi/zCDP bound at equal
 * sigma, Canonne–Kamath–Steinke 2020). The charge is a relative 2^-30·√d (1e-6 for a million
 * coordinates). `noise: "continuous"` adds `fillGaussian` noise in doubles instead.
 * A zero `stddev` returns a copy of `values` (no noise, no privacy).
 *
 * @param values - the vector (finite numbers)
 * @param options - stddev, sensitivity, noise kind and rng
 * @returns a new Float64Array
 * @throws {@link DpError} `invalid_parameter` for a bad option, `non_finite` for a non-finite value
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { addGaussianNoise } from "dpkit/mechanisms";
 * const noisy = addGaussianNoise([0.5, -1.25], { stddev: 1.1, sensitivity: 1 }); // exact grid noise
 * ```
 */
export function addGaussianNoise(values: ArrayLike<number>, options: AddGaussianNoiseOptions): Float64Array {
  const stddev = requireNonNegative("stddev", options.stddev);
  const sensitivity = requirePositive("sensitivity", options.sensitivity);
  const kind = options.noise === undefined ? "exact" : requireOneOf("noise", options.noise, GAUSSIAN_NOISE_KINDS);
  const d = values.length;
  const out = new Float64Array(d);
  if (stddev === 0 || d === 0) {
    for (let i = 0; i < d; i++) out[i] = values[i];
    return out;
  }
  const r = resolveRng(options.rng);
  if (kind === "continuous") {
    fillGaussian(out, stddev, r);
    for (let i = 0; i < d; i++) out[i] += values[i];
    return out;
  }
  const { granularity, gridSigma } = exactNoiseGrid(stddev, sensitivity, d);
  if (!(gridSigma >= 2 ** 29 && gridSigma < 2 ** 32)) {
    // Only a subnormal stddev gets here (the grid is 2^30 to 2^31 steps per stddev otherwise).
    throw new DpError("invalid_parameter", `\`stddev\` is too small for the exact grid. Found ${stddev}.`, "stddev");
  }
  for (let i = 0; i < d; i++) {
    const v = values[i];
    const k = typeof v === "number" ? Math.round(v / granularity) : NaN; // toGridUnits' rounding
    out[i] = Number.isFinite(k) ? k : toGridUnits(`values[${i}]`, v, granularity);
  }
  const z = new Float64Array(d);
  exactSampler(gridSigma)(z, r);
  for (let i = 0; i < d; i++) out[i] = fromGridUnits(out[i], z[i], granularity);
  return out;
}
