/**
 * Secure aggregation as a FedAvg aggregator: {@link SecureAggregator} runs any sum-only
 * aggregator (client-side noise: DP-FedAvg "client-distributed" or the distributed discrete
 * Gaussian) behind the Bonawitz et al. / SecAgg+ protocol, so the server step sees only the sum
 * of the prepared uploads. {@link DistributedDiscreteGaussianAggregator} is the client-noise
 * aggregator whose integer shares sum exactly (Kairouz, Liu & Steinke 2021).
 *
 * In this library the whole round runs in one process (a simulation): the wrapper encodes each
 * upload as its client would, runs the real protocol messages, and decodes the released sum.
 *
 * @see K. Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017.
 * @see P. Kairouz, Z. Liu, T. Steinke, "The Distributed Discrete Gaussian Mechanism for Federated Learning with Secure Aggregation", ICML 2021.
 * @module
 */
import { gaussianEvent, noOpEvent, type DpEvent } from "../../accounting/events.js";
import { DpError, requireInteger, requireOneOf, requirePositive, requireProbability } from "../../errors.js";
import type { Rng } from "../../random/index.js";
import type {
  AggregationContext,
  AggregationResult,
  ClientUpdate,
  ClientUploadContext,
  FederatedAggregator,
  NoisePlacement,
  SumFinalizingAggregator,
} from "../core/aggregator.js";
import { screenUpdates } from "../core/aggregator.js";
import { dpFedAvgRoundEvent } from "../core/dp-aggregator.js";
import { ddgModulusCheck, ddgPrivacy, ddgRoundedL2Bound, type DistributedDiscreteGaussianParameters } from "./ddg.js";
import { decodeSecAggSum, encodeSecAggIntegers, SecAggQuantizer } from "./encoding.js";
import { secAggMinimumThreshold, secAggPlusParameters } from "./graph.js";
import { simulateSecAgg, type SecAggDropStage, SECAGG_DROP_STAGES } from "./simulate.js";
import type { ClientPrivacyPlan } from "../protocol/messages.js";

/** Turns a prepared float upload into integers modulo 2^modulusBits, and a sum back into floats. */
export interface SecAggEncoder {
  readonly modulusBits: number;
  /** Client side: encode one prepared upload (randomised rounding uses `rng`). */
  encode(values: ArrayLike<number>, rng?: Rng): Uint32Array;
  /** Server side: decode the released sum. */
  decodeSum(sum: Uint32Array): Float64Array;
}

/** Options for {@link SecureAggregator}. */
export interface SecureAggregatorOptions {
  /** The sum-only aggregator to run behind secure aggregation (e.g. client-distributed DP-FedAvg). */
  aggregator: SumFinalizingAggregator;
  /**
   * Builds the encoder for a round with `clients` uploads of `length` entries. Default: a
   * {@link SecAggQuantizer} with `clipRange` and `modulusBits`, or the aggregator's own
   * `secAggEncoder` when it has one (the discrete Gaussian's exact integer encoding).
   */
  encoder?: (clients: number, length: number) => SecAggEncoder;
  /** Per-coordinate clip range for the default quantiser. Default 1. */
  clipRange?: number;
  /** Bits of the modulus, 2..32. Default 32. */
  modulusBits?: number;
  /** "complete" (Bonawitz et al.) or "secagg+" (Bell et al.; degree chosen by {@link secAggPlusParameters}). Default "complete". */
  graph?: "complete" | "secagg+";
  /** Dropout rate the SecAgg+ degree and the threshold are planned for, in [0, 0.5). Default 0.1. */
  plannedDropoutRate?: number;
  /** Simulated dropouts inside the protocol: this fraction of uploading clients drops at `dropStage`. Default 0. */
  simulatedDropoutRate?: number;
  /** Stage of the simulated dropouts. Default "maskedInput". */
  dropStage?: SecAggDropStage;
  /** Randomness for the simulated clients and server; defaults to the secure source (a seeded Rng is insecure). */
  rng?: Rng;
}

/** An aggregator that supplies its own exact secure-aggregation encoding. */
interface WithSecAggEncoder {
  secAggEncoder(clients: number, length: number, modulusBits: number): SecAggEncoder;
}

function hasEncoder(a: unknown): a is WithSecAggEncoder {
  return typeof (a as Partial<WithSecAggEncoder>).secAggEncoder === "function";
}

/**
 * Runs a sum-only aggregator behind secure aggregation.
 *
 * @remarks
 * Privacy against the server: it learns the sum of the surviving clients' prepared uploads and
 * nothing else (honest-but-curious, Bonawitz et al.), so client-side noise shares protect each
 * client as the central mechanism on the sum would. The event is the wrapped aggregator's, for
 * the clients whose shares are in the sum. When the protocol aborts (fewer than the threshold
 * survive) nothing is released: the delta is zero and the event `noOp`.
 *
 * @example
 * ```ts
 * import { SecureAggregator, DistributedDiscreteGaussianAggregator } from "dpkit/federated";
 * const agg = new SecureAggregator({
 *   aggregator: new DistributedDiscreteGaussianAggregator({ l2NormClip: 1, granularity: 2 ** -10, localNoiseStddev: 64 }),
 * });
 * agg.name; // "secagg(ddg)"
 * ```
 * @see K. Bonawitz et al., CCS 2017.
 */
export class SecureAggregator implements FederatedAggregator {
  readonly name: string;
  readonly noisePlacement: NoisePlacement;
  private readonly inner: SumFinalizingAggregator;
  private readonly options: SecureAggregatorOptions;
  private readonly modulusBits: number;
  private readonly graph: "complete" | "secagg+";
  private readonly plannedDropoutRate: number;
  private readonly simulatedDropoutRate: number;
  private readonly dropStage: SecAggDropStage;

  /**
   * @param options - see {@link SecureAggregatorOptions}
   * @throws {@link DpError} `invalid_parameter` for bad options
   */
  constructor(options: SecureAggregatorOptions) {
    if (!options || typeof options.aggregator?.finalizeSum !== "function") {
      throw new DpError("invalid_parameter", "`aggregator` must be a sum-finalizing aggregator (client-side noise).", "aggregator");
    }
    this.inner = options.aggregator;
    this.options = options;
    this.name = `secagg(${this.inner.name})`;
    this.noisePlacement = this.inner.noisePlacement;
    this.modulusBits = requireInteger("modulusBits", options.modulusBits ?? 32, { min: 2, max: 32 });
    if (options.clipRange !== undefined) requirePositive("clipRange", options.clipRange);
    this.graph = requireOneOf("graph", options.graph ?? "complete", ["complete", "secagg+"] as const);
    this.plannedDropoutRate = requireProbability("plannedDropoutRate", options.plannedDropoutRate ?? 0.1);
    this.simulatedDropoutRate = requireProbability("simulatedDropoutRate", options.simulatedDropoutRate ?? 0);
    this.dropStage = requireOneOf("dropStage", options.dropStage ?? "maskedInput", SECAGG_DROP_STAGES);
  }

  /** The wrapped aggregator's client plan (clipping and the client's noise share). */
  clientPlan(context: ClientUploadContext): ClientPrivacyPlan {
    return this.inner.clientPlan ? this.inner.clientPlan(context) : { kind: "none" };
  }

  /** The wrapped aggregator's planned event. */
  plannedEvent(context: AggregationContext): DpEvent {
    return this.inner.plannedEvent ? this.inner.plannedEvent(context) : noOpEvent();
  }

  private encoderFor(clients: number, length: number): SecAggEncoder {
    if (this.options.encoder) return this.options.encoder(clients, length);
    if (hasEncoder(this.inner)) return this.inner.secAggEncoder(clients, length, this.modulusBits);
    return new SecAggQuantizer({ clipRange: this.options.clipRange ?? 1, modulusBits: this.modulusBits, clients });
  }

  /**
   * Server side (simulated with the clients): screens the uploads, encodes each one as its
   * client would, runs the secure-aggregation protocol among them and finalises the released sum.
   */
  aggregate(updates: readonly ClientUpdate[], context: AggregationContext): AggregationResult {
    const length = this.inner.uploadLength(context.dimension);
    const { valid, rejected } = screenUpdates(updates, length);
    // An abort releases nothing: zero delta, no privacy spent.
    const nothing = (): AggregationResult => ({
      delta: new Float32Array(context.dimension),
      event: noOpEvent(),
      accepted: 0,
      rejected,
      info: { secAggAborted: 1 },
    });
    const n = valid.length;
    if (n < 2) return nothing();
    const encoder = this.encoderFor(n, length);
    const inputs = valid.map((u) => encoder.encode(u.delta, this.options.rng));
    let degree: number | undefined;
    let threshold = secAggMinimumThreshold(n);
    if (this.graph === "secagg+") {
      const p = secAggPlusParameters({ clients: n, dropoutRate: Math.min(this.plannedDropoutRate, 0.49) });
      if (p.degree < n - 1) {
        degree = p.degree;
        threshold = p.threshold;
      }
    }
    const sim = simulateSecAgg({
      clients: n,
      threshold,
      dimension: length,
      modulusBits: encoder.modulusBits,
      degree,
      inputs,
      dropoutRate: this.simulatedDropoutRate,
      dropStage: this.dropStage,
      rng: this.options.rng,
    });
    if (!sim.sum) return nothing();
    const result = this.inner.finalizeSum(encoder.decodeSum(sim.sum), sim.survivors.length, context);
    result.rejected = [...rejected, ...result.rejected];
    result.info = {
      ...(result.info ?? {}),
      secAggSurvivors: sim.survivors.length,
      secAggThreshold: threshold,
      secAggDegree: sim.degree,
      secAggServerMs: sim.serverMs,
      secAggClientUploadBytes: sim.clientUploadBytes,
    };
    return result;
  }
}

/** Options for {@link DistributedDiscreteGaussianAggregator}. */
export interface DistributedDiscreteGaussianAggregatorOptions {
  /** c: client updates are clipped to this L2 norm. */
  l2NormClip: number;
  /** γ: grid step, a power of two. */
  granularity: number;
  /** σ: each client's discrete Gaussian noise, in grid steps (>= 0.5). */
  localNoiseStddev: number;
  /** β of the conditional rounding; default exp(-1/2). */
  beta?: number;
  /**
   * Report client-sampling amplification by wrapping the effective Gaussian in the selection's
   * sampling event (as DP-FedAvg does). Default false: the round reports `gaussian(z_eff)`
   * alone, which Proposition 14 of Kairouz et al. proves; amplification of the discrete sum via
   * the Gaussian-specific formula is a heuristic (see docs/secagg.md).
   */
  amplifyBySampling?: boolean;
  /** Acceptable probability that the secure sum wraps around the modulus; default 1e-9. */
  overflowProbability?: number;
  /** Accept an insecure (seeded) round rng for the clients' noise: a reproducible simulation that is NOT private. Default false. */
  allowInsecureRng?: boolean;
}

/**
 * Client-side noise with the distributed discrete Gaussian mechanism: each client sends its
 * clipped, randomly rounded update plus N_Z(0, σ²) noise on a grid of step γ; the sum of n shares
 * is private with the effective noise multiplier of {@link ddgPrivacy}.
 *
 * @remarks
 * Neighbouring relation: zero-out (one client's update replaced by zeros, its noise share still
 * in the sum), client level. The event uses n = the number of shares actually summed, so
 * dropouts cost privacy (fewer shares, less noise) and the result says so. Run it behind
 * {@link SecureAggregator}: without it the server sees each (weakly noised) share. A seeded Rng
 * gives no privacy.
 *
 * @example
 * ```ts
 * import { DistributedDiscreteGaussianAggregator } from "dpkit/federated";
 * const ddg = new DistributedDiscreteGaussianAggregator({ l2NormClip: 1, granularity: 2 ** -10, localNoiseStddev: 64 });
 * ddg.noisePlacement; // "client-distributed"
 * ```
 * @see Kairouz, Liu & Steinke, ICML 2021.
 */
export class DistributedDiscreteGaussianAggregator implements SumFinalizingAggregator {
  readonly name = "ddg";
  readonly noisePlacement: NoisePlacement = "client-distributed";
  private readonly options: DistributedDiscreteGaussianAggregatorOptions;

  /**
   * @param options - see {@link DistributedDiscreteGaussianAggregatorOptions}
   * @throws {@link DpError} `invalid_parameter` for bad options
   */
  constructor(options: DistributedDiscreteGaussianAggregatorOptions) {
    this.options = { ...options };
    // Validates c, γ, σ, β (dimension checked per round).
    ddgRoundedL2Bound({ ...options, dimension: 1 });
    if (options.overflowProbability !== undefined) requireProbability("overflowProbability", options.overflowProbability);
  }

  /** The mechanism's parameters for a model of `dimension` entries. */
  parameters(dimension: number): DistributedDiscreteGaussianParameters {
    const { l2NormClip, granularity, localNoiseStddev, beta } = this.options;
    return { l2NormClip, granularity, localNoiseStddev, beta, dimension };
  }

  /** Uploads have the model's length. */
  uploadLength(dimension: number): number {
    return dimension;
  }

  /** The client half as data: the `ddg` plan (c, γ, σ, β). */
  clientPlan(_context: ClientUploadContext): ClientPrivacyPlan {
    const { l2NormClip, granularity, localNoiseStddev, beta } = this.options;
    const plan: ClientPrivacyPlan = { kind: "ddg", l2NormClip, granularity, localNoiseStddev };
    if (beta !== undefined) plan.beta = beta;
    return plan;
  }

  /** The exact integer encoding for secure aggregation (no clipping; the modulus is checked for `clients`). */
  secAggEncoder(clients: number, length: number, modulusBits: number): SecAggEncoder {
    const p = this.parameters(length);
    ddgModulusCheck(p, { clients, modulusBits, overflowProbability: this.options.overflowProbability });
    const g = p.granularity;
    return {
      modulusBits,
      encode: (values) =>
        encodeSecAggIntegers(
          Array.from(values, (v) => Math.round(v / g)),
          modulusBits,
        ),
      decodeSum: (sum) => decodeSecAggSum(sum, modulusBits, 1 / g),
    };
  }

  private event(dimension: number, shares: number, context: AggregationContext): DpEvent {
    if (shares < 1) return noOpEvent();
    const z = ddgPrivacy(this.parameters(dimension), shares).noiseMultiplier;
    return this.options.amplifyBySampling ? dpFedAvgRoundEvent(z, context) : gaussianEvent(z);
  }

  /** The event if `expectedClients` shares arrive. */
  plannedEvent(context: AggregationContext): DpEvent {
    return this.event(context.dimension, Math.max(1, Math.floor(context.expectedClients)), context);
  }

  /** Trusted-server path (no secure aggregation): sums the uploads and finalises. */
  aggregate(updates: readonly ClientUpdate[], context: AggregationContext): AggregationResult {
    const { valid, rejected } = screenUpdates(updates, context.dimension);
    const sum = new Float64Array(context.dimension);
    for (const u of valid) for (let i = 0; i < sum.length; i++) sum[i] += u.delta[i];
    const r = this.finalizeSum(sum, valid.length, context);
    r.rejected = rejected;
    return r;
  }

  /** Server step from the sum of `count` shares: divide by the expected number of clients K. */
  finalizeSum(sum: Float32Array | Float64Array, count: number, context: AggregationContext): AggregationResult {
    const d = context.dimension;
    if (sum.length !== d) throw new DpError("invalid_parameter", `\`sum\` must have length ${d}. Found ${sum.length}.`, "sum");
    const K = requirePositive("expectedClients", context.expectedClients);
    const delta = new Float32Array(d);
    for (let i = 0; i < d; i++) delta[i] = sum[i] / K;
    const info: Record<string, number> = {};
    if (count >= 1) info.effectiveNoiseMultiplier = ddgPrivacy(this.parameters(d), count).noiseMultiplier;
    return { delta, event: this.event(d, count, context), accepted: count, rejected: [], l2NormClip: this.options.l2NormClip, info };
  }
}
