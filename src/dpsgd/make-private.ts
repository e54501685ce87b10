/**
 * `makePrivate(model, options)`: wraps a tfjs model so that `fit(x, y, args)` trains it with
 * DP-SGD — Poisson-sampled batches, per-example clipping, Gaussian noise from dpkit's secure
 * sampler, any tfjs optimizer — and reports epsilon after every epoch.
 *
 * @see Abadi et al., "Deep Learning with Differential Privacy", CCS 2016, https://arxiv.org/abs/1607.00133
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  DpError,
  requireInteger,
  requireOneOf,
  requireOpenProbability,
  requirePositive,
  requirePositiveInteger,
  requireProbability,
  requireNonNegative,
} from "../errors.js";
import type { DpEvent } from "../accounting/events.js";
import { DpEventBuilder, PrivacyBudget, RdpAccountant, calibrateNoiseMultiplier, sampledGaussianStep, stepNeighboringRelation, type PrivacyAccountant } from "../accounting/index.js";
import type { Rng } from "../random/rng.js";
import { checkModelSupported, type PerExampleLoss } from "./engine/index.js";
import { computeClippedSum, dpApplyGradients, issueDpGradients, privatizeParts } from "./gradients.js";
import { poissonSampleIndices, uniformSampleIndices } from "../random/subsampling.js";
import { AdaptiveClipState, type AdaptiveClippingOptions } from "./adaptive-clipping.js";
import { evaluatePrivateModel } from "./metrics.js";

/** Options for {@link makePrivate}. */
export interface MakePrivateOptions {
  /** Per-example L2 clip bound C (the initial bound with adaptive clipping); > 0. */
  l2NormClip: number;
  /** Noise multiplier σ (noise standard deviation / C); give this or `targetEpsilon`. */
  noiseMultiplier?: number;
  /**
   * Privacy budget. Without `noiseMultiplier`, σ is calibrated so that the planned training
   * spends at most this; with it, training stops before a step would exceed it (or `fit`
   * refuses if not even one step fits).
   */
  targetEpsilon?: number;
  /** δ of the (ε, δ) guarantee; required. Take it well below 1 / dataset size (e.g. 1e-5). */
  targetDelta: number;
  /** Poisson sampling rate q; or give `batchSize` here or in `fit` (q = batchSize / N). */
  samplingProbability?: number;
  /** Expected batch size q·N (the realised size varies). */
  batchSize?: number;
  /** Any tfjs optimizer, e.g. `tf.train.sgd(0.1)`, `tf.train.momentum(0.1, 0.9)`, `tf.train.adam(1e-3)`. */
  optimizer: tf.Optimizer;
  /** Per-example loss (a name or a function returning one loss per example). */
  loss: PerExampleLoss;
  /**
   * "poisson" (default): the sampling the accountant assumes. "uniform": a fresh uniformly
   * random batch of exactly `batchSize` each step (sampling without replacement), accounted as
   * `sampledWithoutReplacement` (replace-one neighbours); an accountant that cannot bound it refuses.
   */
  sampling?: "poisson" | "uniform";
  /** Process large logical batches in physical chunks of at most this many examples. */
  maxPhysicalBatchSize?: number;
  /** Adaptive clipping (Andrew et al. 2021): `true` for the defaults, or options. */
  adaptiveClipping?: boolean | AdaptiveClippingOptions;
  /** Engine strategy; default "auto". */
  strategy?: "auto" | "ghost" | "materialize" | "naive";
  /** Randomness source for sampling and noise; defaults to the secure source. A seeded Rng is insecure. */
  rng?: Rng;
  /**
   * Also compose every step's event here (e.g. your own `RdpAccountant` or `PldAccountant`, shared
   * with other releases). dpkit's own ε reports use an internal RDP account either way.
   */
  accountant?: PrivacyAccountant;
}

/** Epoch logs passed to callbacks and kept in the history. */
export interface PrivateEpochLogs {
  /** Mean training loss over the epoch's batches (not private: monitoring only). */
  loss: number;
  /** Epsilon spent so far at `targetDelta`. */
  epsilon: number;
  /** Validation loss / accuracy when `validationData` is given. */
  val_loss?: number;
  val_acc?: number;
  /** The clip bound at the end of the epoch (adaptive clipping). */
  l2NormClip?: number;
  [key: string]: number | undefined;
}

/** Callbacks of {@link PrivateModel.fit}, as in `tf.CustomCallbackArgs`. */
export interface PrivateFitCallbacks {
  onTrainBegin?: (logs?: Record<string, number>) => void | Promise<void>;
  onTrainEnd?: (logs?: Record<string, number>) => void | Promise<void>;
  onEpochBegin?: (epoch: number, logs?: Record<string, number>) => void | Promise<void>;
  onEpochEnd?: (epoch: number, logs?: PrivateEpochLogs) => void | Promise<void>;
  onBatchBegin?: (batch: number, logs?: Record<string, number>) => void | Promise<void>;
  onBatchEnd?: (batch: number, logs?: Record<string, number>) => void | Promise<void>;
}

/** Arguments of {@link PrivateModel.fit}, mirroring `model.fit`. */
export interface PrivateFitArgs {
  /** Number of epochs; an epoch is ceil(N / expected batch size) steps. Default 1. */
  epochs?: number;
  /** Expected batch size (q = batchSize / N), if not fixed in `makePrivate`. */
  batchSize?: number;
  /**
   * Callbacks, one object or several (e.g. `tf.callbacks.earlyStopping`, which sets
   * `stopTraining` on the object it is given). Call {@link PrivateModel.stopTraining} to stop.
   */
  callbacks?: PrivateFitCallbacks | PrivateFitCallbacks[];
  /** Held-out `[x, y]` evaluated after every epoch (`val_loss`, `val_acc`). */
  validationData?: [tf.Tensor, tf.Tensor];
  /** 0: silent; 1 (default): one line per epoch on the console. */
  verbose?: 0 | 1;
}

/** What {@link PrivateModel.fit} returns, shaped like `tf.History`. */
export interface PrivateHistory {
  /** Epoch indices run. */
  epoch: number[];
  /** Per-epoch values: `loss`, `epsilon`, `val_loss`, `val_acc`, `l2NormClip`. */
  history: Record<string, number[]>;
  /** Run parameters. */
  params: { epochs: number; steps: number; samplingProbability: number; noiseMultiplier: number; targetDelta: number; datasetSize: number };
  /** Why training ended before `epochs`, if it did. */
  stopReason?: "budget" | "callback";
  /** Steps run by this call. */
  stepsRun: number;
  /** Epsilon spent so far (all fits of this wrapper) at `targetDelta`. */
  epsilon: number;
}

/** A model wrapped by {@link makePrivate}. */
export interface PrivateModel {
  /** The wrapped model (its weights are what is trained). */
  readonly model: tf.LayersModel;
  /** Trains with DP-SGD; see {@link makePrivate}. */
  fit(x: tf.Tensor, y: tf.Tensor, args?: PrivateFitArgs): Promise<PrivateHistory>;
  /** Noise multiplier in use (undefined until calibrated by the first `fit`). */
  readonly noiseMultiplier: number | undefined;
  /** Current clip bound (changes with adaptive clipping). */
  readonly l2NormClip: number;
  /** Steps taken over all fits. */
  readonly steps: number;
  /** Asks a running `fit` to stop after the current step (e.g. from a callback). */
  stopTraining(): void;
  /** Everything spent so far, as one event. */
  event(): DpEvent;
  /** Epsilon spent so far at `delta` (default `targetDelta`). */
  epsilon(delta?: number): number;
}

async function callAll<K extends keyof PrivateFitCallbacks>(cbs: PrivateFitCallbacks[], name: K, ...args: Parameters<NonNullable<PrivateFitCallbacks[K]>>): Promise<void> {
  for (const cb of cbs) {
    const f = cb[name] as ((...a: unknown[]) => void | Promise<void>) | undefined;
    if (typeof f === "function") await f.apply(cb, args);
  }
}

/**
 * Wraps a tfjs model for differentially private training with a `model.fit`-like API.
 *
 * @remarks
 * Each step draws a Poisson sample (each example independently with probability q), computes
 * every example's gradient clipped to `l2NormClip` (per-layer ghost norms, no per-example
 * gradients materialised where avoidable), adds N(0, (σC)²) noise from the secure sampler to
 * the sum, divides by the expected batch size q·N and applies the result with `optimizer`.
 * Every step's event `poissonSampled(q, gaussian(σ))` is composed in an RDP accountant; the
 * guarantee is (ε, targetDelta)-DP for add/remove-one-example neighbours, with ε reported in
 * every epoch's logs and in the history. With adaptive clipping the quantile estimate's noise is
 * included in σ (see {@link AdaptiveClipState}). Training loss and validation metrics in the logs
 * are not private.
 *
 * The model needs no `compile`. Unsupported layers (e.g. BatchNormalization) are refused here,
 * before any training.
 *
 * @param model - a `tf.Sequential` or chain-shaped functional model
 * @param options - clip bound, noise (σ or a target ε), δ, sampling rate, optimizer, loss
 * @returns a {@link PrivateModel} whose `fit` trains `model` in place
 * @throws {@link DpError} `invalid_parameter` for bad options (σ < 0, C <= 0, both or neither of
 *   σ and `targetEpsilon`...), `unsupported_layer` for an unsupported model
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { makePrivate } from "dpkit/dpsgd";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 10, activation: "softmax" })] });
 * const priv = makePrivate(model, {
 *   l2NormClip: 1, targetEpsilon: 3, targetDelta: 1e-5, batchSize: 256,
 *   optimizer: tf.train.sgd(0.5), loss: "sparseCategoricalCrossentropy",
 * });
 * // const history = await priv.fit(xTrain, yTrain, { epochs: 5, validationData: [xTest, yTest] });
 * // history.history.epsilon -> epsilon after each epoch
 * ```
 * @see https://arxiv.org/abs/1607.00133
 */
export function makePrivate(model: tf.LayersModel, options: MakePrivateOptions): PrivateModel {
  if (!(model instanceof tf.LayersModel)) throw new DpError("invalid_parameter", "`model` must be a tf.LayersModel.", "model");
  if (options === null || typeof options !== "object") throw new DpError("invalid_parameter", "`options` must be an object.", "options");
  const initialClip = requirePositive("l2NormClip", options.l2NormClip);
  const targetDelta = requireOpenProbability("targetDelta", options.targetDelta);
  const targetEpsilon = options.targetEpsilon === undefined ? undefined : requirePositive("targetEpsilon", options.targetEpsilon);
  let sigma = options.noiseMultiplier === undefined ? undefined : requireNonNegative("noiseMultiplier", options.noiseMultiplier);
  if (sigma === undefined && targetEpsilon === undefined) {
    throw new DpError("invalid_parameter", "Give `noiseMultiplier` or `targetEpsilon` (to calibrate the noise).", "noiseMultiplier");
  }
  if (sigma === 0 && targetEpsilon !== undefined) {
    throw new DpError("invalid_parameter", "`noiseMultiplier` 0 gives no privacy and cannot meet `targetEpsilon`.", "noiseMultiplier");
  }
  const fixedQ = options.samplingProbability === undefined ? undefined : requireProbability("samplingProbability", options.samplingProbability);
  if (fixedQ === 0) throw new DpError("invalid_parameter", "`samplingProbability` must be > 0. Found 0.", "samplingProbability");
  const fixedBatch = options.batchSize === undefined ? undefined : requirePositive("batchSize", options.batchSize);
  const sampling = requireOneOf("sampling", options.sampling ?? "poisson", ["poisson", "uniform"] as const);
  // Sampling without replacement has a bound only for replace-one neighbours (Wang et al. 2019).
  const relation = stepNeighboringRelation(sampling === "uniform" ? "fixed" : "poisson");
  if (!(options.optimizer instanceof tf.Optimizer)) {
    throw new DpError("invalid_parameter", "`optimizer` must be a tf.Optimizer (e.g. tf.train.sgd(0.1)).", "optimizer");
  }
  if (options.maxPhysicalBatchSize !== undefined) requirePositiveInteger("maxPhysicalBatchSize", options.maxPhysicalBatchSize);
  if (model.trainableWeights.length === 0) {
    throw new DpError("invalid_parameter", "`model` has no trainable weights: there is nothing to train privately.", "model");
  }
  checkModelSupported(model);
  const adaptiveOpts = options.adaptiveClipping === true ? {} : options.adaptiveClipping || undefined;

  const ledger = new DpEventBuilder();
  const spentEpsilon = (delta: number): number => new RdpAccountant({ neighboringRelation: relation }).compose(ledger.build()).getEpsilon(delta);
  let clip = initialClip;
  let adaptive: AdaptiveClipState | undefined;
  let totalSteps = 0;
  let stopRequested = false;

  const priv: PrivateModel = {
    model,
    get noiseMultiplier() {
      return sigma;
    },
    get l2NormClip() {
      return clip;
    },
    get steps() {
      return totalSteps;
    },
    stopTraining() {
      stopRequested = true;
    },
    event() {
      return ledger.build();
    },
    epsilon(delta?: number) {
      return spentEpsilon(delta === undefined ? targetDelta : requireOpenProbability("delta", delta));
    },
    async fit(x: tf.Tensor, y: tf.Tensor, args: PrivateFitArgs = {}) {
      const n = x.shape[0] ?? 0;
      if ((y.shape[0] ?? 0) !== n) {
        throw new DpError("invalid_parameter", `\`x\` and \`y\` must hold the same number of examples. Found ${n} and ${y.shape[0]}.`, "y");
      }
      if (n < 1) throw new DpError("invalid_parameter", "`x` must hold at least one example.", "x");
      const epochs = requireInteger("epochs", args.epochs ?? 1, { min: 0 });
      const verbose = args.verbose ?? 1;
      const argBatch = args.batchSize === undefined ? undefined : requirePositive("batchSize", args.batchSize);
      let q: number;
      if (fixedQ !== undefined) q = fixedQ;
      else {
        const b = argBatch ?? fixedBatch;
        if (b === undefined) throw new DpError("invalid_parameter", "Give `batchSize` (expected batch size) or `samplingProbability`.", "batchSize");
        if (b > n) throw new DpError("invalid_parameter", `\`batchSize\` must be <= the dataset size ${n}. Found ${b}.`, "batchSize");
        q = b / n;
      }
      const expectedBatchSize = q * n;
      const fixedSize = Math.round(expectedBatchSize);
      if (sampling === "uniform" && (!Number.isInteger(expectedBatchSize) || fixedSize < 1)) {
        throw new DpError("invalid_parameter", `With \`sampling: "uniform"\` the batch size must be a positive integer. Found ${expectedBatchSize}.`, "batchSize");
      }
      const stepsPerEpoch = Math.ceil(n / expectedBatchSize);
      const planned = epochs * stepsPerEpoch;

      // Noise: calibrate once from the target epsilon over the planned run.
      if (sigma === undefined) {
        if (sampling !== "poisson") {
          throw new DpError("invalid_parameter", "Calibrating `noiseMultiplier` from `targetEpsilon` needs `sampling: \"poisson\"`; give `noiseMultiplier`.", "targetEpsilon");
        }
        if (planned === 0) throw new DpError("invalid_parameter", "Cannot calibrate noise for 0 steps: give `epochs` >= 1.", "epochs");
        if (ledger.events.length > 0) throw new DpError("invalid_state", "Noise must be calibrated before the first step.", "noiseMultiplier");
        sigma = calibrateNoiseMultiplier({ targetEpsilon: targetEpsilon as number, targetDelta, samplingProbability: q, steps: planned });
      }
      const sigmaNow: number = sigma;
      if (adaptiveOpts && !adaptive && sigmaNow > 0) {
        adaptive = new AdaptiveClipState({ ...adaptiveOpts, initialL2NormClip: clip, noiseMultiplier: sigmaNow, expectedBatchSize });
      }
      const { event } = sampledGaussianStep(sigmaNow, sampling === "poisson" ? { kind: "poisson", samplingProbability: q } : { kind: "fixed", datasetSize: n, sampleSize: fixedSize });
      if (event.kind !== "nonPrivate" && !new RdpAccountant({ neighboringRelation: relation }).supports(event)) {
        throw new DpError("unsupported_event", `The RDP accountant cannot bound this sampling (${sampling}); use \`sampling: "poisson"\`.`, "sampling");
      }

      // Budget: how many of the planned steps fit under targetEpsilon?
      let allowed = planned;
      if (targetEpsilon !== undefined && planned > 0) {
        allowed = new PrivacyBudget({ epsilon: targetEpsilon, delta: targetDelta, neighboringRelation: relation, spent: ledger.events }).maxCount(event, planned);
        if (allowed === 0) {
          throw new DpError(
            "budget_exceeded",
            `Not one more step fits in \`targetEpsilon\` ${targetEpsilon} (spent ${spentEpsilon(targetDelta).toFixed(3)} at delta ${targetDelta}).`,
            "targetEpsilon",
          );
        }
      }

      const cbs = args.callbacks === undefined ? [] : Array.isArray(args.callbacks) ? args.callbacks : [args.callbacks];
      stopRequested = false;
      // Callbacks such as tf.callbacks.earlyStopping set `stopTraining` on the model they are
      // given; an uncompiled tf.Sequential refuses that property, so they get a stand-in.
      const control = { stopTraining: false };
      for (const cb of cbs) (cb as { setModel?: (m: unknown) => void }).setModel?.(control);
      const shouldStop = (): boolean => stopRequested || control.stopTraining;
      const history: PrivateHistory = {
        epoch: [],
        history: {},
        params: { epochs, steps: planned, samplingProbability: q, noiseMultiplier: sigmaNow, targetDelta, datasetSize: n },
        stepsRun: 0,
        epsilon: spentEpsilon(targetDelta),
      };
      const record = (k: string, v: number | undefined): void => {
        if (v === undefined) return;
        (history.history[k] ??= []).push(v);
      };
      await callAll(cbs, "onTrainBegin", {});
      let stepsRun = 0;
      outer: for (let epoch = 0; epoch < epochs; epoch++) {
        await callAll(cbs, "onEpochBegin", epoch, {});
        let lossSum = 0;
        let lossCount = 0;
        let epochSteps = 0;
        for (let s = 0; s < stepsPerEpoch; s++) {
          if (stepsRun >= allowed) {
            history.stopReason = "budget";
            break;
          }
          await callAll(cbs, "onBatchBegin", s, {});
          const idx =
            sampling === "poisson"
              ? poissonSampleIndices({ datasetSize: n, samplingProbability: q, rng: options.rng })
              : uniformSampleIndices({ datasetSize: n, sampleSize: fixedSize, rng: options.rng });
          const stepClip = adaptive ? adaptive.l2NormClip : clip;
          const stepSigma = sigmaNow === 0 ? 0 : adaptive ? adaptive.gradientNoiseMultiplier : sigmaNow;
          let parts: ReturnType<typeof computeClippedSum> | undefined;
          tf.tidy(() => {
            const it = tf.tensor1d(idx, "int32");
            const xb = tf.gather(x, it);
            const yb = tf.gather(y, it);
            parts = computeClippedSum({ model, loss: options.loss, x: xb, y: yb, l2NormClip: stepClip, maxPhysicalBatchSize: options.maxPhysicalBatchSize, strategy: options.strategy });
          });
          if (!parts) throw new DpError("invalid_state", "No clipped sum was computed.", "model");
          const grads = privatizeParts(parts, { l2NormClip: stepClip, noiseMultiplier: stepSigma, expectedBatchSize, rng: options.rng });
          const lossValue = parts.batchSize > 0 ? parts.lossSum / parts.batchSize : NaN;
          dpApplyGradients(options.optimizer, issueDpGradients({ grads, norms: parts.norms, event, lossValue, batchSize: parts.batchSize }), options.accountant);
          if (adaptive) clip = adaptive.update(parts.norms, options.rng);
          ledger.compose(event);
          stepsRun++;
          totalSteps++;
          epochSteps++;
          if (parts.batchSize > 0) {
            lossSum += parts.lossSum;
            lossCount += parts.batchSize;
          }
          await callAll(cbs, "onBatchEnd", s, { batch: s, size: parts.batchSize, loss: lossValue });
          if (shouldStop()) {
            history.stopReason = "callback";
            break;
          }
        }
        if (epochSteps === 0) break;
        const logs: PrivateEpochLogs = { loss: lossCount > 0 ? lossSum / lossCount : NaN, epsilon: spentEpsilon(targetDelta) };
        if (args.validationData) {
          const v = evaluatePrivateModel({ model, x: args.validationData[0], y: args.validationData[1], loss: options.loss });
          logs.val_loss = v.loss;
          if (v.accuracy !== undefined) logs.val_acc = v.accuracy;
        }
        if (adaptive) logs.l2NormClip = clip;
        history.epoch.push(epoch);
        for (const [k, v] of Object.entries(logs)) record(k, v);
        history.epsilon = logs.epsilon;
        if (verbose >= 1) {
          const parts = [`Epoch ${epoch + 1}/${epochs}`, `${epochSteps} steps`, `loss ${logs.loss.toFixed(4)}`];
          if (logs.val_loss !== undefined) parts.push(`val_loss ${logs.val_loss.toFixed(4)}`);
          if (logs.val_acc !== undefined) parts.push(`val_acc ${logs.val_acc.toFixed(4)}`);
          parts.push(`epsilon ${logs.epsilon.toFixed(3)} (delta ${targetDelta})`);
          console.log(parts.join(" - "));
        }
        await callAll(cbs, "onEpochEnd", epoch, logs);
        if (history.stopReason !== undefined || shouldStop()) {
          history.stopReason ??= "callback";
          break outer;
        }
      }
      history.stepsRun = stepsRun;
      history.epsilon = spentEpsilon(targetDelta);
      if (verbose >= 1 && history.stopReason === "budget") {
        console.log(`Stopped after ${stepsRun} steps: the next step would exceed targetEpsilon ${targetEpsilon}.`);
      }
      await callAll(cbs, "onTrainEnd", { epsilon: history.epsilon });
      return history;
    },
  };
  return priv;
}
