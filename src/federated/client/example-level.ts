/**
 * Example-level DP in federated learning: every client runs DP-SGD (dpkit/dpsgd) locally, so its
 * upload is already private with respect to each of its examples.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { DpEvent } from "../../accounting/events.js";
import { nonPrivateEvent, selfComposedEvent } from "../../accounting/events.js";
import { sampledGaussianStep } from "../../accounting/sampled-gaussian-step.js";
import { dpApplyGradients, dpGradients } from "../../dpsgd/gradients.js";
import { poissonSampleIndices } from "../../random/subsampling.js";
import type { PerExampleLoss } from "../../dpsgd/engine/types.js";
import { requireNonNegative, requirePositive, requirePositiveInteger, requireProbability } from "../../errors.js";
import type { AggregationContext, AggregationResult, ClientUpdate, ClientUploadContext, FederatedAggregator } from "../core/aggregator.js";
import { gatherBatch, type ClientDataset } from "./local-training.js";
import type { Rng } from "../../random/rng.js";
import type { LocalTrainer } from "../simulation/simulated-clients.js";
import type { ClientPrivacyPlan } from "../protocol/messages.js";
import { WeightedMeanAggregator } from "../core/weighted-mean.js";
import { flattenWeights, setFlatWeights } from "./weights.js";

/** Options for {@link dpSgdLocalTrainer}. */
export interface DpSgdLocalTrainerOptions {
  /** Shape of one example. */
  inputShape: number[];
  /** q: each local step Poisson-samples every local example with this probability. */
  localSamplingProbability: number;
  /** T: DP-SGD steps per round, the same for every client. */
  localSteps: number;
  /** Per-example clip C. */
  l2NormClip: number;
  /** σ / C. */
  noiseMultiplier: number;
  /** Local learning rate. Default 0.1. */
  learningRate?: number;
  /** Per-example loss (default "sparseCategoricalCrossentropy" for softmax models). */
  loss?: PerExampleLoss;
}

/**
 * The example-level event of one client's round: T steps of the Poisson-subsampled Gaussian,
 * `selfComposed(poissonSampled(q, gaussian(z)), T)`.
 * @param options - q, T, z
 * @returns the event
 * @example
 * ```ts
 * import { dpSgdLocalEvent } from "dpkit/federated";
 * dpSgdLocalEvent({ localSamplingProbability: 0.05, localSteps: 20, noiseMultiplier: 1 });
 * ```
 */
export function dpSgdLocalEvent(
  options: Pick<DpSgdLocalTrainerOptions, "localSamplingProbability" | "localSteps" | "noiseMultiplier">,
): DpEvent {
  const z = requireNonNegative("noiseMultiplier", options.noiseMultiplier);
  if (z === 0) return nonPrivateEvent();
  const q = requireProbability("localSamplingProbability", options.localSamplingProbability);
  return selfComposedEvent(
    sampledGaussianStep(z, { kind: "poisson", samplingProbability: q }).event,
    requirePositiveInteger("localSteps", options.localSteps),
  );
}

/**
 * A {@link LocalTrainer} running DP-SGD on each client: T steps, each on a Poisson sample of
 * the local data at rate q, per-example clipping to C, Gaussian noise zC from dpkit's secure
 * sampler (or the round's rng in a seeded simulation), divided by the expected batch q·n_k.
 *
 * @remarks
 * Guarantee: example level (add/remove one example of one client), per round
 * {@link dpSgdLocalEvent}, against anyone who sees the client's upload, including the server.
 * Examples live on one client each, so the rounds compose per client (parallel composition
 * across clients); use with {@link ExampleLevelDpAggregator} to report it.
 *
 * @param options - see {@link DpSgdLocalTrainerOptions}
 * @returns a trainer for `createSimulatedClients({ trainer })`
 * @example
 * ```ts
 * import { dpSgdLocalTrainer } from "dpkit/federated";
 * const trainer = dpSgdLocalTrainer({ inputShape: [784], localSamplingProbability: 0.1,
 *   localSteps: 10, l2NormClip: 1, noiseMultiplier: 1 });
 * ```
 * @see Abadi et al., "Deep Learning with Differential Privacy", CCS 2016.
 */
export function dpSgdLocalTrainer(options: DpSgdLocalTrainerOptions): LocalTrainer {
  const q = requireProbability("localSamplingProbability", options.localSamplingProbability);
  const steps = requirePositiveInteger("localSteps", options.localSteps);
  const clip = requirePositive("l2NormClip", options.l2NormClip);
  const z = requireNonNegative("noiseMultiplier", options.noiseMultiplier);
  const lr = requirePositive("learningRate", options.learningRate ?? 0.1);
  const loss = options.loss ?? "sparseCategoricalCrossentropy";
  const plan = { inputShape: options.inputShape, loss, steps, q, clip, z, learningRate: lr };
  return ({ model, data, request }) => {
    // A round rng with a seed exists only in a seeded (NOT private) simulation, which the driver chose.
    const { trained, meanLoss } = runLocalDpSgd(model, data, plan, request.globalWeights, request.rng, request.seed !== undefined);
    const delta = new Float32Array(trained.length);
    for (let i = 0; i < trained.length; i++) delta[i] = trained[i] - request.globalWeights[i];
    return { delta, numExamples: data.count, meanLoss };
  };
}

/**
 * `o.steps` DP-SGD steps from `globalWeights`, each on a Poisson sample of `data` at rate `o.q`, with
 * a fresh SGD optimizer; returns the trained weights and the mean of the finite step losses (NaN
 * when there is none). Shared by {@link dpSgdLocalTrainer} and the Flower client. @internal
 */
export function runLocalDpSgd(
  model: tf.LayersModel,
  data: ClientDataset,
  o: { inputShape: number[]; loss: PerExampleLoss; steps: number; q: number; clip: number; z: number; learningRate: number },
  globalWeights: Float32Array,
  rng: Rng | undefined,
  allowInsecureRng: boolean | undefined,
): { trained: Float32Array; meanLoss: number } {
  setFlatWeights(model, globalWeights);
  const optimizer = tf.train.sgd(o.learningRate);
  let lossSum = 0;
  let counted = 0;
  try {
    for (let s = 0; s < o.steps; s++) {
      const idx = poissonSampleIndices({ datasetSize: data.count, samplingProbability: o.q, rng });
      const { x, y } = gatherBatch(data, o.inputShape, idx);
      try {
        const step = dpGradients({
          model,
          loss: o.loss,
          x,
          y,
          l2NormClip: o.clip,
          noiseMultiplier: o.z,
          expectedBatchSize: Math.max(o.q * data.count, 1e-9),
          samplingProbability: o.q,
          rng,
          allowInsecureRng,
        });
        if (Number.isFinite(step.lossValue)) {
          lossSum += step.lossValue;
          counted++;
        }
        dpApplyGradients(optimizer, step);
      } finally {
        tf.dispose([x, y]);
      }
    }
  } finally {
    optimizer.dispose();
  }
  return { trained: flattenWeights(model), meanLoss: counted > 0 ? lossSum / counted : NaN };
}

/**
 * The aggregator for example-level DP: the example-weighted mean (as FedAvg), reporting each
 * round's example-level event from {@link dpSgdLocalEvent}.
 *
 * @remarks
 * Privacy comes from the clients' DP-SGD, not from aggregation; client example counts n_k are
 * treated as public. The event does not claim amplification from client sampling (a client
 * may take part in every round), so it is conservative.
 *
 * @example
 * ```ts
 * import { ExampleLevelDpAggregator, dpSgdLocalEvent } from "dpkit/federated";
 * const agg = new ExampleLevelDpAggregator(dpSgdLocalEvent({ localSamplingProbability: 0.1, localSteps: 10, noiseMultiplier: 1 }));
 * ```
 */
export class ExampleLevelDpAggregator implements FederatedAggregator {
  readonly name = "example-level-dp";
  readonly noisePlacement = "client-example" as const;
  private readonly mean = new WeightedMeanAggregator();
  private readonly localEvent: DpEvent;

  /** @param localEvent - one client's per-round example-level event */
  constructor(localEvent: DpEvent) {
    this.localEvent = localEvent;
  }

  /** Nothing more to do on the client: the update is already private (`none`). */
  clientPlan(_context: ClientUploadContext): ClientPrivacyPlan {
    return { kind: "none" };
  }

  /** Weighted mean; the event is the local DP-SGD event. */
  aggregate(updates: readonly ClientUpdate[], context: AggregationContext): AggregationResult {
    return { ...this.mean.aggregate(updates, context), event: this.localEvent };
  }

  /** The local DP-SGD event. */
  plannedEvent(): DpEvent {
    return this.localEvent;
  }
}
