/**
 * What a release will look like before you make it: the calibrated noise, its standard
 * deviation and a confidence interval.
 * @module
 */
import type { DpEvent } from "../accounting/events.js";
import { DpError, describeValue, requireOneOf } from "../errors.js";
import { requireLevel } from "./confidence.js";
import { gaussianMechanism } from "./gaussian.js";
import { geometricMechanism } from "./geometric.js";
import { laplaceMechanism } from "./laplace.js";
import type { NoiseMechanism } from "./types.js";
import type { Rng } from "../random/rng.js";

/** Options for {@link noiseSummary}. */
export interface NoiseSummaryOptions {
  /** `"laplace"`, `"gaussian"` or `"geometric"`. */
  mechanism: "laplace" | "gaussian" | "geometric";
  /** Privacy parameter, > 0. */
  epsilon: number;
  /** For `"gaussian"`: delta in (0, 1). */
  delta?: number;
  /** Sensitivity (L1 for Laplace/geometric, L2 for Gaussian), > 0. Default 1. */
  sensitivity?: number;
  /** Confidence level of the interval, in (0, 1). Default 0.95. */
  level?: number;
  /** For `"gaussian"`: `"analytic"` (default) or `"classic"`. */
  calibration?: "analytic" | "classic";
}

/** The noise a mechanism adds, summarised. */
export interface NoiseSummary {
  mechanism: "laplace" | "gaussian" | "geometric";
  epsilon: number;
  delta: number;
  sensitivity: number;
  /** Laplace scale b or Gaussian sigma actually used. */
  scale: number;
  /** Standard deviation of the noise. */
  standardDeviation: number;
  /** Output grid step (1 for geometric). */
  granularity: number;
  /** Confidence level of `halfWidth`. */
  level: number;
  /** The noise lies within ±halfWidth with probability at least `level`. */
  halfWidth: number;
  /** What one release spends. */
  event: DpEvent;
}

/**
 * Calibrates a mechanism and reports its noise: scale, standard deviation and the half-width of
 * a `level` confidence interval (a release r then has the interval r ± halfWidth).
 *
 * @remarks
 * The figures are those of the real mechanism (grid rounding and its sensitivity charge
 * included), built with {@link laplaceMechanism}, {@link gaussianMechanism} or
 * {@link geometricMechanism}; nothing is released and no budget is spent.
 *
 * @param options - mechanism, epsilon, delta (Gaussian), sensitivity, level, calibration
 * @returns a {@link NoiseSummary}
 * @throws {@link DpError} naming the bad option
 * @example
 * ```ts
 * import { noiseSummary } from "dpkit/mechanisms";
 * const s = noiseSummary({ mechanism: "gaussian", epsilon: 1, delta: 1e-5, sensitivity: 1 });
 * console.log(s.scale, s.halfWidth); // 3.73..., 7.31...
 * ```
 */
export function noiseSummary(options: NoiseSummaryOptions): NoiseSummary {
  const kind = requireOneOf("mechanism", options?.mechanism, ["laplace", "gaussian", "geometric"] as const);
  const level = options.level === undefined ? 0.95 : requireLevel(options.level);
  const m = createNoiseMechanism({ ...options, mechanism: kind });
  return summarizeNoiseMechanism(kind, m, level, m.confidenceInterval(level).halfWidth);
}

/**
 * Builds the Laplace, Gaussian or geometric mechanism that {@link noiseSummary} describes (shared
 * with the `dpkit noise` command, which also releases a value with it).
 * @internal
 */
export function createNoiseMechanism(options: NoiseSummaryOptions & { rng?: Rng; allowInsecureRng?: boolean }): NoiseMechanism {
  const kind = requireOneOf("mechanism", options?.mechanism, ["laplace", "gaussian", "geometric"] as const);
  const sensitivity = options.sensitivity ?? 1;
  const { epsilon, rng, allowInsecureRng } = options;
  // Options that only the Gaussian uses are refused elsewhere, not silently ignored.
  if (kind !== "gaussian") {
    if (options.delta !== undefined)
      throw new DpError(
        "invalid_parameter",
        `\`delta\` applies only to the Gaussian mechanism; ${kind} is pure epsilon-DP. Found ${describeValue(options.delta)}.`,
        "delta",
      );
    if (options.calibration !== undefined)
      throw new DpError(
        "invalid_parameter",
        `\`calibration\` applies only to the Gaussian mechanism. Found ${describeValue(options.calibration)}.`,
        "calibration",
      );
  }
  if (kind === "laplace") return laplaceMechanism({ epsilon, sensitivity, rng, allowInsecureRng });
  if (kind === "gaussian")
    return gaussianMechanism({
      epsilon,
      delta: options.delta as number,
      sensitivity,
      calibration: options.calibration,
      rng,
      allowInsecureRng,
    });
  return geometricMechanism({ epsilon, sensitivity, rng, allowInsecureRng });
}

/** The calibration facts of a mechanism as a {@link NoiseSummary}. @internal */
export function summarizeNoiseMechanism(
  kind: NoiseSummary["mechanism"],
  m: NoiseMechanism,
  level: number,
  halfWidth: number,
): NoiseSummary {
  return {
    mechanism: kind,
    epsilon: m.epsilon,
    delta: m.delta,
    sensitivity: m.sensitivity,
    scale: m.scale,
    standardDeviation: m.standardDeviation,
    granularity: m.granularity,
    level,
    halfWidth,
    event: m.event,
  };
}
