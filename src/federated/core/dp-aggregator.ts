/**
 * DP-FedAvg aggregation (McMahan, Ramage, Talwar & Zhang 2018) with the noise on the server or
 * on the clients, and adaptive clipping (Andrew, Thakkar, McMahan & Ramaswamy 2021).
 *
 * Notation of the papers: C is the clip (`l2NormClip`), z the noise multiplier, K the expected
 * number of contributing clients per round (`expectedClients`), q the client sampling rate,
 * γ the target quantile, η_C the clip learning rate, σ_b the noise on the clipped-count query.
 *
 * @module
 */
import type { DpEvent } from "../../accounting/events.js";
import { gaussianEvent, nonPrivateEvent } from "../../accounting/events.js";
import { sampledGaussianStep } from "../../accounting/sampled-gaussian-step.js";
import { DpError, requireInRange, requireNonNegative, requireOneOf, requirePositive } from "../../errors.js";
import { requireSecureRng, type Rng } from "../../random/rng.js";
import { fillGaussian } from "../../random/gaussian.js";
import { addGaussianNoise, GAUSSIAN_NOISE_KINDS, type GaussianNoiseKind } from "../../mechanisms/gaussian-noise.js";
import type {
  AggregationContext,
  AggregationResult,
  ClientUpdate,
  ClientUploadContext,
  NoisePlacement,
  SumFinalizingAggregator,
} from "./aggregator.js";
import { screenUpdates } from "./aggregator.js";
import { clipToL2Norm } from "./vector.js";
import type { ClientPrivacyPlan } from "../protocol/messages.js";

/** Where DP-FedAvg adds its Gaussian noise. */
export type DpNoisePlacement = "server" | "client-distributed" | "client-local";

/** Every {@link DpNoisePlacement}. */
export const DP_NOISE_PLACEMENTS: readonly DpNoisePlacement[] = ["server", "client-distributed", "client-local"];

/** Adaptive clipping (Andrew et al. 2021): the clip follows a private estimate of a quantile of update norms. */
export interface AdaptiveClippingOptions {
  /** γ: the quantile of update norms the clip tracks. Default 0.5. */
  targetQuantile?: number;
  /** η_C: geometric learning rate, C ← C·exp(−η_C (b̄ − γ)). Default 0.2. */
  learningRate?: number;
  /**
   * σ_b: standard deviation of the noise on the sum of clipped-indicator bits. Default
   * max(K/20, z) (the paper's K/20, raised where K is small so the delta noise stays close to z).
   */
  bitNoiseStddev?: number;
}

/** Options for {@link DpFedAvgAggregator}. */
export interface DpFedAvgOptions {
  /** z: noise standard deviation divided by the client-level L2 sensitivity C. >= 0 (0: clipping only, no privacy). */
  noiseMultiplier: number;
  /** C: every client's update is clipped to this L2 norm (the initial value under adaptive clipping). */
  l2NormClip: number;
  /** Where the noise is added. Default "server". */
  noisePlacement?: DpNoisePlacement;
  /** Enable adaptive clipping (true for the defaults). Not available with "client-local". */
  adaptiveClipping?: boolean | AdaptiveClippingOptions;
  /**
   * "client-distributed" only: clients size their noise share for this many surviving
   * contributors (default: `expectedClients`). If fewer shares arrive, the round's noise is
   * smaller and its event says so (z·sqrt(arrived/minimumClients)). Oversizing shares (a smaller
   * value) buys robustness to dropouts with extra noise.
   */
  minimumClients?: number;
  /** Randomness for server-side noise when the context gives none. Defaults to the secure source; a source that is not `secure` is refused unless `allowInsecureRng` is set. */
  rng?: Rng;
  /** Accept an insecure (seeded) `rng`, here or in a round's context, for a reproducible simulation that is NOT private. Default false. */
  allowInsecureRng?: boolean;
  /**
   * "server" placement: `"exact"` (default) adds discrete Gaussian noise on a power-of-two grid
   * (immune to the floating-point attack; `addGaussianNoise` in `dpkit/mechanisms`),
   * `"continuous"` floating-point ziggurat noise. Client-side noise follows the client's plan.
   */
  noise?: GaussianNoiseKind;
}

/**
 * The noise multiplier left for the delta query when adaptive clipping spends part of the budget
 * on the clipped-count query: z_Δ = (z^-2 − (2σ_b)^-2)^(-1/2) (Andrew et al. 2021, Thm 1).
 *
 * @param noiseMultiplier - z, the total noise multiplier
 * @param bitNoiseStddev - σ_b
 * @returns z_Δ (>= z)
 * @throws {@link DpError} `invalid_parameter` when 2σ_b <= z (nothing would be left for the delta)
 * @example
 * ```ts
 * import { deltaNoiseMultiplier } from "dpkit/federated";
 * deltaNoiseMultiplier(1, 5); // ≈ 1.005
 * ```
 * @see Andrew et al., "Differentially Private Learning with Adaptive Clipping", NeurIPS 2021.
 */
export function deltaNoiseMultiplier(noiseMultiplier: number, bitNoiseStddev: number): number {
  requirePositive("noiseMultiplier", noiseMultiplier);
  requirePositive("bitNoiseStddev", bitNoiseStddev);
  const rest = noiseMultiplier ** -2 - (2 * bitNoiseStddev) ** -2;
  if (!(rest > 0)) {
    throw new DpError(
      "invalid_parameter",
      `\`bitNoiseStddev\` must be > noiseMultiplier/2 = ${noiseMultiplier / 2} for adaptive clipping. Found ${bitNoiseStddev}.`,
      "bitNoiseStddev",
    );
  }
  return rest ** -0.5;
}

/**
 * The client-level event of one DP-FedAvg round with client noise multiplier `noiseMultiplier`:
 * Poisson selection gives `poissonSampled(q, gaussian(z))`; fixed-size selection gives
 * `sampledWithoutReplacement(N, K, gaussian(z))`, which accountants bound under the
 * replace-one relation (a uniformly random K-subset; see docs/federated.md).
 *
 * @param noiseMultiplier - z > 0 (0 gives `nonPrivate`)
 * @param context - the round's selection
 * @returns the round's event
 * @example
 * ```ts
 * import { dpFedAvgRoundEvent } from "dpkit/federated";
 * dpFedAvgRoundEvent(1, { totalClients: 100, selection: { kind: "poisson", samplingProbability: 0.1 } });
 * ```
 */
export function dpFedAvgRoundEvent(noiseMultiplier: number, context: Pick<AggregationContext, "totalClients" | "selection">): DpEvent {
  const s = context.selection;
  const sampling = s.kind === "poisson" ? s : { kind: "fixed" as const, datasetSize: context.totalClients, sampleSize: s.sampleSize };
  return sampledGaussianStep(noiseMultiplier, sampling).event;
}

/**
 * DP-FedAvg: clip every client update to L2 norm C, sum, add Gaussian noise of standard
 * deviation z·C to the sum, divide by the expected number of clients K (never the realised count).
 *
 * @remarks
 * Privacy (client level, add/remove one client with all their data): each round is the Gaussian
 * mechanism with noise multiplier z on a sum of sensitivity C, run on the selected clients;
 * its event is `poissonSampled(q, gaussian(z))` for Poisson selection (see
 * {@link dpFedAvgRoundEvent} for fixed-size selection). Noise placement:
 * - `"server"`: clients upload raw deltas; the server clips and adds N(0, (zC)²) to the sum.
 *   The server must be trusted: it sees every update.
 * - `"client-distributed"`: each client clips and adds N(0, (zC)²/K); K shares sum to the
 *   server's noise. Private against the server only if it sees just the sum (secure
 *   aggregation, see {@link SumFinalizingAggregator}); fewer arriving shares mean less noise and
 *   the event reports the effective z.
 * - `"client-local"`: each client clips and adds the full N(0, (zC)²) before upload: local DP
 *   against anyone. The event is the local guarantee per participation, `gaussian(z/2)` (two
 *   inputs of one client differ by up to 2C in L2 after clipping; no amplification, the
 *   server sees who uploads). The mean carries K times the variance of the other modes.
 *
 * Adaptive clipping (Andrew et al. 2021): clients also report b = 1[‖Δ‖ <= C] − ½ (noise σ_b
 * on the sum); the server estimates the unclipped fraction b̄ and sets C ← C·exp(−η_C(b̄ − γ)).
 * The delta then uses z_Δ = (z^-2 − (2σ_b)^-2)^(-1/2) so the round as a whole is still
 * `gaussian(z)` (one Gaussian mechanism on the joint vector).
 *
 * Updates are weighted equally (not by example count): weighting by n_k would make the
 * sensitivity depend on the data.
 *
 * @example
 * ```ts
 * import { DpFedAvgAggregator } from "dpkit/federated";
 * import { SeededRng } from "dpkit/random";
 * const agg = new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 0.5, rng: new SeededRng(1), allowInsecureRng: true }); // seeded: NOT private
 * const r = agg.aggregate(
 *   [{ clientId: "a", delta: new Float32Array([3, 4]), numExamples: 10 }],
 *   { round: 0, dimension: 2, totalClients: 100, selectedClients: 1, expectedClients: 10,
 *     selection: { kind: "poisson", samplingProbability: 0.1 } });
 * r.event; // poissonSampled(0.1, gaussian(1))
 * ```
 * @see McMahan et al., "Learning Differentially Private Recurrent Language Models", ICLR 2018.
 * @see Andrew et al., "Differentially Private Learning with Adaptive Clipping", NeurIPS 2021.
 */
export class DpFedAvgAggregator implements SumFinalizingAggregator {
  readonly name: string;
  readonly noisePlacement: NoisePlacement;
  /** z (total, including the adaptive-clipping share). */
  readonly noiseMultiplier: number;
  private clip: number;
  private readonly placement: DpNoisePlacement;
  private readonly adaptive: Required<AdaptiveClippingOptions> | undefined;
  private readonly bitNoiseOption: number | undefined;
  private readonly minimumClients: number | undefined;
  private readonly rng: Rng | undefined;
  private readonly allowInsecureRng: boolean;
  private readonly noise: GaussianNoiseKind;

  /**
   * @param options - see {@link DpFedAvgOptions}
   * @throws {@link DpError} `invalid_parameter` for a bad option or adaptive clipping with local noise
   */
  constructor(options: DpFedAvgOptions) {
    this.noiseMultiplier = requireNonNegative("noiseMultiplier", options.noiseMultiplier);
    this.clip = requirePositive("l2NormClip", options.l2NormClip);
    this.placement = requireOneOf("noisePlacement", options.noisePlacement ?? "server", DP_NOISE_PLACEMENTS);
    this.noisePlacement = this.placement;
    this.name = `dp-fedavg(${this.placement})`;
    if (options.minimumClients !== undefined) this.minimumClients = requirePositive("minimumClients", options.minimumClients);
    this.rng = options.rng;
    this.allowInsecureRng = options.allowInsecureRng === true;
    requireSecureRng(this.rng, this.allowInsecureRng);
    this.noise = options.noise === undefined ? "exact" : requireOneOf("noise", options.noise, GAUSSIAN_NOISE_KINDS);
    const a = options.adaptiveClipping;
    if (a) {
      if (this.placement === "client-local") {
        throw new DpError(
          "invalid_parameter",
          '`adaptiveClipping` is not available with noisePlacement "client-local".',
          "adaptiveClipping",
        );
      }
      const o = a === true ? {} : a;
      this.adaptive = {
        targetQuantile: requireInRange("targetQuantile", o.targetQuantile ?? 0.5, 0, 1),
        learningRate: requireNonNegative("learningRate", o.learningRate ?? 0.2),
        bitNoiseStddev: 0, // resolved per round (default depends on K)
      };
      if (o.bitNoiseStddev !== undefined) this.bitNoiseOption = requirePositive("bitNoiseStddev", o.bitNoiseStddev);
      if (this.noiseMultiplier === 0) {
        throw new DpError("invalid_parameter", "`adaptiveClipping` needs `noiseMultiplier` > 0. Found 0.", "noiseMultiplier");
      }
    }
  }

  /** The clip C the next round will use (changes every round under adaptive clipping). */
  get l2NormClip(): number {
    return this.clip;
  }

  /** The event a round will report if every expected share arrives (used to stop before a target epsilon). */
  plannedEvent(context: AggregationContext): DpEvent {
    if (this.placement === "client-local") return this.noiseMultiplier > 0 ? gaussianEvent(this.noiseMultiplier / 2) : nonPrivateEvent();
    return dpFedAvgRoundEvent(this.noiseMultiplier, context);
  }

  /** Whether adaptive clipping is on. */
  get adaptiveClipping(): boolean {
    return this.adaptive !== undefined;
  }

  /** Uploads carry one extra coordinate (the clipped-indicator bit) for client-side adaptive clipping. */
  uploadLength(dimension: number): number {
    return dimension + (this.adaptive && this.placement !== "server" ? 1 : 0);
  }

  private bitNoise(expectedClients: number): number {
    return this.bitNoiseOption ?? Math.max(expectedClients / 20, this.noiseMultiplier);
  }

  private deltaMultiplier(expectedClients: number): number {
    if (!this.adaptive) return this.noiseMultiplier;
    return deltaNoiseMultiplier(this.noiseMultiplier, this.bitNoise(expectedClients));
  }

  /**
   * The client half as data: "server" → `none` (the raw delta is uploaded); "client-local" →
   * `clip-local` (C, z); "client-distributed" → `clip-distributed` with the share's standard
   * deviation z_Δ·C/√m (m = `minimumClients` or K) and, under adaptive clipping, the indicator
   * coordinate's σ_b/√m. What the server sends in a task plan.
   */
  clientPlan(context: ClientUploadContext): ClientPrivacyPlan {
    if (this.placement === "server") return { kind: "none" };
    if (this.placement === "client-local") return { kind: "clip-local", l2NormClip: this.clip, noiseMultiplier: this.noiseMultiplier };
    const m = this.minimumClients ?? context.expectedClients;
    const plan: ClientPrivacyPlan = {
      kind: "clip-distributed",
      l2NormClip: this.clip,
      noiseStddev: (this.deltaMultiplier(context.expectedClients) * this.clip) / Math.sqrt(m),
    };
    if (this.adaptive) plan.indicatorNoiseStddev = this.bitNoise(context.expectedClients) / Math.sqrt(m);
    return plan;
  }

  /** Server side: see the class description. Malformed uploads are rejected with a reason. */
  aggregate(updates: readonly ClientUpdate[], context: AggregationContext): AggregationResult {
    if (this.placement === "server") return this.aggregateServer(updates, context);
    const len = this.uploadLength(context.dimension);
    const { valid, rejected } = screenUpdates(updates, len);
    const sum = new Float64Array(len);
    for (const u of valid) for (let i = 0; i < len; i++) sum[i] += u.delta[i];
    const result = this.finalize(sum, valid.length, context);
    result.rejected = rejected;
    return result;
  }

  /**
   * Server step from the SUM of prepared uploads (what secure aggregation delivers): client-noise
   * placements only.
   * @throws {@link DpError} `invalid_state` for "server" placement, whose clients upload raw,
   *   unclipped deltas: a sum of those has no bounded sensitivity (use "client-distributed"
   *   behind secure aggregation)
   */
  finalizeSum(sum: Float32Array | Float64Array, count: number, context: AggregationContext): AggregationResult {
    if (this.placement === "server") {
      throw new DpError(
        "invalid_state",
        '`finalizeSum` is not available with noisePlacement "server": the server must clip each update itself. Use "client-distributed" behind secure aggregation.',
        "noisePlacement",
      );
    }
    return this.finalize(sum, count, context);
  }

  private finalize(sum: Float32Array | Float64Array, count: number, context: AggregationContext): AggregationResult {
    const d = context.dimension;
    const len = this.uploadLength(d);
    if (sum.length !== len) {
      throw new DpError("invalid_parameter", `\`sum\` must have length ${len}. Found ${sum.length}.`, "sum");
    }
    const K = requirePositive("expectedClients", context.expectedClients);
    requireSecureRng(context.rng ?? this.rng, this.allowInsecureRng);
    const clip = this.clip;
    const total = new Float64Array(len);
    total.set(sum);
    let zEffective = this.noiseMultiplier;
    const info: Record<string, number> = {};
    if (this.placement === "server") {
      // Exact discrete Gaussian on a power-of-two grid by default (see addGaussianNoise).
      const stddev = this.deltaMultiplier(K) * clip;
      total.set(addGaussianNoise(total.subarray(0, d), { stddev, sensitivity: clip, noise: this.noise, rng: context.rng ?? this.rng }));
    } else if (this.placement === "client-distributed") {
      const m = this.minimumClients ?? K;
      if (count < m) {
        zEffective = this.noiseMultiplier * Math.sqrt(count / m);
        info.shareShortfall = m - count;
      }
    } else {
      // Local: the sum carries count independent full-noise draws; the central guarantee is
      // stronger than the local one reported as the event.
      info.centralNoiseMultiplier = this.noiseMultiplier * Math.sqrt(Math.max(count, 1));
    }
    const delta = new Float32Array(d);
    for (let i = 0; i < d; i++) delta[i] = total[i] / K;
    let event: DpEvent;
    if (this.placement === "client-local") event = this.noiseMultiplier > 0 ? gaussianEvent(this.noiseMultiplier / 2) : nonPrivateEvent();
    else event = zEffective > 0 ? dpFedAvgRoundEvent(zEffective, context) : nonPrivateEvent();
    const result: AggregationResult = { delta, event, accepted: count, rejected: [], l2NormClip: clip, info };
    if (this.adaptive && this.placement !== "server") this.updateClip(total[d], K, info);
    return result;
  }

  private aggregateServer(updates: readonly ClientUpdate[], context: AggregationContext): AggregationResult {
    const d = context.dimension;
    const { valid, rejected } = screenUpdates(updates, d);
    const sum = new Float64Array(d);
    let clippedCount = 0;
    let bitSum = 0;
    for (const u of valid) {
      const { clipped, wasClipped } = clipToL2Norm(u.delta, this.clip);
      if (wasClipped) clippedCount++;
      bitSum += wasClipped ? -0.5 : 0.5;
      for (let i = 0; i < d; i++) sum[i] += clipped[i];
    }
    const K = context.expectedClients;
    const result = this.finalize(sum, valid.length, context);
    result.rejected = rejected;
    result.clippedFraction = valid.length > 0 ? clippedCount / valid.length : 0;
    if (this.adaptive) {
      const noisyBits = bitSum + fillGaussian(new Float64Array(1), this.bitNoise(K), context.rng ?? this.rng)[0];
      this.updateClip(noisyBits, K, result.info ?? {});
    }
    return result;
  }

  private updateClip(noisyCenteredBitSum: number, K: number, info: Record<string, number>): void {
    const a = this.adaptive;
    if (!a) return;
    const unclippedFraction = noisyCenteredBitSum / K + 0.5;
    this.clip = this.clip * Math.exp(-a.learningRate * (unclippedFraction - a.targetQuantile));
    info.estimatedUnclippedFraction = unclippedFraction;
    info.nextL2NormClip = this.clip;
  }
}
