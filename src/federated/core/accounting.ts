/**
 * Client-level accounting for FedAvg: which accountant, which δ.
 * @module
 */
import { makeAccountant, type PrivacyAccountant } from "../../accounting/accountant.js";
import { stepNeighboringRelation } from "../../accounting/sampled-gaussian-step.js";
import { requirePositiveInteger } from "../../errors.js";
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
  const local = options.noisePlacement === "client-local" || options.noisePlacement === "client-example";
  return makeAccountant("rdp", { neighboringRelation: stepNeighboringRelation(local ? undefined : options.selection.kind) });
}

/**
 * The default δ for client-level epsilon: 1/N^1.1 (1e-5 for a single client).
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
