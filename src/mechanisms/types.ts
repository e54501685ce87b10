/**
 * The shape every additive-noise mechanism shares.
 * @module
 */
import type { DpEvent } from "../accounting/events.js";

/** A two-sided confidence interval for a noisy release. */
export interface ReleaseConfidenceInterval {
  /** Coverage probability in (0, 1): the true value lies in [lower, upper] at least this often. */
  level: number;
  /** released - halfWidth. */
  lower: number;
  /** released + halfWidth. */
  upper: number;
  /** Half the width of the interval (same for every coordinate of a vector release). */
  halfWidth: number;
}

/**
 * An additive-noise mechanism with a fixed privacy cost per release.
 *
 * @remarks
 * Every `release` / `releaseVector` call spends {@link NoiseMechanism.event} once; compose the
 * events of repeated calls with `selfComposedEvent(event, count)`.
 */
export interface NoiseMechanism {
  /** Which noise: `"laplace"`, `"gaussian"` (both on a power-of-two grid) or `"geometric"` (integers). */
  readonly mechanism: "laplace" | "gaussian" | "geometric";
  /** Epsilon of one release (at most the requested epsilon; the grid rounding is already charged). */
  readonly epsilon: number;
  /** Delta of one release (0 for Laplace and geometric). */
  readonly delta: number;
  /** The sensitivity the caller declared (L1 for Laplace/geometric, L2 for Gaussian). */
  readonly sensitivity: number;
  /** The noise parameter actually used: the Laplace scale b, or the Gaussian sigma, in output units. */
  readonly scale: number;
  /** Standard deviation of the noise on each coordinate. */
  readonly standardDeviation: number;
  /** Every output is an exact multiple of this power of two (1 for the geometric mechanism); an output beyond the double range is clamped to the largest finite multiple (±Number.MAX_VALUE for granularity <= 2^971), which is post-processing. */
  readonly granularity: number;
  /** Largest vector length one release may have (the rounding charge was computed for it). */
  readonly dimension: number;
  /** What one release spends. */
  readonly event: DpEvent;
  /** `false` when the noise comes from an insecure source accepted with `allowInsecureRng`: the releases are NOT private. */
  readonly secure: boolean;
  /** Releases one noisy value. */
  release(value: number): number;
  /** Releases a noisy vector (one release of a vector query of the declared sensitivity). */
  releaseVector(values: ArrayLike<number>): Float64Array;
  /**
   * The interval that holds the true value with probability at least `level`, centred on
   * `released` (default 0: the interval of the noise itself).
   */
  confidenceInterval(level: number, released?: number): ReleaseConfidenceInterval;
}
