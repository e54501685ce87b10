/**
 * The one constructor of the sampled Gaussian step — a DP-SGD step, a DP-FedAvg round, a local
 * DP-SGD step on a client — together with the neighbouring relation its event is accounted under.
 * @module
 */
import { requireNonNegative } from "../errors.js";
import { gaussianEvent, nonPrivateEvent, poissonSampledEvent, sampledWithoutReplacementEvent, type DpEvent } from "./events.js";
import type { NeighboringRelation } from "./neighboring.js";

/** How the records (examples, clients) of one step are sampled. */
export type StepSampling =
  /** Each record independently with probability `samplingProbability` (the default of DP-SGD). */
  | { kind: "poisson"; samplingProbability: number }
  /** A uniformly random subset of exactly `sampleSize` of `datasetSize` records. */
  | { kind: "fixed"; datasetSize: number; sampleSize: number };

/** A sampled Gaussian step: its event and the relation it must be accounted under. */
export interface SampledGaussianStep {
  /** `poissonSampled(q, gaussian(z))`, `sampledWithoutReplacement(N, m, gaussian(z))`, `gaussian(z)`, or `nonPrivate` for z = 0. */
  event: DpEvent;
  /**
   * `"addOrRemoveOne"` for Poisson sampling (and no sampling); `"replaceOne"` for fixed-size
   * sampling, the only relation under which sampling without replacement has a bound (Wang,
   * Balle & Kasiviswanathan 2019).
   */
  neighboringRelation: NeighboringRelation;
}

/**
 * The neighbouring relation a step with this sampling is accounted under (see
 * {@link SampledGaussianStep.neighboringRelation}).
 * @param sampling - the step's sampling kind, or undefined for none
 * @returns the relation
 * @example
 * ```ts
 * import { stepNeighboringRelation } from "dpkit/accounting";
 * stepNeighboringRelation("fixed"); // "replaceOne"
 * ```
 */
export function stepNeighboringRelation(sampling: StepSampling["kind"] | undefined): NeighboringRelation {
  return sampling === "fixed" ? "replaceOne" : "addOrRemoveOne";
}

/**
 * One step of the sampled Gaussian mechanism: Gaussian noise of `noiseMultiplier` times the L2
 * sensitivity (the clip norm) added to a sum over a sample of the records.
 *
 * @remarks
 * The event's noise multiplier is relative to the add/remove sensitivity; under `"replaceOne"`
 * the accountants double the sensitivity themselves. A multiplier of 0 releases the sum without
 * noise: the event is `nonPrivate`; Poisson sampling at rate 1 is no sampling: the event is `gaussian`.
 *
 * @param noiseMultiplier - z >= 0
 * @param sampling - Poisson or fixed-size sampling; omit for a step on every record
 * @returns the event and the neighbouring relation to account it under
 * @throws {@link DpError} `invalid_parameter` for a negative multiplier or bad sampling parameters
 * @example
 * ```ts
 * import { RdpAccountant, sampledGaussianStep } from "dpkit/accounting";
 * const step = sampledGaussianStep(1.1, { kind: "poisson", samplingProbability: 256 / 60000 });
 * new RdpAccountant({ neighboringRelation: step.neighboringRelation }).compose(step.event, 14063);
 * ```
 * @see https://arxiv.org/abs/1908.10530 (Mironov, Talwar & Zhang 2019)
 */
export function sampledGaussianStep(noiseMultiplier: number, sampling?: StepSampling): SampledGaussianStep {
  const z = requireNonNegative("noiseMultiplier", noiseMultiplier);
  const neighboringRelation = stepNeighboringRelation(sampling?.kind);
  if (z === 0) return { event: nonPrivateEvent(), neighboringRelation };
  const g = gaussianEvent(z);
  // Poisson sampling at rate 1 takes every record: the step is the plain Gaussian mechanism.
  if (sampling === undefined || (sampling.kind === "poisson" && sampling.samplingProbability === 1))
    return { event: g, neighboringRelation };
  const event =
    sampling.kind === "poisson"
      ? poissonSampledEvent(sampling.samplingProbability, g)
      : sampledWithoutReplacementEvent(sampling.datasetSize, sampling.sampleSize, g);
  return { event, neighboringRelation };
}
