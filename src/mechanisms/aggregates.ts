/**
 * Bounded aggregates: count, sum and mean with contribution bounding by clamping.
 *
 * Each record contributes once (add/remove neighbours). Values are clamped to [lower, upper]
 * (NaN is replaced by the clamped 0, ±Infinity by the bounds: bad data is bounded, never
 * propagated and never the cause of an error), rounded to the output grid, summed exactly in
 * integer grid units, and released with the grid Laplace / geometric mechanism. An empty
 * dataset gets noise like any other, not an error.
 *
 * @see https://github.com/google/differential-privacy/blob/main/common_docs/Secure_Noise_Generation.pdf
 * @module
 */
import { composedEvent, laplaceEvent, type DpEvent } from "../accounting/events.js";
import { DpError, describeValue, requireBounds, requireNumericArray, requirePositive } from "../errors.js";
import { requireSecureRng, resolveRng, type Rng } from "../random/rng.js";
import { discreteLaplaceSampler } from "../random/discrete-laplace.js";
import { geometricMechanism } from "./geometric.js";
import { clampToGrid, defaultGranularity, requirePowerOfTwo } from "./grid.js";

/** A released aggregate and what it spent. */
export interface AggregateRelease {
  /** The noisy value. */
  value: number;
  /** Epsilon spent (at most the requested epsilon). */
  epsilon: number;
  /** What the release spent. */
  event: DpEvent;
  /** Standard deviation of the noise added (for the mean: of the noisy sum, before division). */
  standardDeviation: number;
  /** `false` when the noise came from an insecure source accepted with `allowInsecureRng`: NOT private. */
  secure: boolean;
}

/** Options for {@link privateCount}. */
export interface PrivateCountOptions {
  /** The records (only their number is used). */
  data: ArrayLike<unknown>;
  /** Privacy parameter, > 0 and finite. */
  epsilon: number;
  /** Randomness source; defaults to the secure source. A source that is not `secure` is refused unless `allowInsecureRng` is set. */
  rng?: Rng;
  /** Accept an insecure (e.g. seeded) `rng` for a reproducible simulation; the result then reports `secure: false` and gives NO privacy. Default false. */
  allowInsecureRng?: boolean;
}

/** Options for {@link privateSum} and {@link privateMean}. */
export interface PrivateBoundedOptions {
  /** The values, one per record (array or typed array of numbers). */
  data: ArrayLike<number>;
  /** Clamping lower bound (finite). */
  lower: number;
  /** Clamping upper bound (finite, >= lower). */
  upper: number;
  /** Privacy parameter, > 0 and finite. */
  epsilon: number;
  /** Output grid step (a power of two); default about 2^-30 of the noise scale. */
  granularity?: number;
  /** Randomness source; defaults to the secure source. A source that is not `secure` is refused unless `allowInsecureRng` is set. */
  rng?: Rng;
  /** Accept an insecure (e.g. seeded) `rng` for a reproducible simulation; the result then reports `secure: false` and gives NO privacy. Default false. */
  allowInsecureRng?: boolean;
}

function requireData(data: unknown): ArrayLike<number> {
  if (data === null || data === undefined || typeof data !== "object") {
    throw new DpError("invalid_parameter", `\`data\` must be an array of numbers. Found ${describeValue(data)}.`, "data");
  }
  return requireNumericArray("data", data);
}

function clamp(x: number, lower: number, upper: number): number {
  if (Number.isNaN(x)) x = 0;
  return x < lower ? lower : x > upper ? upper : x;
}

/**
 * Sum of round(clamp(x_i - shift)/gamma) in exact integer grid units (bigint).
 * @internal
 */
function exactGridSum(data: ArrayLike<number>, lower: number, upper: number, shift: number, granularity: number): bigint {
  let total = 0n;
  let partial = 0;
  for (let i = 0; i < data.length; i++) {
    partial += Math.round((clamp(data[i], lower, upper) - shift) / granularity);
    if (partial > 2 ** 52 || partial < -(2 ** 52)) {
      total += BigInt(partial);
      partial = 0;
    }
  }
  return total + BigInt(partial);
}

/**
 * A differentially private count of records (geometric mechanism, sensitivity 1).
 *
 * @remarks
 * Privacy: epsilon-DP under add/remove-one-record neighbours. The output is an integer (it may
 * be negative for tiny counts; clamp it yourself if you want, which is post-processing).
 *
 * @param options - data, epsilon and optional rng
 * @returns the noisy count and its event
 * @throws {@link DpError} for a bad `epsilon` or non-array `data`
 * @example
 * ```ts
 * import { privateCount } from "dpkit/mechanisms";
 * privateCount({ data: ["a", "b", "c"], epsilon: 1 }).value; // 3 ± noise
 * ```
 */
export function privateCount(options: PrivateCountOptions): AggregateRelease {
  const data = options?.data;
  // An array of records, not any object with a length: a string would count its characters.
  if (!Array.isArray(data) && !(ArrayBuffer.isView(data) && !(data instanceof DataView))) {
    throw new DpError("invalid_parameter", `\`data\` must be an array of records. Found ${describeValue(data)}.`, "data");
  }
  const m = geometricMechanism({ epsilon: options.epsilon, sensitivity: 1, rng: options.rng, allowInsecureRng: options.allowInsecureRng });
  return {
    value: m.release((data as ArrayLike<unknown>).length),
    epsilon: m.epsilon,
    event: m.event,
    standardDeviation: m.standardDeviation,
    secure: m.secure,
  };
}

interface SumParts {
  value: number;
  epsilon: number;
  event: DpEvent;
  standardDeviation: number;
}

function noisySum(
  data: ArrayLike<number>,
  lower: number,
  upper: number,
  shift: number,
  sensitivity: number,
  epsilon: number,
  granularityOption: number | undefined,
  rng: Rng | undefined,
): SumParts {
  const granularity =
    granularityOption === undefined ? defaultGranularity(sensitivity / epsilon) : requirePowerOfTwo("granularity", granularityOption);
  // A clamped value rounded to the grid has magnitude <= sensitivity + granularity/2; charge a full step.
  const charged = sensitivity + granularity;
  const t = Math.ceil(charged / epsilon / granularity);
  const noise = discreteLaplaceSampler(t);
  const total = exactGridSum(data, lower, upper, shift, granularity);
  const noisy = total + BigInt(noise(resolveRng(rng)));
  const scale = t * granularity;
  const q = Math.exp(-1 / t);
  return {
    // Post-processing: an overflow is clamped to the largest finite multiple of the granularity.
    value: clampToGrid(Number(noisy) * granularity, granularity),
    epsilon: charged / scale,
    event: laplaceEvent(scale / charged),
    standardDeviation: (granularity * Math.sqrt(2 * q)) / -Math.expm1(-1 / t),
  };
}

/**
 * A differentially private sum of values clamped to [lower, upper].
 *
 * @remarks
 * Privacy: epsilon-DP under add/remove-one-record neighbours: one record changes the clamped sum
 * by at most max(|lower|, |upper|), plus one grid step for the rounding, which is charged. The
 * sum is computed exactly in integer grid units, so floating-point summation cannot inflate the
 * sensitivity.
 *
 * @param options - data, lower, upper, epsilon and optional granularity and rng
 * @returns the noisy sum and its event
 * @throws {@link DpError} for a bad `epsilon`, `lower > upper`, bounds both 0, or non-numeric `data`
 * @example
 * ```ts
 * import { privateSum } from "dpkit/mechanisms";
 * privateSum({ data: [1, 2, 30], lower: 0, upper: 10, epsilon: 1 }).value; // 13 ± noise
 * ```
 */
export function privateSum(options: PrivateBoundedOptions): AggregateRelease {
  const epsilon = requirePositive("epsilon", options?.epsilon);
  const [lower, upper] = requireBounds("lower", options.lower, "upper", options.upper);
  const data = requireData(options.data);
  const sensitivity = Math.max(Math.abs(lower), Math.abs(upper));
  if (!(sensitivity > 0)) {
    throw new DpError("invalid_parameter", "`upper` must be non-zero when `lower` is 0: the sum would be constant. Found 0.", "upper");
  }
  const secure = requireSecureRng(options.rng, options.allowInsecureRng);
  return { ...noisySum(data, lower, upper, 0, sensitivity, epsilon, options.granularity, options.rng), secure };
}

/**
 * A differentially private mean of values clamped to [lower, upper].
 *
 * @remarks
 * Privacy: epsilon-DP under add/remove-one-record neighbours. Half the budget releases a noisy
 * count (geometric mechanism), half a noisy sum of the values shifted by the midpoint
 * (sensitivity (upper - lower)/2, the approach of Google's BoundedMean); the mean is
 * midpoint + sum / max(1, count), clamped to [lower, upper] (post-processing). An empty dataset
 * returns a noisy value inside the bounds.
 *
 * @param options - data, lower, upper, epsilon and optional granularity and rng
 * @returns the noisy mean and the composed event of its two releases
 * @throws {@link DpError} for a bad `epsilon`, `lower > upper` or non-numeric `data`
 * @example
 * ```ts
 * import { privateMean } from "dpkit/mechanisms";
 * privateMean({ data: [1, 2, 3, 4], lower: 0, upper: 5, epsilon: 1 }).value; // about 2.5
 * ```
 */
export function privateMean(options: PrivateBoundedOptions): AggregateRelease {
  const epsilon = requirePositive("epsilon", options?.epsilon);
  const [lower, upper] = requireBounds("lower", options.lower, "upper", options.upper);
  const data = requireData(options.data);
  const mid = lower + (upper - lower) / 2;
  const count = geometricMechanism({ epsilon: epsilon / 2, sensitivity: 1, rng: options.rng, allowInsecureRng: options.allowInsecureRng });
  const noisyCount = count.release(data.length);
  const half = (upper - lower) / 2;
  let sum: SumParts;
  if (half > 0) {
    sum = noisySum(data, lower, upper, mid, half, epsilon / 2, options.granularity, options.rng);
  } else {
    sum = { value: 0, epsilon: 0, event: { kind: "noOp" }, standardDeviation: 0 };
  }
  const raw = mid + sum.value / Math.max(1, noisyCount);
  const value = raw < lower ? lower : raw > upper ? upper : raw;
  return {
    value: value + 0,
    epsilon: count.epsilon + sum.epsilon,
    event: composedEvent([count.event, sum.event]),
    standardDeviation: sum.standardDeviation,
    secure: count.secure,
  };
}
