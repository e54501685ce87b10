/**
 * Client-level accounting for FedAvg: which accountant, which δ.
 * @module
 */
import { RdpAccountant } from "../../accounting/rdp/accountant.js";
import { requirePositiveInteger } from "../../errors.js";
import type { NoisePlacement } from "./aggregator.js";
import type { FederatedAccountant } from "./fedavg.js";
import type { ClientSelection } from "./selection.js";

/**
 * An RDP accountant with the neighbouring relation the round events need: add/remove one
 * client for Poisson selection (and for local noise, whose event already bounds a replaced
 * input), replace one client for fixed-size selection (the only relation under which
 * sampling without replacement has an RDP bound, Wang, Balle & Kasiviswanathan 2019).
 *
 * @param options - the selection and noise placement of the run
 * @returns a fresh accountant
 * @example
 * ```ts
 * import { createFederatedAccountant } from "dpkit/federated";
 * const acc = createFederatedAccountant({ selection: { kind: "poisson", samplingProbability: 0.1 } });
 * ```
 */
export function createFederatedAccountant(options: { selection: ClientSelection; noisePlacement?: NoisePlacement }): FederatedAccountant {
  const replace = options.selection.kind === "fixed" && options.noisePlacement !== "client-local" && options.noisePlacement !== "client-example";
  return new RdpAccountant({ neighboringRelation: replace ? "replaceOne" : "addOrRemoveOne" });
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
