/**
 * `dpGradients`: the private replacement for `tf.variableGrads` in a custom training loop, and
 * `dpApplyGradients` / {@link DpOptimizer}, which refuse gradients that did not come from it.
 *
 * One call: per-example clipped sum from the engine (in physical chunks if asked, for large
 * logical batches), Gaussian noise from dpkit's secure sampler added to the sum, division by the
 * expected batch size. See ./privatize.ts for the arithmetic.
 *
 * @see Abadi et al., "Deep Learning with Differential Privacy", CCS 2016, https://arxiv.org/abs/1607.00133
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError, requireNonNegative, requirePositive, requirePositiveInteger, requireProbability } from "../errors.js";
import type { PrivacyAccountant } from "../accounting/accountant.js";
import type { DpEvent } from "../accounting/events.js";
import { sampledGaussianStep } from "../accounting/sampled-gaussian-step.js";
import { checkNoiseWorkerOption, type NoiseWorker } from "../mechanisms/noise-prefetch.js";
import {
  drawExactNoise,
  drawExactNoiseRange,
  exactGridSigma,
  type GaussianNoiseKind,
  type PresampledNoise,
} from "../mechanisms/gaussian-noise.js";
import { requireSecureRng, type Rng } from "../random/rng.js";
import { checkLossMatchesOutput, checkModelSupported, type PerExampleLoss } from "./engine/index.js";
import { clippedGradientsWithHostSums } from "./engine/clipped-gradients.js";
import { privatizeInPlace, type PrivatizeClippedSumOptions } from "./privatize.js";
import { metricSums, type MetricSpec } from "./fit-metrics.js";
import { type DpWorkerPool, sharesNoise, workerClippedSum } from "./workers/pool.js";

/** Options for {@link dpGradients}. */
export interface DpGradientsOptions {
  /** The model whose trainable weights get gradients (a `tf.Sequential` or functional model). */
  model: tf.LayersModel;
  /** Per-example loss: a name or `(yTrue, yPred) => Tensor1D` of per-example losses. */
  loss: PerExampleLoss;
  /** The batch's inputs, first axis = examples (may hold 0 examples). */
  x: tf.Tensor;
  /** The batch's targets, first axis = examples. */
  y: tf.Tensor;
  /** Per-example L2 clip bound C; > 0. */
  l2NormClip: number;
  /** Noise standard deviation divided by C; >= 0. 0 gives no privacy (event `nonPrivate`). */
  noiseMultiplier: number;
  /** The expected batch size q·N used for normalisation (not the realised batch size); > 0. */
  expectedBatchSize: number;
  /**
   * The Poisson sampling rate q with which this batch was drawn, if it was: the returned event
   * is then `poissonSampled(q, gaussian(σ))`; otherwise the unamplified `gaussian(σ)`.
   */
  samplingProbability?: number;
  /** Process the batch in chunks of at most this many examples (virtual steps); default: all at once. */
  maxPhysicalBatchSize?: number;
  /** Engine strategy (see the engine's documentation); default "auto". */
  strategy?: "auto" | "ghost" | "materialize" | "naive";
  /** Randomness source; defaults to the secure source. A source that is not `secure` is refused unless `allowInsecureRng` is set. */
  rng?: Rng;
  /** Accept an insecure (seeded) `rng`: the result is then NOT private (tests and simulations). Default false. */
  allowInsecureRng?: boolean;
  /** `"exact"` (default): discrete Gaussian noise on a power-of-two grid; `"continuous"`: floating-point ziggurat noise. */
  noise?: GaussianNoiseKind;
  /**
   * Share the per-example clipping among worker threads (Node only): a pool from
   * {@link createDpWorkerPool} for this `model`. The noise is still added once, here. Default: none.
   */
  workers?: DpWorkerPool;
  /**
   * Draw the exact noise of the next step ahead of time on a worker thread (Node only; opt-in): a
   * `NoiseWorker` from `createNoiseWorker` (`dpkit/mechanisms`, dispose it after the loop) or `true`
   * for a process-wide one. Needs exact noise and the default secure source. Default: none.
   */
  noiseWorker?: boolean | NoiseWorker;
}

/** What {@link dpGradients} returns. Pass it whole to {@link dpApplyGradients} or a {@link DpOptimizer}. */
export interface DpGradientsResult {
  /**
   * Not readable: reading it throws a `DpError`. The privatised gradients can only be applied by
   * {@link dpApplyGradients} or {@link DpOptimizer}, which count the step in the accountant, so
   * a leftover `optimizer.applyGradients(result.grads)` cannot step without being accounted.
   * Use {@link DpGradientsResult.gradientValues} to inspect the values.
   */
  readonly grads: never;
  /**
   * Copies of the privatised average gradients, keyed like `tf.variableGrads` (variable names),
   * as plain arrays (for inspection: they are released values, but applying them by hand skips
   * the accountant). Throws once the result has been applied (its tensors are disposed).
   */
  gradientValues(): Record<string, Float32Array>;
  /** Each example's gradient norm before clipping (not private: do not release). */
  readonly norms: Float32Array;
  /** What this step spent. */
  readonly event: DpEvent;
  /** Mean loss over the realised batch (not private: for monitoring only; NaN for an empty batch). */
  readonly lossValue: number;
  /** Realised batch size (not private). */
  readonly batchSize: number;
}

/** Gradient results produced by this module and not yet applied, with their tensors. */
const issued = new WeakMap<object, tf.NamedTensorMap>();
/** Results already applied (a second application is refused). */
const consumed = new WeakSet<object>();

/** Whether `value` is a {@link DpGradientsResult} produced by dpkit and not yet applied. @internal */
export function isIssuedDpGradients(value: unknown): value is DpGradientsResult {
  return typeof value === "object" && value !== null && issued.has(value) && !consumed.has(value);
}

/** A clipped sum (not yet noised) of a batch, in double-checked named Float32Arrays. @internal */
export interface ClippedSumParts {
  names: string[];
  shapes: number[][];
  sums: Float32Array[];
  norms: Float32Array;
  lossSum: number;
  batchSize: number;
  /** Sums over the batch of each requested metric (empty when none was requested). */
  metricSums: number[];
  /** The step's exact noise, drawn while a worker pool computed the sum (see {@link computeClippedSum}'s `noiseAhead`). */
  presampled?: PresampledNoise;
}

/** The noise parameters of the step, for drawing its noise while a worker pool computes. @internal */
export type NoiseAhead = Pick<PrivatizeClippedSumOptions, "noiseMultiplier" | "rng" | "allowInsecureRng" | "noise" | "noiseWorker">;

/** A reused buffer for the noise drawn ahead, per pool (zeroed after each use). */
const aheadBuffers = new WeakMap<DpWorkerPool, Float64Array>();

/**
 * With a worker pool, the step's exact noise Z is drawn while the workers compute, never after:
 * - a `callerComputes` pool with the default secure source (see `sharesNoise`) shares it: the
 *   coordinates are cut into disjoint ranges, one per computing thread in proportion to its
 *   chunks; each worker draws its range from its own secure source, the calling thread its own
 *   from the step's source once its chunks are done;
 * - otherwise the calling thread draws all of it from the step's own `rng` (the same stream and
 *   samples as the in-place noise, so the same bytes) once its own chunks are done, while it would
 *   otherwise wait.
 * Only for exact noise with a positive noise multiplier, and not with a `noiseWorker` (which draws
 * it ahead itself). The `rng` is checked first, as the release would check it.
 */
function noiseWhileWaiting(
  pool: DpWorkerPool,
  l2NormClip: number,
  dimension: number,
  o: NoiseAhead | undefined,
): {
  whileWaiting?: () => void;
  share?: { gridSigma: number; drawOwn(z: Float64Array, from: number, to: number): void };
  drawn(): PresampledNoise | undefined;
} {
  if (o === undefined || dimension === 0 || o.noiseWorker || (o.noise ?? "exact") !== "exact") return { drawn: () => undefined };
  const sigma = requireNonNegative("noiseMultiplier", o.noiseMultiplier);
  if (sigma === 0) return { drawn: () => undefined };
  requireSecureRng(o.rng, o.allowInsecureRng);
  if (sharesNoise(pool, o.rng)) {
    const gridSigma = exactGridSigma(sigma * l2NormClip, l2NormClip, dimension);
    const rng = o.rng;
    return { share: { gridSigma, drawOwn: (z, from, to) => drawExactNoiseRange(gridSigma, z, from, to, rng) }, drawn: () => undefined };
  }
  let drawn: PresampledNoise | undefined;
  return {
    whileWaiting: () => {
      drawn = drawExactNoise(sigma * l2NormClip, l2NormClip, dimension, o.rng, aheadBuffers.get(pool));
      aheadBuffers.set(pool, drawn.z);
    },
    drawn: () => drawn,
  };
}

function trainableVariables(model: tf.LayersModel): { name: string; shape: number[] }[] {
  return model.trainableWeights.map((w) => ({ name: (w.read() as tf.Variable).name, shape: w.shape.slice() as number[] }));
}

/**
 * Runs the engine over a batch (in chunks of `maxPhysicalBatchSize`) and returns the clipped sum
 * as flat arrays. An empty batch yields zeros. @internal
 */
export function computeClippedSum(o: {
  model: tf.LayersModel;
  loss: PerExampleLoss;
  x: tf.Tensor;
  y: tf.Tensor;
  l2NormClip: number;
  maxPhysicalBatchSize?: number;
  strategy?: "auto" | "ghost" | "materialize" | "naive";
  metrics?: MetricSpec[];
  workers?: DpWorkerPool;
  /**
   * With `workers`: the step's noise parameters, so that the calling thread draws the noise while
   * the workers compute (returned as `presampled`, used by {@link privatizeParts}).
   */
  noiseAhead?: NoiseAhead;
}): ClippedSumParts {
  const vars = trainableVariables(o.model);
  if (vars.length === 0) {
    throw new DpError("invalid_parameter", "`model` has no trainable weights: there is nothing to train privately.", "model");
  }
  if (o.workers !== undefined) {
    const dimension = vars.reduce((a, v) => a + v.shape.reduce((p, q) => p * q, 1), 0);
    const ahead = noiseWhileWaiting(o.workers, o.l2NormClip, dimension, o.noiseAhead);
    let parts: ClippedSumParts;
    try {
      parts = workerClippedSum(o.workers, { ...o, whileWaiting: ahead.whileWaiting, noise: ahead.share });
    } catch (e) {
      ahead.drawn()?.z.fill(0); // a failed step's noise is never used
      throw e;
    }
    const presampled = parts.presampled ?? ahead.drawn();
    return presampled === undefined ? parts : { ...parts, presampled };
  }
  const names = vars.map((v) => v.name);
  const shapes = vars.map((v) => v.shape);
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  // Filled by the first chunk (a host array from the engine is taken as it is); zeros for an empty batch.
  const sums: (Float32Array | undefined)[] = names.map(() => undefined);
  const n = o.x.shape[0] ?? 0;
  if ((o.y.shape[0] ?? 0) !== n) {
    throw new DpError("invalid_parameter", `\`x\` and \`y\` must hold the same number of examples. Found ${n} and ${o.y.shape[0]}.`, "y");
  }
  const chunk =
    o.maxPhysicalBatchSize === undefined ? Math.max(1, n) : requirePositiveInteger("maxPhysicalBatchSize", o.maxPhysicalBatchSize);
  const norms = new Float32Array(n);
  const specs = o.metrics ?? [];
  const metricTotals = specs.map(() => 0);
  let lossSum = 0;
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    const whole = start === 0 && size === n;
    const xs = whole ? o.x : o.x.slice(start, size);
    const ys = whole ? o.y : o.y.slice(start, size);
    try {
      const r = clippedGradientsWithHostSums(
        { model: o.model, x: xs, y: ys, loss: o.loss, l2NormClip: o.l2NormClip, strategy: o.strategy, keepOutput: specs.length > 0 },
        true,
      );
      try {
        if (r.output) metricSums(specs, ys, r.output).forEach((v, k) => (metricTotals[k] += v));
        for (let k = 0; k < names.length; k++) {
          const host = r.hostSums[names[k]];
          if (host) {
            // A rule's host array (the Embedding's [V, D] sum): taken as it is, no copy.
            const s = sums[k];
            if (s === undefined) sums[k] = host;
            else for (let i = 0; i < host.length; i++) s[i] += host[i];
            continue;
          }
          const t = r.clippedSum[names[k]];
          if (!t) throw new DpError("invalid_state", `The engine returned no gradient for trainable variable "${names[k]}".`, "model");
          const data = t.dataSync();
          const s = sums[k];
          if (s === undefined) sums[k] = new Float32Array(data);
          else for (let i = 0; i < s.length; i++) s[i] += data[i];
        }
      } finally {
        tf.dispose(r.clippedSum);
        r.output?.dispose();
      }
      norms.set(r.norms.subarray(0, size), start);
      lossSum += r.lossValue * size;
    } finally {
      if (!whole) tf.dispose([xs, ys]);
    }
  }
  return {
    names,
    shapes,
    sums: sums.map((s, k) => s ?? new Float32Array(sizes[k])),
    norms,
    lossSum,
    batchSize: n,
    metricSums: metricTotals,
  };
}

/**
 * Adds noise to a clipped sum (all variables as one vector, so the noise is exactly spherical
 * over the whole model) and divides by the expected batch size, in place in `parts.sums` (which
 * then hold the privatised average); returns tensors. @internal
 */
export function privatizeParts(parts: ClippedSumParts, o: Omit<PrivatizeClippedSumOptions, "clippedSum">): tf.NamedTensorMap {
  const noisy = privatizeInPlace(parts.sums, o, parts.presampled);
  const grads: tf.NamedTensorMap = {};
  for (let k = 0; k < parts.names.length; k++) grads[parts.names[k]] = tf.tensor(noisy[k], parts.shapes[k], "float32");
  return grads;
}

/** The fields of a result before it is branded. @internal */
export interface DpGradientsFields {
  grads: tf.NamedTensorMap;
  norms: Float32Array;
  event: DpEvent;
  lossValue: number;
  batchSize: number;
}

function refuseDirectUse(): never {
  throw new DpError(
    "invalid_state",
    "The gradients from dpGradients() can only be applied with dpApplyGradients(optimizer, result, accountant) or a DpOptimizer, which count the step in the privacy accountant; `optimizer.applyGradients(result.grads)` would skip it. Use result.gradientValues() to read the values.",
    "grads",
  );
}

/** Brands a result as produced by dpkit (its tensors are reachable only through dpApplyGradients). @internal */
export function issueDpGradients(fields: DpGradientsFields): DpGradientsResult {
  const { grads, norms, event, lossValue, batchSize } = fields;
  const result = {
    norms,
    event,
    lossValue,
    batchSize,
    gradientValues(): Record<string, Float32Array> {
      if (consumed.has(result)) {
        throw new DpError("invalid_state", "These DP gradients were already applied (their tensors are disposed).", "gradients");
      }
      const out: Record<string, Float32Array> = {};
      for (const [k, t] of Object.entries(grads)) out[k] = (t.dataSync() as Float32Array).slice();
      return out;
    },
  };
  Object.defineProperty(result, "grads", { enumerable: false, get: refuseDirectUse });
  issued.set(result, grads);
  return Object.freeze(result) as unknown as DpGradientsResult;
}

/**
 * Private gradients for one step of a custom training loop: the drop-in replacement for
 * `tf.variableGrads(() => loss)`.
 *
 * @remarks
 * Each example's gradient is clipped to L2 norm `l2NormClip` (non-finite gradients are zeroed),
 * the clipped gradients are summed, Gaussian noise of standard deviation
 * `noiseMultiplier · l2NormClip` from dpkit's secure sampler is added to the sum (one spherical
 * draw over all variables), and the result is divided by `expectedBatchSize`.
 *
 * Guarantee: if the batch is a Poisson sample of rate q from the training set (see
 * {@link poissonSampleIndices}) the step is the Poisson-subsampled Gaussian mechanism under
 * add/remove-one-example neighbours, described by `event` (pass `samplingProbability` to get
 * the amplified event). With `noiseMultiplier: 0` the result is exactly the mean over the
 * expected batch size of the clipped per-example gradients, and the event is `nonPrivate`.
 *
 * The returned gradients are branded: only {@link dpApplyGradients} / {@link DpOptimizer}
 * apply them, once, and record the step's event; `result.grads` throws, so an old
 * `optimizer.applyGradients(result.grads)` line cannot step without the accountant
 * (`result.gradientValues()` reads copies). `norms`, `lossValue` and `batchSize` are not private.
 *
 * @param options - model, per-example loss, batch, clip bound, noise multiplier, expected batch size
 * @returns privatised gradients keyed like `tf.variableGrads`, per-example norms and the step's event
 * @throws {@link DpError} `invalid_parameter` for `noiseMultiplier < 0`, `l2NormClip <= 0`,
 *   `expectedBatchSize <= 0`, mismatched `x`/`y`, a model with no trainable weights;
 *   `unsupported_layer` for a layer the engine cannot handle (e.g. BatchNormalization)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { dpGradients, dpApplyGradients } from "dpkit/dpsgd";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: "softmax" })] });
 * const optimizer = tf.train.sgd(0.1);
 * const x = tf.ones([8, 4]); // your batch
 * const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1]);
 * const step = dpGradients({ model, loss: "sparseCategoricalCrossentropy", x, y, l2NormClip: 1, noiseMultiplier: 1.1, expectedBatchSize: 8 });
 * dpApplyGradients(optimizer, step);
 * ```
 * @see https://arxiv.org/abs/1607.00133
 */
export function dpGradients(options: DpGradientsOptions): DpGradientsResult {
  const l2NormClip = requirePositive("l2NormClip", options.l2NormClip);
  const noiseMultiplier = requireNonNegative("noiseMultiplier", options.noiseMultiplier);
  const expectedBatchSize = requirePositive("expectedBatchSize", options.expectedBatchSize);
  const q = options.samplingProbability === undefined ? undefined : requireProbability("samplingProbability", options.samplingProbability);
  checkModelSupported(options.model, { strategy: options.strategy });
  checkLossMatchesOutput(options.model, options.loss);
  checkNoiseWorkerOption(options.noiseWorker, options.rng, options.noise);
  const parts = computeClippedSum({ ...options, l2NormClip, noiseAhead: options });
  const grads = privatizeParts(parts, {
    l2NormClip,
    noiseMultiplier,
    expectedBatchSize,
    rng: options.rng,
    allowInsecureRng: options.allowInsecureRng,
    noise: options.noise,
    noiseWorker: options.noiseWorker,
  });
  return issueDpGradients({
    grads,
    norms: parts.norms,
    event: sampledGaussianStep(noiseMultiplier, q === undefined ? undefined : { kind: "poisson", samplingProbability: q }).event,
    lossValue: parts.batchSize > 0 ? parts.lossSum / parts.batchSize : NaN,
    batchSize: parts.batchSize,
  });
}

function refuseForeign(value: unknown): never {
  if (typeof value === "object" && value !== null && consumed.has(value)) {
    throw new DpError(
      "invalid_state",
      "These DP gradients were already applied (their tensors are disposed); compute new ones with dpGradients().",
      "gradients",
    );
  }
  throw new DpError(
    "invalid_state",
    "Refusing to apply gradients that dpkit did not privatise: pass the whole object returned by dpGradients() (plain tf.variableGrads output carries no privacy).",
    "gradients",
  );
}

/**
 * Applies private gradients with any tfjs optimizer (SGD, momentum, Adam, ...), then disposes
 * them; records the step's event in `accountant` if given.
 *
 * @remarks
 * Refuses anything not produced by {@link dpGradients} (a plain `NamedTensorMap`, a copy, a
 * result already applied): the optimiser only ever steps on clipped, noised gradients. The
 * optimizer's update is post-processing and spends nothing further.
 *
 * @param optimizer - any `tf.Optimizer`
 * @param gradients - the object returned by {@link dpGradients}
 * @param accountant - optional: receives `gradients.event`
 * @throws {@link DpError} `invalid_state` for foreign or already-applied gradients
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { dpGradients, dpApplyGradients } from "dpkit/dpsgd";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
 * const step = dpGradients({ model, loss: "meanSquaredError", x: tf.ones([4, 2]), y: tf.ones([4, 1]), l2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: 4 });
 * dpApplyGradients(tf.train.adam(1e-3), step);
 * ```
 */
export function dpApplyGradients(optimizer: tf.Optimizer, gradients: DpGradientsResult, accountant?: PrivacyAccountant): void {
  if (!isIssuedDpGradients(gradients)) refuseForeign(gradients);
  const grads = issued.get(gradients) as tf.NamedTensorMap;
  consumed.add(gradients);
  try {
    optimizer.applyGradients(grads);
  } finally {
    tf.dispose(grads);
  }
  if (accountant) accountant.compose(gradients.event);
}

/** Options for {@link DpOptimizer}. */
export interface DpOptimizerOptions {
  /** Any tfjs optimizer; it only ever sees privatised gradients. */
  optimizer: tf.Optimizer;
  /** Receives every step's event (e.g. a `RdpAccountant`). */
  accountant?: PrivacyAccountant;
}

/**
 * A tfjs optimizer wrapper that steps only on gradients from {@link dpGradients} and records
 * each step's event in an accountant.
 *
 * @remarks
 * The guarantee is that of the composed events (see {@link dpGradients}); the wrapper makes it
 * impossible to step on unclipped or unnoised gradients by mistake.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { DpOptimizer, dpGradients } from "dpkit/dpsgd";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
 * const opt = new DpOptimizer({ optimizer: tf.train.momentum(0.1, 0.9) });
 * opt.applyGradients(dpGradients({ model, loss: "meanSquaredError", x: tf.ones([4, 2]), y: tf.ones([4, 1]), l2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: 4 }));
 * console.log(opt.steps); // 1
 * ```
 */
export class DpOptimizer {
  /** The wrapped tfjs optimizer. */
  readonly optimizer: tf.Optimizer;
  /** The accountant that receives each step's event, if any. */
  readonly accountant: PrivacyAccountant | undefined;
  private stepCount = 0;

  /** @param options - the tfjs optimizer and an optional accountant */
  constructor(options: DpOptimizerOptions) {
    if (!(options?.optimizer instanceof tf.Optimizer)) {
      throw new DpError("invalid_parameter", "`optimizer` must be a tf.Optimizer (e.g. tf.train.sgd(0.1)).", "optimizer");
    }
    this.optimizer = options.optimizer;
    this.accountant = options.accountant;
  }

  /** Number of steps applied. */
  get steps(): number {
    return this.stepCount;
  }

  /**
   * Applies one step of private gradients and composes its event.
   * @param gradients - the object returned by {@link dpGradients}
   * @throws {@link DpError} `invalid_state` for foreign or already-applied gradients
   */
  applyGradients(gradients: DpGradientsResult): void {
    dpApplyGradients(this.optimizer, gradients, this.accountant);
    this.stepCount++;
  }
}
