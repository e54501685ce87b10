/**
 * Which clients take part in a round: a uniformly random fixed-size subset (FedAvg's C·N) or
 * Poisson sampling (each client independently with probability q, what privacy amplification
 * by sampling assumes).
 * @module
 */
import { requireInteger, requirePositiveInteger, requireProbability } from "../../errors.js";
import type { Rng } from "../../random/rng.js";
import { poissonSampleIndices, uniformSampleIndices } from "../../random/subsampling.js";

/** How clients are selected each round. */
export type ClientSelection = { kind: "fixed"; clientsPerRound: number } | { kind: "poisson"; samplingProbability: number };

/**
 * A uniformly random subset of `sampleSize` distinct indices from [0, totalClients), in increasing order.
 *
 * @param totalClients - N >= 1
 * @param sampleSize - K in [0, N]
 * @param rng - randomness; defaults to the secure source (a seeded Rng is insecure)
 * @returns the selected client indices
 * @example
 * ```ts
 * import { selectClientsFixed } from "dpkit/federated";
 * selectClientsFixed(100, 10).length; // 10
 * ```
 */
export function selectClientsFixed(totalClients: number, sampleSize: number, rng?: Rng): number[] {
  const n = requirePositiveInteger("totalClients", totalClients);
  const k = requireInteger("sampleSize", sampleSize, { min: 0, max: n });
  return Array.from(uniformSampleIndices({ datasetSize: n, sampleSize: k, rng }));
}

/**
 * Poisson sampling: each of `totalClients` joins independently with probability `samplingProbability`
 * (exact Bernoulli draws).
 *
 * @remarks
 * The realised count varies; DP aggregators divide by the expected count q·N, never the realised one.
 *
 * @param totalClients - N >= 1
 * @param samplingProbability - q in [0, 1]
 * @param rng - randomness; defaults to the secure source (a seeded Rng is insecure)
 * @returns the selected client indices, increasing
 * @example
 * ```ts
 * import { selectClientsPoisson } from "dpkit/federated";
 * selectClientsPoisson(1000, 0.01); // about 10 indices
 * ```
 */
export function selectClientsPoisson(totalClients: number, samplingProbability: number, rng?: Rng): number[] {
  const n = requirePositiveInteger("totalClients", totalClients);
  const q = requireProbability("samplingProbability", samplingProbability);
  return Array.from(poissonSampleIndices({ datasetSize: n, samplingProbability: q, rng }));
}

/**
 * Selects one round's clients by `selection`.
 * @param selection - fixed-size or Poisson
 * @param totalClients - N
 * @param rng - randomness; defaults to the secure source (a seeded Rng is insecure)
 * @returns selected indices and the expected count (K or q·N)
 */
export function selectClients(selection: ClientSelection, totalClients: number, rng?: Rng): { selected: number[]; expected: number } {
  if (selection.kind === "fixed") {
    return { selected: selectClientsFixed(totalClients, selection.clientsPerRound, rng), expected: selection.clientsPerRound };
  }
  return {
    selected: selectClientsPoisson(totalClients, selection.samplingProbability, rng),
    expected: selection.samplingProbability * totalClients,
  };
}
