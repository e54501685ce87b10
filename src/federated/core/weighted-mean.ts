/**
 * Plain FedAvg aggregation: the example-weighted mean of client deltas (McMahan et al. 2017).
 * @module
 */
import { nonPrivateEvent } from "../../accounting/events.js";
import type { AggregationContext, AggregationResult, ClientUpdate, ClientUploadContext, FederatedAggregator } from "./aggregator.js";
import { screenUpdates } from "./aggregator.js";
import type { ClientPrivacyPlan } from "../protocol/messages.js";

/**
 * FedAvg's server step without privacy: Δ = Σ_k n_k Δ_k / Σ_k n_k over the updates that arrived.
 *
 * @remarks
 * No privacy: the round's event is `nonPrivate`. Malformed updates (wrong length, non-finite
 * values, bad example counts, duplicate ids) are rejected with a reason and do not affect the
 * mean of the others. Sums are accumulated in double precision.
 *
 * @example
 * ```ts
 * import { WeightedMeanAggregator } from "dpkit/federated";
 * const agg = new WeightedMeanAggregator();
 * const r = agg.aggregate(
 *   [{ clientId: "a", delta: new Float32Array([1]), numExamples: 1 },
 *    { clientId: "b", delta: new Float32Array([4]), numExamples: 3 }],
 *   { round: 0, dimension: 1, totalClients: 2, selectedClients: 2, expectedClients: 2,
 *     selection: { kind: "fixed", sampleSize: 2 } });
 * r.delta[0]; // 3.25
 * ```
 * @see McMahan et al., "Communication-Efficient Learning of Deep Networks from Decentralized Data", AISTATS 2017.
 */
export class WeightedMeanAggregator implements FederatedAggregator {
  readonly name = "fedavg";
  readonly noisePlacement = "none" as const;

  /** Identity: the raw delta is uploaded. */
  clientPlan(_context: ClientUploadContext): ClientPrivacyPlan {
    return { kind: "none" };
  }

  /** The example-weighted mean of the valid updates (zero when none is valid). */
  aggregate(updates: readonly ClientUpdate[], context: AggregationContext): AggregationResult {
    const { valid, rejected } = screenUpdates(updates, context.dimension);
    const sum = new Float64Array(context.dimension);
    let total = 0;
    for (const u of valid) {
      const w = u.numExamples;
      total += w;
      const d = u.delta;
      for (let i = 0; i < d.length; i++) sum[i] += w * d[i];
    }
    const delta = new Float32Array(context.dimension);
    if (total > 0) for (let i = 0; i < delta.length; i++) delta[i] = sum[i] / total;
    return { delta, event: nonPrivateEvent(), accepted: valid.length, rejected };
  }
}
