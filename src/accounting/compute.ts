/**
 * One-call helpers: ε of an event, ε of DP-SGD training.
 * @module
 */
import { DpError, requireInteger, requireOpenProbability, requirePositive, requireProbability } from "../errors.js";
import { type AccountantKind, makeAccountant } from "./accountant.js";
import type { DpEvent } from "./events.js";
import { sampledGaussianStep } from "./sampled-gaussian-step.js";

/** Options of {@link computeEpsilon}. */
export interface ComputeEpsilonOptions {
  /** The whole release (compose several with `composedEvent`). */
  event: DpEvent;
  /** δ in (0, 1). */
  targetDelta: number;
  /** `"rdp"` (default) or `"pld"`. */
  accountant?: AccountantKind;
  /** PLD grid width (PLD only); default 1e-4. */
  valueDiscretizationInterval?: number;
}

/**
 * ε of `event` at `targetDelta` (add-or-remove-one relation).
 *
 * @remarks Uses a fresh accountant of the chosen kind; refuses (throws) unsupported events.
 * @param options - event, target δ, accountant kind
 * @returns ε
 * @throws {@link DpError} `invalid_parameter` for bad arguments, `unsupported_event` for events the accountant cannot bound
 * @example
 * ```ts
 * import { computeEpsilon, gaussianEvent, selfComposedEvent } from "dpkit/accounting";
 * const eps = computeEpsilon({ event: selfComposedEvent(gaussianEvent(5), 10), targetDelta: 1e-5 });
 * ```
 * @see https://arxiv.org/abs/1702.07476
 */
export function computeEpsilon(options: ComputeEpsilonOptions): number {
  if (options === null || typeof options !== "object") {
    throw new DpError("invalid_parameter", "`options` must be an object.", "options");
  }
  const delta = requireOpenProbability("targetDelta", options.targetDelta);
  return epsilonOf(options.accountant, options.valueDiscretizationInterval, options.event, 1, delta);
}

/** Options of {@link computeDpSgdEpsilon}. */
export interface DpSgdAccountingOptions {
  /** Poisson sampling rate q = batch size / dataset size, in [0, 1]. */
  samplingProbability: number;
  /** Noise standard deviation divided by the clipping norm; > 0. */
  noiseMultiplier: number;
  /** Number of steps, a positive integer. */
  steps: number;
  /** δ in (0, 1). */
  targetDelta: number;
  /** `"rdp"` (default) or `"pld"`. */
  accountant?: AccountantKind;
  /** PLD grid width (PLD only); default 1e-4. */
  valueDiscretizationInterval?: number;
}

/** @internal The event of one DP-SGD step with Poisson sampling, options validated (shared with calibration and the CLI). */
export function dpSgdEvent(samplingProbability: number, noiseMultiplier: number): DpEvent {
  const q = requireProbability("samplingProbability", samplingProbability);
  return sampledGaussianStep(requirePositive("noiseMultiplier", noiseMultiplier), { kind: "poisson", samplingProbability: q }).event;
}

/**
 * ε of DP-SGD with Poisson sampling: `steps` compositions of the Poisson-subsampled Gaussian
 * mechanism, add-or-remove-one relation (the setting of TF Privacy's `compute_dp_sgd_privacy`).
 *
 * @remarks Valid only when each batch is a Poisson sample (every example joins independently with
 * probability q). Shuffled fixed-size batches are a different mechanism; dpkit does not account
 * them as Poisson.
 * @param options - sampling probability, noise multiplier, steps, δ, accountant
 * @returns ε
 * @throws {@link DpError} `invalid_parameter` naming the bad argument
 * @example
 * ```ts
 * import { computeDpSgdEpsilon } from "dpkit/accounting";
 * const eps = computeDpSgdEpsilon({ samplingProbability: 256 / 60000, noiseMultiplier: 1.1, steps: 14063, targetDelta: 1e-5 });
 * // ≈ 2.597 (RDP); with accountant: "pld" ≈ 2.38
 * ```
 * @see https://arxiv.org/abs/1607.00133 (Abadi et al. 2016)
 */
export function computeDpSgdEpsilon(options: DpSgdAccountingOptions): number {
  if (options === null || typeof options !== "object") {
    throw new DpError("invalid_parameter", "`options` must be an object.", "options");
  }
  const event = dpSgdEvent(options.samplingProbability, options.noiseMultiplier);
  const steps = requireInteger("steps", options.steps, { min: 1 });
  const delta = requireOpenProbability("targetDelta", options.targetDelta);
  return epsilonOf(options.accountant, options.valueDiscretizationInterval, event, steps, delta);
}

/** ε at `delta` of `count` compositions of `event`, from a fresh accountant of `kind`. @internal */
export function epsilonOf(
  kind: AccountantKind | undefined,
  interval: number | undefined,
  event: DpEvent,
  count: number,
  delta: number,
): number {
  return makeAccountant(kind, { valueDiscretizationInterval: interval }).compose(event, count).getEpsilon(delta);
}
