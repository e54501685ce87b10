/**
 * The arithmetic of one DP-SGD step on plain `Float32Array`s: clip each example's gradient,
 * sum, add Gaussian noise of standard deviation `noiseMultiplier · l2NormClip`, divide by the
 * *expected* batch size.
 *
 * These are the functions the TensorFlow.js path ({@link dpGradients}, {@link makePrivate})
 * runs on the engine's clipped sum, split apart so the DP-SGD step audit
 * (docs/testing.md section 4) can run the real code tens of thousands of times
 * without a model.
 *
 * The order matters: noise is added to the *sum* (whose sensitivity is `l2NormClip` under
 * add/remove-one neighbours) and the result is divided by the expected batch size `q·N`, a
 * constant. Dividing by the realised batch size would make the output depend on a count that
 * was never noised.
 *
 * @see Abadi et al., "Deep Learning with Differential Privacy", CCS 2016, https://arxiv.org/abs/1607.00133
 * @module
 */
import { DpError, requireNonNegative, requirePositive, requirePositiveInteger } from "../errors.js";
import { addGaussianNoiseInPlace, type GaussianNoiseKind, type PresampledNoise } from "../mechanisms/gaussian-noise.js";
import { checkNoiseWorkerOption, type NoiseWorker, sharedNoiseWorker } from "../mechanisms/noise-prefetch.js";
import { requireSecureRng, type Rng } from "../random/rng.js";

/**
 * Per-example clip factors `min(1, l2NormClip / norm)`; a non-finite norm gets factor 0 (its
 * gradient is dropped, as dpkit zeroes non-finite per-example gradients before clipping).
 *
 * @remarks
 * After scaling by these factors every example's gradient has L2 norm at most `l2NormClip`,
 * which bounds the sensitivity of the sum under add/remove-one neighbours.
 *
 * @param norms - per-example L2 norms before clipping
 * @param l2NormClip - the clip bound C; > 0
 * @returns a new Float32Array of factors in [0, 1]
 * @throws {@link DpError} `invalid_parameter` when `l2NormClip` is not > 0
 * @example
 * ```ts
 * import { clipFactors } from "dpkit/dpsgd";
 * clipFactors(new Float32Array([0.5, 4, NaN]), 1); // [1, 0.25, 0]
 * ```
 */
export function clipFactors(norms: ArrayLike<number>, l2NormClip: number): Float32Array {
  requirePositive("l2NormClip", l2NormClip);
  const out = new Float32Array(norms.length);
  for (let i = 0; i < norms.length; i++) {
    const n = norms[i];
    if (!Number.isFinite(n)) out[i] = 0;
    else out[i] = n > l2NormClip ? l2NormClip / n : 1;
  }
  return out;
}

/** Options for {@link clipAndSum}. */
export interface ClipAndSumOptions {
  /** Per-example gradients, row-major `batchSize × dimension`. */
  perExampleGradients: Float32Array;
  /** Length of one example's gradient. */
  dimension: number;
  /** The clip bound C; > 0. */
  l2NormClip: number;
}

/** Result of {@link clipAndSum}. */
export interface ClipAndSumResult {
  /** Sum over examples of the clipped gradients (length `dimension`). */
  clippedSum: Float32Array;
  /** Each example's L2 norm before clipping (NaN/Infinity for a non-finite gradient). */
  norms: Float32Array;
}

/**
 * Clips each example's flat gradient to L2 norm `l2NormClip` and sums them.
 *
 * @remarks
 * A gradient with any non-finite coordinate is zeroed (contributes nothing) instead of
 * poisoning the sum. The sum then has L2 sensitivity `l2NormClip` under add/remove-one.
 * The tfjs path gets the same quantity from the per-example gradient engine
 * (`clippedGradients`) without materialising per-example gradients.
 *
 * @param options - gradients, dimension and clip bound
 * @returns the clipped sum and the norms before clipping
 * @throws {@link DpError} `invalid_parameter` for a bad clip bound or a length that is not a
 *   multiple of `dimension`
 * @example
 * ```ts
 * import { clipAndSum } from "dpkit/dpsgd";
 * const { clippedSum } = clipAndSum({ perExampleGradients: new Float32Array([3, 4, 0.3, 0.4]), dimension: 2, l2NormClip: 1 });
 * // [0.6 + 0.3, 0.8 + 0.4]
 * ```
 */
export function clipAndSum(options: ClipAndSumOptions): ClipAndSumResult {
  const d = requirePositiveInteger("dimension", options.dimension);
  const c = requirePositive("l2NormClip", options.l2NormClip);
  const g = options.perExampleGradients;
  if (g.length % d !== 0) {
    throw new DpError(
      "invalid_parameter",
      `\`perExampleGradients\` length ${g.length} is not a multiple of \`dimension\` ${d}.`,
      "perExampleGradients",
    );
  }
  const n = g.length / d;
  const sum = new Float64Array(d);
  const norms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let sq = 0;
    const off = i * d;
    for (let j = 0; j < d; j++) sq += g[off + j] * g[off + j];
    const norm = Math.sqrt(sq);
    norms[i] = norm;
    if (!Number.isFinite(norm)) continue; // non-finite gradient: zeroed
    const f = norm > c ? c / norm : 1;
    for (let j = 0; j < d; j++) sum[j] += f * g[off + j];
  }
  return { clippedSum: Float32Array.from(sum), norms };
}

/** Options for {@link privatizeClippedSum}. */
export interface PrivatizeClippedSumOptions {
  /** Sum of per-example gradients each clipped to `l2NormClip` (not modified). */
  clippedSum: Float32Array;
  /** The clip bound C; > 0. */
  l2NormClip: number;
  /** Noise standard deviation divided by C; >= 0 (0 means no noise and no privacy). */
  noiseMultiplier: number;
  /** The expected batch size q·N (not the realised one); > 0. */
  expectedBatchSize: number;
  /** Randomness source; defaults to the secure source. A source that is not `secure` is refused unless `allowInsecureRng` is set. */
  rng?: Rng;
  /** Accept an insecure (seeded) `rng`: the result is then NOT private (tests and simulations). Default false. */
  allowInsecureRng?: boolean;
  /** `"exact"` (default): discrete Gaussian noise on a power-of-two grid; `"continuous"`: floating-point ziggurat noise. See `addGaussianNoise` in `dpkit/mechanisms`. */
  noise?: GaussianNoiseKind;
  /**
   * Draw the exact noise ahead of time on a worker thread (Node only; opt-in): a `NoiseWorker` from
   * `createNoiseWorker` (`dpkit/mechanisms`), or `true` for a process-wide one (started on first use,
   * `unref`'d). Needs exact noise and the default secure source. The same distribution; see docs/dpsgd.md.
   */
  noiseWorker?: boolean | NoiseWorker;
}

/**
 * The noisy average of one DP-SGD step: `(clippedSum + N(0, (noiseMultiplier·l2NormClip)² I)) / expectedBatchSize`.
 *
 * @remarks
 * With a Poisson sample of rate q this is the Poisson-subsampled Gaussian mechanism
 * (`poissonSampledEvent(q, gaussianEvent(noiseMultiplier))`) under add/remove-one neighbours:
 * the sum has L2 sensitivity C and the noise has standard deviation σ·C; dividing by the
 * constant q·N is post-processing. The noise is added by `addGaussianNoise` (`dpkit/mechanisms`)
 * on the secure source: by default the exact discrete Gaussian on a power-of-two grid of about
 * 2^-30·σC (the sum is rounded onto the grid and the rounding, γ·√d, is charged to the noise so
 * that σ still describes the step; immune to the floating-point attack), or with
 * `noise: "continuous"` the floating-point ziggurat. The result is rounded to float32 once. A
 * non-finite entry of `clippedSum` is refused rather than released.
 *
 * @param options - clipped sum, clip bound, noise multiplier, expected batch size, rng
 * @returns a new Float32Array: the privatised average gradient
 * @throws {@link DpError} `invalid_parameter` for a negative noise multiplier, a clip bound or
 *   expected batch size that is not > 0; `non_finite` for a non-finite clipped sum
 * @example
 * ```ts
 * import { privatizeClippedSum } from "dpkit/dpsgd";
 * const avg = privatizeClippedSum({ clippedSum: new Float32Array(8), l2NormClip: 1, noiseMultiplier: 1.1, expectedBatchSize: 256 });
 * ```
 * @see https://arxiv.org/abs/1607.00133
 */
export function privatizeClippedSum(options: PrivatizeClippedSumOptions): Float32Array {
  const [out] = privatizeInPlace([options.clippedSum.slice()], options);
  return out;
}

/**
 * {@link privatizeClippedSum} over several arrays at once, overwriting them: all parts are one
 * vector (one noise stream over their concatenation, so the noise is spherical over the whole model
 * and, for the exact grid, charged for the whole dimension), and each entry becomes
 * `(sum + noise) / b`, rounded to float32 once. The noise is added in one fused pass per part
 * (`addGaussianNoiseInPlace`: no concatenation, no Float64 copies), bit for bit the values of
 * `addGaussianNoise` on the concatenation divided by b. Refuses a non-finite sum entry before
 * anything is written. `presampled`: the noise already drawn from `options.rng` for this release
 * (see `drawExactNoise`), used instead of drawing.
 * @internal
 */
export function privatizeInPlace(
  sums: Float32Array[],
  options: Omit<PrivatizeClippedSumOptions, "clippedSum">,
  presampled?: PresampledNoise,
): Float32Array[] {
  const c = requirePositive("l2NormClip", options.l2NormClip);
  const sigma = requireNonNegative("noiseMultiplier", options.noiseMultiplier);
  const b = requirePositive("expectedBatchSize", options.expectedBatchSize);
  requireSecureRng(options.rng, options.allowInsecureRng);
  checkNoiseWorkerOption(options.noiseWorker, options.rng, options.noise);
  const nw = options.noiseWorker === true ? sharedNoiseWorker() : options.noiseWorker === false ? undefined : options.noiseWorker;
  addGaussianNoiseInPlace(sums, {
    noiseWorker: nw,
    stddev: sigma * c,
    sensitivity: c,
    noise: options.noise,
    rng: options.rng,
    divisor: b,
    name: "clippedSum",
    presampled,
  });
  return sums;
}
