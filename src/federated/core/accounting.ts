/**
 * Client-level accounting for FedAvg: which accountant, which δ.
 * @module
 */
import { makeAccountant, type PrivacyAccountant } from "../../accounting/accountant.js";
import { stepNeighboringRelation } from "../../accounting/sampled-gaussian-step.js";
import { requirePositiveInteger } from "../../errors.js";
import type { NeighboringRelation } from "../../accounting/neighboring.js";
import type { NoisePlacement } from "./aggregator.js";
import type { ClientSelection } from "./selection.js";

/**
 * An RDP accountant with the neighbouring relation the round events need: the relation of the
 * sampled Gaussian step (`sampledGaussianStep`) for the run's selection — add/remove one client
 * for Poisson selection, replace one client for fixed-size selection — and add/remove one for
 * local noise, whose event is not sampled (it already bounds a replaced input).
 *
 * @param options - the selection and noise placement of the run
 * @returns a fresh accountant
 * @example
 * ```ts
 * import { createFederatedAccountant } from "dpkit/federated";
 * const acc = createFederatedAccountant({ selection: { kind: "poisson", samplingProbability: 0.1 } });
 * ```
 */
export function createFederatedAccountant(options: { selection: ClientSelection; noisePlacement?: NoisePlacement }): PrivacyAccountant {
  return makeAccountant("rdp", { neighboringRelation: federatedNeighboringRelation(options) });
}

/**
 * The neighbouring relation of a run's client-level epsilon (see {@link createFederatedAccountant}).
 * @param options - the selection and noise placement of the run
 * @returns `"replaceOne"` for fixed-size selection with server or distributed noise, else `"addOrRemoveOne"`
 * @example
 * ```ts
 * import { federatedNeighboringRelation } from "dpkit/federated";
 * federatedNeighboringRelation({ selection: { kind: "fixed", clientsPerRound: 10 } }); // "replaceOne"
 * ```
 */
export function federatedNeighboringRelation(options: {
  selection: ClientSelection;
  noisePlacement?: NoisePlacement;
}): NeighboringRelation {
  const local = options.noisePlacement === "client-local" || options.noisePlacement === "client-example";
  return stepNeighboringRelation(local ? undefined : options.selection.kind);
}

/**
 * A warning when δ is too large to mean much: larger than 1/N (N people, clients or examples),
 * which permits a mechanism that publishes one participant's data outright, or larger than 0.01,
 * a 1-in-100 chance that the guarantee fails whatever N is (the default 1/N^1.1 is 0.079 for
 * N = 10).
 * @param population - N, the number of participants the guarantee protects
 * @param delta - the δ the epsilon is stated at
 * @returns the warning text, or `undefined` when δ <= min(1/N, 0.01)
 * @example
 * ```ts
 * import { deltaWarning } from "dpkit/federated";
 * deltaWarning(10, 10 ** -1.1); // a warning: delta 0.0794 > 0.01
 * deltaWarning(100_000, 1e-6); // undefined
 * ```
 */
export function deltaWarning(population: number, delta: number): string | undefined {
  const n = requirePositiveInteger("population", population);
  if (!(delta > Math.min(1 / n, MAX_REASONABLE_DELTA))) return undefined;
  const why =
    delta > 1 / n
      ? `larger than 1/N = ${Number((1 / n).toPrecision(3))} for N = ${n}: it permits releasing one participant's data outright`
      : `larger than ${MAX_REASONABLE_DELTA}: a ${Number((100 * delta).toPrecision(2))}% chance that the guarantee fails`;
  return `delta ${Number(delta.toPrecision(3))} is ${why}, so the epsilon means little. Use a smaller delta (well below 1/N), or more participants.`;
}

/** The largest δ {@link deltaWarning} accepts silently, whatever the population. */
export const MAX_REASONABLE_DELTA = 0.01;

/**
 * The default δ for client-level epsilon: 1/N^1.1 (1e-5 for a single client).
 *
 * @remarks For small N this δ is large (0.079 for N = 10): {@link deltaWarning} flags it, and
 * the CLI prints the warning.
 * @param totalClients - N
 * @returns δ
 * @example
 * ```ts
 * import { defaultClientDelta } from "dpkit/federated";
 * defaultClientDelta(100); // ≈ 0.0063
 * ```
 */
export function defaultClientDelta(totalClients: number): number {
  const n = requirePositiveInteger("totalClients", totalClients);
  return n >= 2 ? n ** -1.1 : 1e-5;
}
