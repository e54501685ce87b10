/**
 * Calibration: the noise for a budget, and the inverse questions (steps for a budget).
 *
 * Bracketing then bisection on a monotone ε; the returned value is always one whose ε was
 * computed and found <= the target, so a calibrated training never overspends (the same design as
 * dp_accounting's `calibrate_dp_mechanism`).
 * @module
 */
import {
  DpError,
  describeValue,
  requireFinite,
  requireInteger,
  requireOpenProbability,
  requirePositive,
  requireProbability,
} from "../errors.js";
import { type AccountantKind, makeAccountant } from "./accountant.js";
import { dpSgdEvent, epsilonOf } from "./compute.js";
import type { DpEvent } from "./events.js";

/** Options of {@link calibrateNoiseMultiplier}. */
export interface CalibrateNoiseOptions {
  /** Budget ε > 0. */
  targetEpsilon: number;
  /** δ in (0, 1). */
  targetDelta: number;
  /** Poisson sampling rate in (0, 1]. */
  samplingProbability: number;
  /** Number of steps, a positive integer. */
  steps: number;
  /** `"rdp"` (default) or `"pld"`. */
  accountant?: AccountantKind;
  /**
   * Relative width of the final bracket: the result is at most (1 + tolerance) times the exact
   * smallest multiplier. Default 1e-6 for RDP, 1e-3 for PLD (each PLD evaluation costs ~0.1–0.3 s).
   */
  tolerance?: number;
  /** PLD grid width (PLD only); default 1e-4. */
  valueDiscretizationInterval?: number;
}

const MAX_NOISE_MULTIPLIER = 1e6;

/**
 * The smallest noise multiplier (to the given tolerance) for which DP-SGD with Poisson sampling
 * at rate `samplingProbability` for `steps` steps is (`targetEpsilon`, `targetDelta`)-DP
 * (add-or-remove-one).
 *
 * @remarks The answer's ε is re-computed and is <= `targetEpsilon`: it never overspends.
 * @param options - budget, sampling rate, steps, accountant, tolerance
 * @returns the noise multiplier σ
 * @throws {@link DpError} `invalid_parameter` naming a bad argument, or when no σ <= 1e6 meets the budget
 * @example
 * ```ts
 * import { calibrateNoiseMultiplier } from "dpkit/accounting";
 * const sigma = calibrateNoiseMultiplier({ targetEpsilon: 1, targetDelta: 1e-5, samplingProbability: 256 / 60000, steps: 14063 });
 * // ≈ 2.17849 (dp_accounting: 2.1784886)
 * ```
 * @see https://github.com/google/differential-privacy/blob/main/python/dp_accounting/dp_accounting/mechanism_calibration.py
 */
export function calibrateNoiseMultiplier(options: CalibrateNoiseOptions): number {
  const { target, delta, kind, tolerance, fits } = budgetSearch(options);
  const q = requireProbability("samplingProbability", options.samplingProbability);
  if (!(q > 0))
    throw new DpError("invalid_parameter", "`samplingProbability` must be > 0 to calibrate noise. Found 0.", "samplingProbability");
  const steps = requireInteger("steps", options.steps, { min: 1 });
  const ok = (sigma: number): boolean => fits(dpSgdEvent(q, sigma), steps);
  // Start: 1 for RDP; for PLD the RDP answer (usually an upper bracket, PLD being tighter), which
  // spares slow PLD evaluations at small multipliers.
  const start =
    kind === "pld"
      ? calibrateNoiseMultiplier({ targetEpsilon: target, targetDelta: delta, samplingProbability: q, steps, tolerance: 1e-4 })
      : 1;
  const shrink = kind === "pld" ? 0.85 : 0.5;
  // Bracket: hi with ok(hi), lo without.
  let hi = start;
  let lo: number;
  if (!ok(hi)) {
    do {
      lo = hi;
      hi *= 2;
      if (hi > MAX_NOISE_MULTIPLIER) {
        throw new DpError(
          "invalid_parameter",
          `\`targetEpsilon\` ${target} cannot be met with a noise multiplier <= ${MAX_NOISE_MULTIPLIER}.`,
          "targetEpsilon",
        );
      }
    } while (!ok(hi));
  } else {
    lo = hi * shrink;
    while (ok(lo)) {
      hi = lo;
      lo *= shrink;
      if (lo < 1e-6) return hi;
    }
  }
  return narrow(hi, lo, tolerance, ok);
}

/** Smallest and largest relative tolerance accepted by the calibration searches. */
export const CALIBRATION_TOLERANCE_RANGE = [1e-12, 0.1] as const;

/** Bisection steps are bounded whatever the tolerance (halving a bracket of ratio 2 to 1e-12 takes 40). */
const MAX_BISECTIONS = 200;

function requireTolerance(value: unknown): number {
  const [min, max] = CALIBRATION_TOLERANCE_RANGE;
  const v = requireFinite("tolerance", value);
  // Below ~2^-52 a bracket cannot shrink further (adjacent doubles); above 0.1 the answer is meaningless.
  if (!(v >= min && v <= max))
    throw new DpError("invalid_parameter", `\`tolerance\` must be in [${min}, ${max}]. Found ${describeValue(v)}.`, "tolerance");
  return v;
}

/** The budget every search below checks against: validated ε, δ, accountant and tolerance, and whether an event fits. */
function budgetSearch(options: Omit<SamplingForBudgetOptions, "noiseMultiplier" | "steps">) {
  if (options === null || typeof options !== "object") throw new DpError("invalid_parameter", "`options` must be an object.", "options");
  const target = requirePositive("targetEpsilon", options.targetEpsilon);
  const delta = requireOpenProbability("targetDelta", options.targetDelta);
  const kind = options.accountant ?? "rdp";
  makeAccountant(kind, { valueDiscretizationInterval: options.valueDiscretizationInterval }); // validates the kind and interval
  const tolerance = options.tolerance === undefined ? (kind === "pld" ? 1e-3 : 1e-6) : requireTolerance(options.tolerance);
  const fits = (event: DpEvent, count: number): boolean =>
    epsilonOf(kind, options.valueDiscretizationInterval, event, count, delta) <= target;
  return { target, delta, kind, tolerance, fits };
}

/** Bisects between `fit` (ok) and `unfit` (not ok) until they are within `tolerance` of `fit`; returns the fitting end. */
function narrow(fit: number, unfit: number, tolerance: number, ok: (x: number) => boolean): number {
  for (let i = 0; i < MAX_BISECTIONS && Math.abs(fit - unfit) > tolerance * fit; i++) {
    const mid = 0.5 * (fit + unfit);
    if (mid === fit || mid === unfit) break; // adjacent doubles: nothing left to halve
    if (ok(mid)) fit = mid;
    else unfit = mid;
  }
  return fit;
}

/** Options of {@link stepsForBudget}. */
export interface StepsForBudgetOptions {
  /** Budget ε > 0. */
  targetEpsilon: number;
  /** δ in (0, 1). */
  targetDelta: number;
  /** Poisson sampling rate in [0, 1]. */
  samplingProbability: number;
  /** Noise multiplier > 0. */
  noiseMultiplier: number;
  /** `"rdp"` (default) or `"pld"`. */
  accountant?: AccountantKind;
  /** Upper limit on the search (default 1e9). */
  maxSteps?: number;
  /** PLD grid width (PLD only); default 1e-4. */
  valueDiscretizationInterval?: number;
}

/**
 * The largest number of DP-SGD steps (Poisson sampling) that stays within
 * (`targetEpsilon`, `targetDelta`); 0 when even one step exceeds it.
 *
 * @remarks The returned count's ε is computed and is <= `targetEpsilon`. Returns `maxSteps` when the
 * budget is never exhausted below it.
 * @param options - budget, sampling rate, noise multiplier, accountant
 * @returns a step count >= 0
 * @throws {@link DpError} `invalid_parameter` naming a bad argument
 * @example
 * ```ts
 * import { stepsForBudget } from "dpkit/accounting";
 * const steps = stepsForBudget({ targetEpsilon: 3, targetDelta: 1e-5, samplingProbability: 256 / 60000, noiseMultiplier: 1.1 });
 * ```
 * @see https://arxiv.org/abs/1908.10530
 */
export function stepsForBudget(options: StepsForBudgetOptions): number {
  const { fits } = budgetSearch(options);
  const event = dpSgdEvent(options.samplingProbability, options.noiseMultiplier);
  const maxSteps = options.maxSteps === undefined ? 1e9 : requireInteger("maxSteps", options.maxSteps, { min: 1 });
  return largestFitting((steps) => fits(event, steps), maxSteps);
}

/** Options of {@link samplingProbabilityForBudget}. */
export interface SamplingForBudgetOptions {
  /** Budget ε > 0. */
  targetEpsilon: number;
  /** δ in (0, 1). */
  targetDelta: number;
  /** Noise multiplier > 0. */
  noiseMultiplier: number;
  /** Number of steps, a positive integer. */
  steps: number;
  /** `"rdp"` (default) or `"pld"`. */
  accountant?: AccountantKind;
  /** Relative precision of the answer (default 1e-6 for RDP, 1e-3 for PLD). */
  tolerance?: number;
  /** PLD grid width (PLD only); default 1e-4. */
  valueDiscretizationInterval?: number;
}

/**
 * The largest Poisson sampling rate q (to the given tolerance) at which `steps` DP-SGD steps with
 * `noiseMultiplier` stay within (`targetEpsilon`, `targetDelta`) — "how large a batch can I
 * afford?" (batch size = q × dataset size).
 *
 * @remarks The answer's ε is computed and is <= the target (never overspends); returns 1 when even
 * full batches fit.
 * @param options - budget, noise, steps, accountant
 * @returns q in (0, 1]
 * @throws {@link DpError} `invalid_parameter` naming a bad argument, or when no q > 1e-12 fits
 * @example
 * ```ts
 * import { samplingProbabilityForBudget } from "dpkit/accounting";
 * const q = samplingProbabilityForBudget({ targetEpsilon: 3, targetDelta: 1e-5, noiseMultiplier: 1.1, steps: 14063 });
 * ```
 * @see https://arxiv.org/abs/1908.10530
 */
export function samplingProbabilityForBudget(options: SamplingForBudgetOptions): number {
  const { target, tolerance, fits } = budgetSearch(options);
  const sigma = requirePositive("noiseMultiplier", options.noiseMultiplier);
  const steps = requireInteger("steps", options.steps, { min: 1 });
  const ok = (q: number): boolean => fits(dpSgdEvent(q, sigma), steps);
  if (ok(1)) return 1;
  // Bracket on a log scale: lo fits, hi does not.
  let hi = 1;
  let lo = 0.5;
  while (!ok(lo)) {
    hi = lo;
    lo /= 2;
    if (lo < 1e-12) {
      throw new DpError(
        "invalid_parameter",
        `\`targetEpsilon\` ${target} cannot be met at any sampling rate above 1e-12 with this noise.`,
        "targetEpsilon",
      );
    }
  }
  return narrow(lo, hi, tolerance, ok);
}

/**
 * The largest integer k in [0, max] with `fits(k)`, for a monotone `fits` (true up to some k,
 * false after): doubling from 1, then bisection, O(log k) calls; 0 when even `fits(1)` fails.
 * The one search behind {@link stepsForBudget}, `PrivacyBudget.maxCount` and so every "stop
 * before the budget" in dpkit.
 * @internal
 */
export function largestFitting(fits: (k: number) => boolean, max: number, options: { tryMaxFirst?: boolean } = {}): number {
  if (max < 1) return 0;
  if (options.tryMaxFirst && fits(max)) return max;
  if (!fits(1)) return 0;
  let lo = 1;
  let hi = 2;
  while (hi <= max && fits(hi)) {
    lo = hi;
    hi *= 2;
  }
  if (hi > max) {
    if (!options.tryMaxFirst && fits(max)) return max;
    hi = max;
  }
  // fits(lo), !fits(hi)
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}
