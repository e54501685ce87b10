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
import {
  ACCOUNTANT_KINDS,
  DpEventBuilder,
  PrivacyBudget,
  calibrateNoiseMultiplier,
  makeAccountant,
  sampledGaussianStep,
  stepNeighboringRelation,
  type AccountantKind,
  type PrivacyAccountant,
} from "../accounting/index.js";
import { requireSecureRng, type Rng } from "../random/rng.js";
import type { GaussianNoiseKind } from "../mechanisms/gaussian-noise.js";
import { checkNoiseWorkerOption, createNoiseWorker, type NoiseWorker } from "../mechanisms/noise-prefetch.js";
import { checkLossMatchesOutput, checkModelSupported, type PerExampleLoss } from "./engine/index.js";
import { computeClippedSum, dpApplyGradients, issueDpGradients, privatizeParts, type ClippedSumParts } from "./gradients.js";
import { poissonSampleIndices, uniformSampleIndices } from "../random/subsampling.js";
import { AdaptiveClipState, type AdaptiveClippingOptions } from "./adaptive-clipping.js";
import { evaluatePrivateModel } from "./metrics.js";
import { checkWorkersOption, leaseDpWorkers, type DpWorkerPool } from "./workers/pool.js";
import { resolveMetrics } from "./fit-metrics.js";
import { resolveEmaOption, WeightAverage, type EmaOptions } from "./ema.js";
import {
  checkFitArgs,
  checkFitDatasetArgs,
  classWeightedLoss,
  compiledProperty,
  evaluateMetrics,
  makeYielder,
  materializeDataset,
  outputWidth,
  resolveLoss,
  resolveOptimizer,
  splitForValidation,
} from "./fit-options.js";

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
  /**
   * Any tfjs optimizer, e.g. `tf.train.sgd(0.1)`, `tf.train.momentum(0.1, 0.9)`, `tf.train.adam(1e-3)`.
   * Default: the optimizer the model was compiled with (`model.compile({ optimizer })`).
   */
  optimizer?: tf.Optimizer;
  /**
   * Per-example loss: a name, `{ name, fromLogits: true }` for a model that outputs logits, or a
   * function returning one loss per example. Default: the loss name the model was compiled with.
   * A probability cross-entropy on a model whose output layer is linear (logits) is refused.
   */
  loss?: PerExampleLoss;
  /**
   * Metrics reported in the training logs (over the epoch's sampled batches, not private) and
   * on validation data, under tfjs's keys (`acc`, `val_acc`, ...). Default: the model's compiled
   * `metrics`.
   */
  metrics?: (string | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor))[];
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
  /** Randomness source for sampling and noise; defaults to the secure source. A source that is not `secure` is refused unless `allowInsecureRng` is set. */
  rng?: Rng;
  /** Accept an insecure (seeded) `rng` for a reproducible run that is NOT private. Default false. */
  allowInsecureRng?: boolean;
  /** `"exact"` (default): discrete Gaussian noise on a power-of-two grid (immune to the floating-point attack); `"continuous"`: floating-point ziggurat noise. */
  noise?: GaussianNoiseKind;
  /** Accept `noiseMultiplier: 0` (no noise: ε = ∞, NOT private), e.g. for a baseline. Default false. */
  allowNonPrivate?: boolean;
  /**
   * The accountant kind that governs everything `makePrivate` says about privacy: `"rdp"` (Rényi
   * DP, the default) or `"pld"` (privacy loss distributions, dp_accounting's method: tighter, so
   * less noise for the same ε). It calibrates σ from `targetEpsilon`, decides how many planned
   * steps fit in `targetEpsilon`, and reports ε (`logs.epsilon`, `history.epsilon`,
   * {@link PrivateModel.epsilon}, the progress line). An event the kind cannot bound is refused
   * before training, naming this option (PLD has no bound for `sampling: "uniform"`, nor for a
   * planned run whose distribution would not fit its grid). A PLD ε costs ~0.1–0.3 s for thousands
   * of steps: each is computed once per ledger state and δ (once per epoch), and a calibrated PLD run
   * of 4,720 MNIST steps spends ~10 s on accounting in all.
   */
  accounting?: AccountantKind;
  /**
   * Also compose every step's event here (e.g. your own `RdpAccountant` or `PldAccountant`, shared
   * with other releases). dpkit's own ε reports come from an internal account of the `accounting`
   * kind either way.
   */
  accountant?: PrivacyAccountant;
  /**
   * Share each step's per-example clipping among worker threads (Node only): a number of threads
   * (started by `fit` and stopped when it returns; 1, the default, computes in the calling
   * thread) or a pool from {@link createDpWorkerPool} (e.g. `{ workers: 1, callerComputes: true }`:
   * the calling thread computes a share too). The noise is still added once, in the
   * calling thread. Needs a named loss and no `classWeight`.
   */
  workers?: number | DpWorkerPool;
  /**
   * Draw each step's exact noise ahead of time on a worker thread (Node only; opt-in): `true` starts
   * one for each `fit` and stops it when the fit ends; a `NoiseWorker` from `createNoiseWorker`
   * (`dpkit/mechanisms`) is used as is. Needs exact noise and the default secure source. Default: none.
   */
  noiseWorker?: boolean | NoiseWorker;
  /**
   * Keep an exponential moving average (EMA) of the trainable weights over the private iterates
   * (Keras's `use_ema` / `ema_momentum`; De et al. 2022), e.g. `{ momentum: 0.999 }`: updated
   * after every private step, and written into the model when `fit` returns (as Keras's
   * `finalize_variable_values`). Post-processing of the private iterates: no privacy cost, no
   * extra noise, the same ledger and ε. The last iterate stays available from
   * {@link PrivateModel.iterateWeights}; a later `fit` first puts it back into the model and
   * continues the same average. With `validationData`, each epoch also logs the average's
   * `val_ema_loss` / `val_ema_acc`. See {@link EmaOptions}.
   */
  ema?: EmaOptions;
}

/** Epoch logs passed to callbacks and kept in the history. */
export interface PrivateEpochLogs {
  /** Mean training loss over the epoch's batches (not private: monitoring only). */
  loss: number;
  /** Epsilon spent so far at `targetDelta`, by the `accounting` kind. */
  epsilon: number;
  /** Validation loss / accuracy when `validationData` is given. */
  val_loss?: number;
  val_acc?: number;
  /** The clip bound at the end of the epoch (adaptive clipping). */
  l2NormClip?: number;
  /** With `ema` and validation data: the weight average's validation loss / accuracy. */
  val_ema_loss?: number;
  val_ema_acc?: number;
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

/**
 * Arguments of {@link PrivateModel.fit}, mirroring `model.fit`: every option of `model.fit` is
 * honoured or refused by name (`sampleWeight`, `validationSteps`, `shuffle: false`).
 */
export interface PrivateFitArgs {
  /** Index of the epoch to stop before (as tfjs: with `initialEpoch` k, epochs k..epochs-1 run). Default 1. */
  epochs?: number;
  /** Epoch to start at (for resuming a run). Default 0. */
  initialEpoch?: number;
  /** Steps per epoch; default ceil(N / expected batch size) (one pass in expectation). */
  stepsPerEpoch?: number;
  /**
   * Fraction of `x`/`y` (the last examples, as tfjs takes them, before any sampling) held out for
   * validation; the rest is the training set whose size the accountant uses. Ignored when
   * `validationData` is given. Validation metrics are not private.
   */
  validationSplit?: number;
  /**
   * `true` (default) only: every batch is a fresh Poisson (or uniform) sample of the whole
   * training set, which is already a random order; `false` is refused, since the guarantee rests
   * on that sampling.
   */
  shuffle?: boolean;
  /**
   * Weight of each class's per-example loss (`{ classIndex: weight }`, missing classes weigh 1),
   * as tfjs; one label per example. The clipped per-example gradient is of the weighted loss, so
   * the guarantee is unchanged.
   */
  classWeight?: Record<number, number>;
  /** When to give the event loop a turn: "auto" (every 125 ms, default), "batch", "epoch", "never" or milliseconds. */
  yieldEvery?: "auto" | "batch" | "epoch" | "never" | number;
  /** Expected batch size (q = batchSize / N), if not fixed in `makePrivate`. */
  batchSize?: number;
  /**
   * Callbacks, one object or several (e.g. `tf.callbacks.earlyStopping`, which sets
   * `stopTraining` on the object it is given). Call {@link PrivateModel.stopTraining} to stop.
   */
  callbacks?: PrivateFitCallbacks | PrivateFitCallbacks[];
  /** Held-out `[x, y]` evaluated after every epoch (`val_loss`, `val_acc`). */
  validationData?: [tf.Tensor, tf.Tensor];
  /** 0: silent; 1 (default) or 2: one line per epoch on the console. */
  verbose?: 0 | 1 | 2;
}

/**
 * Arguments of {@link PrivateModel.fitDataset}, mirroring `model.fitDataset`.
 *
 * @remarks
 * What is done with the dataset: it is read once per `fitDataset` call into memory (its
 * `{ xs, ys }` batches concatenated, the count checked against `datasetSize` when given), and
 * training then runs exactly as {@link PrivateModel.fit} on those tensors: every step a Poisson
 * sample (or a uniform sample with `sampling: "uniform"`) of all N examples, accounted as such.
 * The dataset's own batching and shuffling play no part in the sampling; its batch size is the
 * default expected batch size when none is given. Datasets larger than memory are not supported.
 */
export interface PrivateFitDatasetArgs {
  /** The number of examples the dataset yields; checked (a mismatch is refused). Default: counted. */
  datasetSize?: number;
  /** As {@link PrivateFitArgs.epochs}. */
  epochs?: number;
  /** As {@link PrivateFitArgs.initialEpoch}. */
  initialEpoch?: number;
  /** Expected batch size q·N; default the one given to `makePrivate`, else the dataset's first batch size. */
  batchSize?: number;
  /** Steps per epoch (`model.fitDataset`'s name); default ceil(N / expected batch size). */
  batchesPerEpoch?: number;
  /** As {@link PrivateFitArgs.stepsPerEpoch}. */
  stepsPerEpoch?: number;
  /** As {@link PrivateFitArgs.callbacks}. */
  callbacks?: PrivateFitCallbacks | PrivateFitCallbacks[];
  /** A dataset of `{ xs, ys }` batches (read once into memory) or `[x, y]` tensors. Not private. */
  validationData?: tf.data.Dataset<tf.TensorContainer> | [tf.Tensor, tf.Tensor];
  /** As {@link PrivateFitArgs.classWeight}. */
  classWeight?: Record<number, number>;
  /** As {@link PrivateFitArgs.yieldEvery}. */
  yieldEvery?: "auto" | "batch" | "epoch" | "never" | number;
  /** As {@link PrivateFitArgs.verbose}. */
  verbose?: 0 | 1 | 2;
}

/** What {@link PrivateModel.fit} returns, shaped like `tf.History`. */
export interface PrivateHistory {
  /** Epoch indices run. */
  epoch: number[];
  /** Per-epoch values: `loss`, `epsilon`, `val_loss`, `val_acc`, `l2NormClip`. */
  history: Record<string, number[]>;
  /** Run parameters. */
  params: {
    epochs: number;
    initialEpoch: number;
    steps: number;
    samplingProbability: number;
    noiseMultiplier: number;
    targetDelta: number;
    datasetSize: number;
    /** The accountant kind behind σ's calibration, the budget check and every ε (`accounting`). */
    accounting: AccountantKind;
    /** Keys of the training metrics in `history` (`loss` first), as tfjs. */
    metrics: string[];
  };
  /** Why training ended before `epochs`, if it did. */
  stopReason?: "budget" | "callback";
  /** Steps run by this call. */
  stepsRun: number;
  /** Epsilon spent so far (all fits of this wrapper) at `targetDelta`. */
  epsilon: number;
  /**
   * With the `ema` option: its momentum and warm-up, the updates made so far (one per private
   * step, all fits), and whether the average was written into the model at the end of this fit.
   */
  ema?: { momentum: number; warmup: boolean; updates: number; swappedIn: boolean };
}

/** A model wrapped by {@link makePrivate}. */
export interface PrivateModel {
  /** The wrapped model (its weights are what is trained). */
  readonly model: tf.LayersModel;
  /** Trains with DP-SGD; see {@link makePrivate}. */
  fit(x: tf.Tensor, y: tf.Tensor, args?: PrivateFitArgs): Promise<PrivateHistory>;
  /**
   * Trains with DP-SGD on a `tf.data.Dataset` of `{ xs, ys }` batches (as `model.fitDataset`):
   * see {@link PrivateFitDatasetArgs} for what is done with it.
   */
  fitDataset(dataset: tf.data.Dataset<tf.TensorContainer>, args?: PrivateFitDatasetArgs): Promise<PrivateHistory>;
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
  /** Epsilon spent so far at `delta` (default `targetDelta`), by the `accounting` kind (cached until the next step). */
  epsilon(delta?: number): number;
  /**
   * With the `ema` option: copies of the weight average, in the order of `model.trainableWeights`
   * (the caller disposes them); `undefined` without `ema`.
   */
  emaWeights(): tf.Tensor[] | undefined;
  /**
   * Copies of the last private iterate's trainable weights (the caller disposes them): the
   * model's own weights, or, after a `fit` with `ema` has written the average into the model, the
   * weights it replaced.
   */
  iterateWeights(): tf.Tensor[];
}

async function callAll<K extends keyof PrivateFitCallbacks>(
  cbs: PrivateFitCallbacks[],
  name: K,
  ...args: Parameters<NonNullable<PrivateFitCallbacks[K]>>
): Promise<void> {
  for (const cb of cbs) {
    const f = cb[name] as ((...a: unknown[]) => void | Promise<void>) | undefined;
    if (typeof f === "function") await f.apply(cb, args);
  }
}

/** makePrivate's options, checked once. */
type Resolved = ReturnType<typeof validateOptions>;

/** What changes between and during fits: σ once calibrated, the clip, the ledger, the step count. */
interface TrainingState {
  sigma: number | undefined;
  clip: number;
  adaptive: AdaptiveClipState | undefined;
  ledger: DpEventBuilder;
  totalSteps: number;
  stopRequested: boolean;
  /** The worker pool leased for the running fit, if any. */
  workers: DpWorkerPool | undefined;
  /** The noise worker of the running fit, if any. */
  noiseWorker?: NoiseWorker;
  /** The weight average of the `ema` option, if any. */
  average: WeightAverage | undefined;
  /** ε already computed, by δ and ledger (a PLD ε costs ~0.1–0.5 s): see {@link ledgerEpsilon}. */
  epsilonCache: Map<string, number>;
}

/** One fit's plan: sampling rate, steps, σ, the step's event and how many steps the budget allows. */
type FitPlan = ReturnType<typeof planFit>;

/** Step 1: validates the model and options before any training. */
function validateOptions(model: tf.LayersModel, options: MakePrivateOptions) {
  if (!(model instanceof tf.LayersModel)) throw new DpError("invalid_parameter", "`model` must be a tf.LayersModel.", "model");
  if (options === null || typeof options !== "object") throw new DpError("invalid_parameter", "`options` must be an object.", "options");
  const initialClip = requirePositive("l2NormClip", options.l2NormClip);
  const targetDelta = requireOpenProbability("targetDelta", options.targetDelta);
  const targetEpsilon = options.targetEpsilon === undefined ? undefined : requirePositive("targetEpsilon", options.targetEpsilon);
  const sigma = options.noiseMultiplier === undefined ? undefined : requireNonNegative("noiseMultiplier", options.noiseMultiplier);
  if (sigma === undefined && targetEpsilon === undefined) {
    throw new DpError("invalid_parameter", "Give `noiseMultiplier` or `targetEpsilon` (to calibrate the noise).", "noiseMultiplier");
  }
  if (sigma === 0 && targetEpsilon !== undefined) {
    throw new DpError("invalid_parameter", "`noiseMultiplier` 0 gives no privacy and cannot meet `targetEpsilon`.", "noiseMultiplier");
  }
  if (sigma === 0 && options.allowNonPrivate !== true) {
    throw new DpError(
      "invalid_parameter",
      "`noiseMultiplier` must be > 0: 0 adds no noise and gives no privacy (pass `allowNonPrivate: true` for a non-private baseline). Found 0.",
      "noiseMultiplier",
    );
  }
  requireSecureRng(options.rng, options.allowInsecureRng);
  checkNoiseWorkerOption(options.noiseWorker, options.rng, options.noise);
  const fixedQ =
    options.samplingProbability === undefined ? undefined : requireProbability("samplingProbability", options.samplingProbability);
  if (fixedQ === 0) throw new DpError("invalid_parameter", "`samplingProbability` must be > 0. Found 0.", "samplingProbability");
  const fixedBatch = options.batchSize === undefined ? undefined : requirePositive("batchSize", options.batchSize);
  const sampling = requireOneOf("sampling", options.sampling ?? "poisson", ["poisson", "uniform"] as const);
  // Sampling without replacement has a bound only for replace-one neighbours (Wang et al. 2019).
  const relation = stepNeighboringRelation(sampling === "uniform" ? "fixed" : "poisson");
  const accounting = requireOneOf("accounting", options.accounting ?? "rdp", ACCOUNTANT_KINDS);
  checkAccountingSupports(accounting, relation, sampling);
  const optimizer = resolveOptimizer(model, options.optimizer);
  const loss = resolveLoss(model, options.loss);
  if (options.maxPhysicalBatchSize !== undefined) requirePositiveInteger("maxPhysicalBatchSize", options.maxPhysicalBatchSize);
  if (model.trainableWeights.length === 0) {
    throw new DpError("invalid_parameter", "`model` has no trainable weights: there is nothing to train privately.", "model");
  }
  checkModelSupported(model, { strategy: options.strategy });
  checkLossMatchesOutput(model, loss);
  checkWorkersOption(options.workers, model);
  const metricSpecs = resolveMetrics(options.metrics ?? compiledProperty(model, "metrics"), loss, outputWidth(model));
  const adaptiveOpts = options.adaptiveClipping === true ? {} : options.adaptiveClipping || undefined;
  const ema = resolveEmaOption(options.ema);
  return {
    model,
    options,
    initialClip,
    targetDelta,
    targetEpsilon,
    sigma,
    fixedQ,
    fixedBatch,
    sampling,
    relation,
    accounting,
    optimizer,
    loss,
    metricSpecs,
    adaptiveOpts,
    ema,
  };
}

/** A fresh accountant of the `accounting` kind, for the sampling's neighbouring relation. */
function accountantOf(r: { accounting: AccountantKind; relation: Resolved["relation"] }): PrivacyAccountant {
  return makeAccountant(r.accounting, { neighboringRelation: r.relation });
}

/**
 * Refuses, before any training, a sampling whose step the `accounting` kind cannot bound (PLD has
 * no bound for sampling without replacement); the error names the option to change.
 */
function checkAccountingSupports(accounting: AccountantKind, relation: Resolved["relation"], sampling: "poisson" | "uniform"): void {
  const probe = sampledGaussianStep(
    1,
    sampling === "poisson" ? { kind: "poisson", samplingProbability: 0.5 } : { kind: "fixed", datasetSize: 2, sampleSize: 1 },
  ).event;
  if (accountantOf({ accounting, relation }).supports(probe)) return;
  const other = accounting === "pld" ? "rdp" : "pld";
  throw new DpError(
    "unsupported_event",
    `\`accounting\` "${accounting}" cannot bound a DP-SGD step with \`sampling: "${sampling}"\`; use \`accounting: "${other}"\` or another \`sampling\`.`,
    "accounting",
  );
}

/** How many ε values {@link ledgerEpsilon} keeps (the latest ones). */
const EPSILON_CACHE_SIZE = 16;

/**
 * ε of `ledger` (everything spent, as the ledger builds it: repeats merged, so equal spending gives
 * an equal event) at `delta` by the `accounting` kind, computed once per ledger and δ: the epoch's
 * ε, the fit's final ε and `priv.epsilon()` after it are one evaluation, and a PLD fit's planned
 * end (see {@link planFit}) is reused when the fit gets there.
 */
function ledgerEpsilon(r: Resolved, state: TrainingState, ledger: DpEvent, delta: number): number {
  const cache = state.epsilonCache;
  const key = `${delta} ${JSON.stringify(ledger)}`;
  let eps = cache.get(key);
  if (eps === undefined) {
    eps = accountantOf(r).compose(ledger).getEpsilon(delta);
    cache.set(key, eps);
    if (cache.size > EPSILON_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  }
  return eps;
}

/** ε spent so far, at `delta`, by the `accounting` kind. */
function spentEpsilon(r: Resolved, state: TrainingState, delta: number): number {
  return ledgerEpsilon(r, state, state.ledger.build(), delta);
}

/**
 * Runs a PLD computation; a distribution too large for the PLD grid (a DpError naming the
 * accountant's `valueDiscretizationInterval`, which makePrivate does not take) becomes a refusal
 * naming `accounting`.
 */
function withPldLimit<T>(r: Resolved, steps: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof DpError) || e.argument !== "valueDiscretizationInterval") throw e;
    throw new DpError(
      "unsupported_event",
      `\`accounting: "${r.accounting}"\` cannot bound ${steps} steps of this DP-SGD step (${e.message}) Use \`accounting: "rdp"\`, fewer steps (\`epochs\`) or more noise.`,
      "accounting",
    );
  }
}

/**
 * Step 2: plans one fit on `n` examples: the sampling rate, the steps, σ (calibrated once from
 * the target ε over the planned run), the step's event, and how many steps the budget allows.
 */
function planFit(r: Resolved, state: TrainingState, n: number, args: PrivateFitArgs) {
  const { sampling, targetEpsilon, targetDelta } = r;
  const epochs = requireInteger("epochs", args.epochs ?? 1, { min: 0 });
  const initialEpoch = requireInteger("initialEpoch", args.initialEpoch ?? 0, { min: 0 });
  if (initialEpoch > epochs)
    throw new DpError("invalid_parameter", `\`initialEpoch\` must be <= \`epochs\` ${epochs}. Found ${initialEpoch}.`, "initialEpoch");
  const argBatch = args.batchSize === undefined ? undefined : requirePositive("batchSize", args.batchSize);
  let q: number;
  if (r.fixedQ !== undefined) q = r.fixedQ;
  else {
    const b = argBatch ?? r.fixedBatch;
    if (b === undefined)
      throw new DpError("invalid_parameter", "Give `batchSize` (expected batch size) or `samplingProbability`.", "batchSize");
    if (b > n) throw new DpError("invalid_parameter", `\`batchSize\` must be <= the dataset size ${n}. Found ${b}.`, "batchSize");
    q = b / n;
  }
  const expectedBatchSize = q * n;
  const fixedSize = Math.round(expectedBatchSize);
  if (sampling === "uniform" && (!Number.isInteger(expectedBatchSize) || fixedSize < 1)) {
    throw new DpError(
      "invalid_parameter",
      `With \`sampling: "uniform"\` the batch size must be a positive integer. Found ${expectedBatchSize}.`,
      "batchSize",
    );
  }
  const stepsPerEpoch =
    args.stepsPerEpoch === undefined ? Math.ceil(n / expectedBatchSize) : requirePositiveInteger("stepsPerEpoch", args.stepsPerEpoch);
  const planned = (epochs - initialEpoch) * stepsPerEpoch;

  if (state.sigma === undefined) {
    if (sampling !== "poisson") {
      throw new DpError(
        "invalid_parameter",
        'Calibrating `noiseMultiplier` from `targetEpsilon` needs `sampling: "poisson"`; give `noiseMultiplier`.',
        "targetEpsilon",
      );
    }
    if (planned === 0) throw new DpError("invalid_parameter", "Cannot calibrate noise for 0 steps: give `epochs` >= 1.", "epochs");
    if (state.ledger.events.length > 0)
      throw new DpError("invalid_state", "Noise must be calibrated before the first step.", "noiseMultiplier");
    state.sigma = withPldLimit(r, planned, () =>
      calibrateNoiseMultiplier({
        targetEpsilon: targetEpsilon as number,
        targetDelta,
        samplingProbability: q,
        steps: planned,
        accountant: r.accounting,
      }),
    );
  }
  const sigma = state.sigma;
  if (r.adaptiveOpts && !state.adaptive && sigma > 0) {
    state.adaptive = new AdaptiveClipState({
      ...r.adaptiveOpts,
      initialL2NormClip: state.clip,
      noiseMultiplier: sigma,
      expectedBatchSize,
    });
  }
  const { event } = sampledGaussianStep(
    sigma,
    sampling === "poisson" ? { kind: "poisson", samplingProbability: q } : { kind: "fixed", datasetSize: n, sampleSize: fixedSize },
  );
  if (event.kind !== "nonPrivate" && !accountantOf(r).supports(event)) {
    throw new DpError(
      "unsupported_event",
      `The ${r.accounting.toUpperCase()} accountant (\`accounting: "${r.accounting}"\`) cannot bound this sampling (${sampling}); use \`sampling: "poisson"\`.`,
      "accounting",
    );
  }

  // PLD: ε at the planned end, computed first. It refuses up front a run too long for the PLD grid
  // (rather than in an epoch's report), settles the budget when all planned steps fit (what
  // PrivacyBudget.maxCount would check first), and is the fit's last ε if it runs to the end.
  let plannedEpsilon: number | undefined;
  if (r.accounting === "pld" && planned > 0) {
    const end = state.ledger.clone().compose(event, planned).build();
    plannedEpsilon = withPldLimit(r, state.totalSteps + planned, () => ledgerEpsilon(r, state, end, targetDelta));
  }

  // Budget: how many of the planned steps fit under targetEpsilon?
  let allowed = planned;
  if (targetEpsilon !== undefined && planned > 0 && !(plannedEpsilon !== undefined && plannedEpsilon <= targetEpsilon)) {
    allowed = new PrivacyBudget({
      epsilon: targetEpsilon,
      delta: targetDelta,
      accountant: r.accounting,
      neighboringRelation: r.relation,
      spent: state.ledger.events,
    }).maxCount(event, planned);
    if (allowed === 0) {
      throw new DpError(
        "budget_exceeded",
        `Not one more step fits in \`targetEpsilon\` ${targetEpsilon} (spent ${spentEpsilon(r, state, targetDelta).toFixed(3)} at delta ${targetDelta}${r.accounting === "rdp" ? "" : `, by \`accounting: "${r.accounting}"\``}).`,
        "targetEpsilon",
      );
    }
  }
  return { epochs, initialEpoch, q, expectedBatchSize, fixedSize, stepsPerEpoch, planned, sigma, event, allowed };
}

/** Step 3: one DP-SGD step: sample, clip and sum, noise, apply; the event goes to the ledger. */
function privateStep(
  r: Resolved,
  state: TrainingState,
  plan: FitPlan,
  data: { x: tf.Tensor; y: tf.Tensor; loss: PerExampleLoss },
): ClippedSumParts {
  const { model, options: o } = r;
  const n = data.x.shape[0] ?? 0;
  const idx =
    r.sampling === "poisson"
      ? poissonSampleIndices({ datasetSize: n, samplingProbability: plan.q, rng: o.rng })
      : uniformSampleIndices({ datasetSize: n, sampleSize: plan.fixedSize, rng: o.rng });
  const adaptive = state.adaptive;
  const stepClip = adaptive ? adaptive.l2NormClip : state.clip;
  const stepSigma = plan.sigma === 0 ? 0 : adaptive ? adaptive.gradientNoiseMultiplier : plan.sigma;
  let parts: ClippedSumParts | undefined;
  tf.tidy(() => {
    const it = tf.tensor1d(idx, "int32");
    parts = computeClippedSum({
      model,
      loss: data.loss,
      x: tf.gather(data.x, it),
      y: tf.gather(data.y, it),
      l2NormClip: stepClip,
      maxPhysicalBatchSize: o.maxPhysicalBatchSize,
      strategy: o.strategy,
      metrics: r.metricSpecs,
      workers: state.workers,
    });
  });
  if (!parts) throw new DpError("invalid_state", "No clipped sum was computed.", "model");
  const grads = privatizeParts(parts, {
    l2NormClip: stepClip,
    noiseMultiplier: stepSigma,
    expectedBatchSize: plan.expectedBatchSize,
    rng: o.rng,
    allowInsecureRng: o.allowInsecureRng,
    noise: o.noise,
    noiseWorker: state.noiseWorker,
  });
  const lossValue = parts.batchSize > 0 ? parts.lossSum / parts.batchSize : NaN;
  dpApplyGradients(
    r.optimizer,
    issueDpGradients({ grads, norms: parts.norms, event: plan.event, lossValue, batchSize: parts.batchSize }),
    o.accountant,
  );
  if (adaptive) state.clip = adaptive.update(parts.norms, o.rng);
  state.ledger.compose(plan.event);
  state.totalSteps++;
  return parts;
}

/** The validation loss and metrics of an epoch's logs. */
function validationLogs(r: Resolved, [vx, vy]: [tf.Tensor, tf.Tensor], logs: PrivateEpochLogs): void {
  const model = r.model;
  const v = evaluatePrivateModel({ model, x: vx, y: vy, loss: r.loss });
  logs.val_loss = v.loss;
  if (v.accuracy !== undefined) logs.val_acc = v.accuracy;
  if (r.metricSpecs.length > 0) {
    const sums = evaluateMetrics(model, vx, vy, r.metricSpecs);
    const nv = vx.shape[0] ?? 0;
    r.metricSpecs.forEach((m, k) => (logs[`val_${m.key}`] = nv > 0 ? sums[k] / nv : NaN));
  }
}

/** With `ema`: the weight average's validation loss and accuracy (the average swapped in, then the iterate restored). */
function emaValidationLogs(r: Resolved, average: WeightAverage, [vx, vy]: [tf.Tensor, tf.Tensor], logs: PrivateEpochLogs): void {
  const v = average.withAverage(() => evaluatePrivateModel({ model: r.model, x: vx, y: vy, loss: r.loss }));
  logs.val_ema_loss = v.loss;
  if (v.accuracy !== undefined) logs.val_ema_acc = v.accuracy;
}

/** The line printed after each epoch with `verbose >= 1`. */
function epochLine(r: Resolved, epoch: number, epochs: number, epochSteps: number, logs: PrivateEpochLogs): string {
  const parts = [`Epoch ${epoch + 1}/${epochs}`, `${epochSteps} steps`, `loss ${logs.loss.toFixed(4)}`];
  for (const m of r.metricSpecs) parts.push(`${m.key} ${(logs[m.key] as number).toFixed(4)}`);
  if (logs.val_loss !== undefined) parts.push(`val_loss ${logs.val_loss.toFixed(4)}`);
  for (const m of r.metricSpecs)
    if (m.key !== "acc" && logs[`val_${m.key}`] !== undefined) parts.push(`val_${m.key} ${(logs[`val_${m.key}`] as number).toFixed(4)}`);
  if (logs.val_acc !== undefined) parts.push(`val_acc ${logs.val_acc.toFixed(4)}`);
  if (logs.val_ema_acc !== undefined) parts.push(`val_ema_acc ${logs.val_ema_acc.toFixed(4)}`);
  parts.push(
    `epsilon ${logs.epsilon.toFixed(3)} (delta ${r.targetDelta}${r.accounting === "rdp" ? "" : `, ${r.accounting.toUpperCase()}`})`,
  );
  return parts.join(" - ");
}

/** Step 4: the fit loop: epochs of private steps, callbacks, logs, and the stop at the budget. */
async function fitLoop(r: Resolved, state: TrainingState, x: tf.Tensor, y: tf.Tensor, args: PrivateFitArgs): Promise<PrivateHistory> {
  const n = x.shape[0] ?? 0;
  const plan = planFit(r, state, n, args);
  // A later fit continues from the last private iterate, not from the average written in at the end of the previous one.
  state.average?.restore();
  const { epochs, initialEpoch, stepsPerEpoch } = plan;
  const data = { x, y, loss: args.classWeight === undefined ? r.loss : classWeightedLoss(r.loss, args.classWeight, y) };
  const yielder = makeYielder(args.yieldEvery);
  const verbose = args.verbose ?? 1;
  const cbs = args.callbacks === undefined ? [] : Array.isArray(args.callbacks) ? args.callbacks : [args.callbacks];
  state.stopRequested = false;
  // Callbacks such as tf.callbacks.earlyStopping set `stopTraining` on the model they are
  // given; an uncompiled tf.Sequential refuses that property, so they get a stand-in.
  const control = { stopTraining: false };
  for (const cb of cbs) (cb as { setModel?: (m: unknown) => void }).setModel?.(control);
  const shouldStop = (): boolean => state.stopRequested || control.stopTraining;
  const history: PrivateHistory = {
    epoch: [],
    history: {},
    params: {
      epochs,
      initialEpoch,
      steps: plan.planned,
      samplingProbability: plan.q,
      noiseMultiplier: plan.sigma,
      targetDelta: r.targetDelta,
      datasetSize: n,
      accounting: r.accounting,
      metrics: ["loss", ...r.metricSpecs.map((m) => m.key)],
    },
    stepsRun: 0,
    epsilon: spentEpsilon(r, state, r.targetDelta),
  };
  await callAll(cbs, "onTrainBegin", {});
  let stepsRun = 0;
  for (let epoch = initialEpoch; epoch < epochs; epoch++) {
    await callAll(cbs, "onEpochBegin", epoch, {});
    const metricTotals = r.metricSpecs.map(() => 0);
    let lossSum = 0;
    let lossCount = 0;
    let epochSteps = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      if (stepsRun >= plan.allowed) {
        history.stopReason = "budget";
        break;
      }
      await callAll(cbs, "onBatchBegin", s, {});
      const parts = privateStep(r, state, plan, data);
      state.average?.update();
      stepsRun++;
      epochSteps++;
      if (parts.batchSize > 0) {
        lossSum += parts.lossSum;
        lossCount += parts.batchSize;
        parts.metricSums.forEach((v, k) => (metricTotals[k] += v));
      }
      const perExample = (sum: number): number => (parts.batchSize > 0 ? sum / parts.batchSize : NaN);
      const batchLogs: Record<string, number> = { batch: s, size: parts.batchSize, loss: perExample(parts.lossSum) };
      r.metricSpecs.forEach((m, k) => (batchLogs[m.key] = perExample(parts.metricSums[k])));
      await callAll(cbs, "onBatchEnd", s, batchLogs);
      await yielder("batch");
      if (shouldStop()) {
        history.stopReason = "callback";
        break;
      }
    }
    if (epochSteps === 0) break;
    const logs: PrivateEpochLogs = { loss: lossCount > 0 ? lossSum / lossCount : NaN, epsilon: spentEpsilon(r, state, r.targetDelta) };
    r.metricSpecs.forEach((m, k) => (logs[m.key] = lossCount > 0 ? metricTotals[k] / lossCount : NaN));
    if (args.validationData) validationLogs(r, args.validationData, logs);
    if (args.validationData && state.average) emaValidationLogs(r, state.average, args.validationData, logs);
    if (state.adaptive) logs.l2NormClip = state.clip;
    history.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) if (v !== undefined) (history.history[k] ??= []).push(v);
    history.epsilon = logs.epsilon;
    if (verbose >= 1) console.log(epochLine(r, epoch, epochs, epochSteps, logs));
    await callAll(cbs, "onEpochEnd", epoch, logs);
    await yielder("epoch");
    if (history.stopReason !== undefined || shouldStop()) {
      history.stopReason ??= "callback";
      break;
    }
  }
  history.stepsRun = stepsRun;
  history.epsilon = spentEpsilon(r, state, r.targetDelta);
  if (state.average) {
    // As Keras's finalize_variable_values: the model leaves fit holding the average.
    state.average.swapIn();
    const { momentum, warmup } = state.average.config;
    history.ema = { momentum, warmup, updates: state.average.updates, swappedIn: state.average.swapped };
  }
  if (verbose >= 1 && history.stopReason === "budget") {
    const by = r.accounting === "rdp" ? "" : ` by the ${r.accounting.toUpperCase()} accountant`;
    console.log(`Stopped after ${stepsRun} steps: the next step would exceed targetEpsilon ${r.targetEpsilon}${by}.`);
  }
  await callAll(cbs, "onTrainEnd", { epsilon: history.epsilon });
  return history;
}

/** `fit`: checks the arguments, splits off the validation data if asked, and runs the loop. */
async function fitTensors(
  r: Resolved,
  state: TrainingState,
  xAll: tf.Tensor,
  yAll: tf.Tensor,
  args: PrivateFitArgs,
): Promise<PrivateHistory> {
  checkFitArgs(args);
  const nAll = xAll.shape[0] ?? 0;
  if ((yAll.shape[0] ?? 0) !== nAll) {
    throw new DpError(
      "invalid_parameter",
      `\`x\` and \`y\` must hold the same number of examples. Found ${nAll} and ${yAll.shape[0]}.`,
      "y",
    );
  }
  if (nAll < 1) throw new DpError("invalid_parameter", "`x` must hold at least one example.", "x");
  const split =
    args.validationData === undefined && args.validationSplit !== undefined
      ? splitForValidation(xAll, yAll, args.validationSplit)
      : undefined;
  let lease: Awaited<ReturnType<typeof leaseDpWorkers>> | undefined;
  try {
    lease = await leaseDpWorkers(r.options.workers, r.model);
    state.workers = lease.pool;
    const nw = r.options.noiseWorker;
    state.noiseWorker = nw === true ? createNoiseWorker() : nw === false ? undefined : nw;
    if (!split) return await fitLoop(r, state, xAll, yAll, args);
    return await fitLoop(r, state, split.x, split.y, { ...args, validationData: [split.valX, split.valY] });
  } finally {
    state.workers = undefined;
    if (r.options.noiseWorker === true) state.noiseWorker?.dispose();
    state.noiseWorker = undefined;
    await lease?.release();
    if (split) tf.dispose([split.x, split.y, split.valX, split.valY]);
  }
}

/** `fitDataset`: materialises the dataset (and validation dataset) as tensors and fits on them. */
async function fitDataset(
  r: Resolved,
  state: TrainingState,
  dataset: tf.data.Dataset<tf.TensorContainer>,
  args: PrivateFitDatasetArgs,
): Promise<PrivateHistory> {
  checkFitDatasetArgs(args);
  const { datasetSize, validationData, batchesPerEpoch, ...rest } = args;
  const train = await materializeDataset(dataset, "dataset", datasetSize);
  let val: { x: tf.Tensor; y: tf.Tensor } | undefined;
  try {
    if (validationData !== undefined) {
      val = Array.isArray(validationData) ? undefined : await materializeDataset(validationData, "validationData");
    }
    const fitArgs: PrivateFitArgs = { ...rest };
    if (batchesPerEpoch !== undefined) fitArgs.stepsPerEpoch = batchesPerEpoch;
    if (fitArgs.batchSize === undefined && r.fixedQ === undefined && r.fixedBatch === undefined)
      fitArgs.batchSize = Math.min(train.firstBatch, train.x.shape[0] ?? 1);
    if (Array.isArray(validationData)) fitArgs.validationData = validationData;
    else if (val) fitArgs.validationData = [val.x, val.y];
    return await fitTensors(r, state, train.x, train.y, fitArgs);
  } finally {
    tf.dispose([train.x, train.y]);
    if (val) tf.dispose([val.x, val.y]);
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
 * Every step's event `poissonSampled(q, gaussian(σ))` is composed in an accountant of the
 * `accounting` kind (RDP by default, or PLD: tighter, so a smaller σ for the same ε); the
 * guarantee is (ε, targetDelta)-DP for add/remove-one-example neighbours, with ε reported in
 * every epoch's logs and in the history. The same kind calibrates σ from `targetEpsilon` and
 * decides where training stops before the budget. With adaptive clipping the quantile estimate's noise is
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
 * With the PLD accountant (the MNIST run: q = 512/60000, 4,720 steps, ε = 3, δ = 1e-5 gives
 * σ ≈ 1.0704 against RDP's 1.1258):
 * ```ts
 * const pld = makePrivate(model, {
 *   l2NormClip: 1, targetEpsilon: 3, targetDelta: 1e-5, batchSize: 512, accounting: "pld",
 *   optimizer: tf.train.sgd(2), loss: "sparseCategoricalCrossentropy",
 * });
 * // await pld.fit(xTrain, yTrain, { epochs: 40 }); // 60,000 examples: pld.noiseMultiplier -> 1.0704413414001466
 * ```
 * @see https://arxiv.org/abs/1607.00133
 */
export function makePrivate(model: tf.LayersModel, options: MakePrivateOptions): PrivateModel {
  const r = validateOptions(model, options);
  const state: TrainingState = {
    sigma: r.sigma,
    clip: r.initialClip,
    adaptive: undefined,
    ledger: new DpEventBuilder(),
    totalSteps: 0,
    stopRequested: false,
    workers: undefined,
    average: r.ema ? new WeightAverage(r.ema, model) : undefined,
    epsilonCache: new Map(),
  };
  return {
    model,
    get noiseMultiplier() {
      return state.sigma;
    },
    get l2NormClip() {
      return state.clip;
    },
    get steps() {
      return state.totalSteps;
    },
    stopTraining() {
      state.stopRequested = true;
    },
    event() {
      return state.ledger.build();
    },
    epsilon(delta?: number) {
      return spentEpsilon(r, state, delta === undefined ? r.targetDelta : requireOpenProbability("delta", delta));
    },
    emaWeights() {
      return state.average?.average();
    },
    iterateWeights() {
      return state.average ? state.average.lastIterate() : model.trainableWeights.map((w) => w.read().clone());
    },
    fit: (x, y, args = {}) => fitTensors(r, state, x, y, args),
    fitDataset: (dataset, args = {}) => fitDataset(r, state, dataset, args),
  };
}
