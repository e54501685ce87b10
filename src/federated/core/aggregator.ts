/**
 * The aggregation interface every FedAvg mode shares: plain weighted averaging, DP-FedAvg with
 * server-side noise, client-side noise (distributed or local DP) and secure aggregation.
 *
 * A round has two halves:
 *
 * 1. **Client side** — each selected client trains, computes its model delta and applies the
 *    aggregator's {@link FederatedAggregator.clientPlan} before upload (in client code,
 *    `privatizeUpdate`). Trusted-server aggregators ask for nothing; client-noise aggregators
 *    have the client clip it, add its noise share and maybe append auxiliary coordinates (the
 *    clipped-indicator bit of adaptive clipping). What comes out is what leaves the device.
 * 2. **Server side** — {@link FederatedAggregator.aggregate} receives the prepared updates that
 *    arrived (dropouts and late clients are simply absent), rejects malformed ones with a reason,
 *    combines the rest and returns the global delta together with the round's {@link DpEvent}.
 *
 * Secure aggregation plugs in between: the server then never sees individual prepared updates,
 * only their coordinate-wise sum. Aggregators whose server step needs nothing but that sum
 * implement {@link SumFinalizingAggregator.finalizeSum}; a secure-aggregation wrapper calls
 * the client plan on each client, securely sums the prepared vectors (all have the same length,
 * {@link SumFinalizingAggregator.uploadLength}), and hands the sum to `finalizeSum`.
 *
 * @module
 */
import type { DpEvent } from "../../accounting/events.js";
import type { Rng } from "../../random/rng.js";
import type { ClientPrivacyPlan } from "../protocol/messages.js";

/** One client's contribution to a round, as uploaded. */
export interface ClientUpdate {
  /** Stable identifier of the client (used in logs and rejection reasons only). */
  clientId: string;
  /**
   * The model delta `w_local - w_global`, flattened (see `flattenWeights`). After the client
   * plan is applied it is the uploaded payload and may be longer than the model (auxiliary
   * coordinates appended; see {@link SumFinalizingAggregator.uploadLength}).
   */
  delta: Float32Array;
  /** Number of local training examples (the FedAvg weight n_k). Non-DP aggregators weight by it. */
  numExamples: number;
}

/** What a client knows when it prepares its upload. */
export interface ClientUploadContext {
  /** Round number (0-based). */
  round: number;
  /** Length of the flattened model (the delta before any auxiliary coordinates). */
  dimension: number;
  /**
   * The number of clients the server expects to contribute this round: K for fixed-size
   * selection, q·N for Poisson selection. Client noise shares are sized by it so that
   * `expectedClients` shares sum to the server-side noise.
   */
  expectedClients: number;
  /**
   * Randomness for the client's noise share and any randomised encoding. Defaults to the secure
   * source; a seeded Rng is **insecure** (simulation only).
   */
  rng?: Rng;
}

/** What the server knows when it aggregates. */
export interface AggregationContext {
  /** Round number (0-based). */
  round: number;
  /** Length of the flattened model. */
  dimension: number;
  /** Total number of clients N in the population. */
  totalClients: number;
  /** Clients selected this round (including those that later dropped out). */
  selectedClients: number;
  /** K (fixed-size selection) or q·N (Poisson): the DP denominator, never the realised count. */
  expectedClients: number;
  /**
   * How clients were selected, for the round's {@link DpEvent}: Poisson with probability `q`,
   * or a uniformly random fixed-size subset.
   */
  selection: { kind: "poisson"; samplingProbability: number } | { kind: "fixed"; sampleSize: number };
  /** Randomness for server-side noise. Defaults to the secure source; a seeded Rng is insecure. */
  rng?: Rng;
}

/** A client update the server refused, and why. */
export interface RejectedUpdate {
  clientId: string;
  reason: string;
}

/** The result of aggregating one round. */
export interface AggregationResult {
  /** The global model delta to hand to the server optimiser (length `dimension`). */
  delta: Float32Array;
  /** What this round spent (client-level); `noOp`/`nonPrivate` for non-DP aggregation. */
  event: DpEvent;
  /** Updates that were combined. */
  accepted: number;
  /** Updates refused (wrong length, non-finite values, bad example count, duplicate id). */
  rejected: RejectedUpdate[];
  /** The clipping norm used this round (DP aggregators). */
  l2NormClip?: number;
  /** Fraction of accepted updates that were clipped (non-private diagnostic, server-side modes only). */
  clippedFraction?: number;
  /** Anything else the aggregator wants to report (e.g. the next adaptive clip). */
  info?: Record<string, number>;
}

/** Where the privacy noise is added. */
export type NoisePlacement = "none" | "server" | "client-distributed" | "client-local" | "client-example";

/**
 * Combines client updates into one global delta. Implementations: `WeightedMeanAggregator`
 * (plain FedAvg), `DpFedAvgAggregator` (server or client noise, adaptive clipping) and the
 * secure-aggregation wrapper in `secagg/`.
 */
export interface FederatedAggregator {
  /** Short name for logs. */
  readonly name: string;
  /** Where noise is added (informs the trust model; see docs/federated.md). */
  readonly noisePlacement: NoisePlacement;
  /**
   * What a client must do to its update before upload, as plain data (the protocol's
   * {@link ClientPrivacyPlan}): clip, add its noise share, or nothing. The server sends it in the
   * task plan; the client applies it in its own code (`privatizeUpdate` in
   * src/federated/client/), so the server's code never holds the function that sees a raw update.
   */
  clientPlan(context: ClientUploadContext): ClientPrivacyPlan;
  /**
   * Server-side step: combines the prepared updates that arrived this round. Never throws on a
   * bad update: it is rejected with a reason. With no valid update the delta is zero (plus
   * noise for DP aggregators, so an empty round still spends and reveals nothing).
   */
  aggregate(updates: readonly ClientUpdate[], context: AggregationContext): AggregationResult;
  /**
   * Optional: the event the next round will report if all goes as planned, so a training loop
   * can stop before a target epsilon is exceeded.
   */
  plannedEvent?(context: AggregationContext): DpEvent;
}

/**
 * An aggregator whose server step depends only on the coordinate-wise SUM of the prepared
 * updates — what secure aggregation can deliver. Client-noise DP aggregators implement it.
 */
export interface SumFinalizingAggregator extends FederatedAggregator {
  /** Length of every prepared upload for a model of `dimension` parameters. */
  uploadLength(dimension: number): number;
  /**
   * Server step from the sum of `count` prepared uploads (length `uploadLength(dimension)`).
   * `count` is only used for diagnostics; the DP denominator is `context.expectedClients`.
   */
  finalizeSum(sum: Float32Array | Float64Array, count: number, context: AggregationContext): AggregationResult;
}

/** True when `aggregator` can be run behind secure aggregation (sum-only server step). */
export function isSumFinalizingAggregator(aggregator: FederatedAggregator): aggregator is SumFinalizingAggregator {
  const a = aggregator as Partial<SumFinalizingAggregator>;
  return typeof a.finalizeSum === "function" && typeof a.uploadLength === "function";
}

/**
 * Checks one uploaded update and returns why it must be rejected, or `undefined` when it is fine:
 * wrong type or length, a non-finite coordinate, a non-positive or non-integer example count.
 *
 * @param update - the upload as received (untrusted)
 * @param expectedLength - the length every upload must have
 * @returns a human-readable reason, or `undefined`
 * @example
 * ```ts
 * import { validateClientUpdate } from "dpkit/federated";
 * validateClientUpdate({ clientId: "a", delta: new Float32Array([NaN]), numExamples: 3 }, 1);
 * // "non-finite value at coordinate 0"
 * ```
 */
export function validateClientUpdate(update: unknown, expectedLength: number): string | undefined {
  if (typeof update !== "object" || update === null) return "update is not an object";
  const u = update as Partial<ClientUpdate>;
  if (typeof u.clientId !== "string") return "clientId is not a string";
  if (!(u.delta instanceof Float32Array)) return "delta is not a Float32Array";
  if (u.delta.length !== expectedLength) return `delta has length ${u.delta.length}, expected ${expectedLength}`;
  if (typeof u.numExamples !== "number" || !Number.isSafeInteger(u.numExamples) || u.numExamples < 1) {
    return `numExamples must be a positive integer, found ${String(u.numExamples)}`;
  }
  const d = u.delta;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) return `non-finite value at coordinate ${i}`;
  }
  return undefined;
}

/**
 * Splits `updates` into valid ones and rejections (validation plus duplicate client ids).
 * @internal
 */
export function screenUpdates(
  updates: readonly ClientUpdate[],
  expectedLength: number,
): { valid: ClientUpdate[]; rejected: RejectedUpdate[] } {
  const valid: ClientUpdate[] = [];
  const rejected: RejectedUpdate[] = [];
  const seen = new Set<string>();
  for (const u of updates) {
    const reason = validateClientUpdate(u, expectedLength);
    const id = typeof (u as Partial<ClientUpdate> | null)?.clientId === "string" ? u.clientId : "<unknown>";
    if (reason !== undefined) rejected.push({ clientId: id, reason });
    else if (seen.has(u.clientId)) rejected.push({ clientId: id, reason: "duplicate update from the same client" });
    else {
      seen.add(u.clientId);
      valid.push(u);
    }
  }
  return { valid, rejected };
}
