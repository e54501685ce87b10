/**
 * An exponential moving average (EMA) of a model's trainable weights over the private iterates
 * of DP-SGD, as `makePrivate`'s `ema` option keeps it (Keras: `use_ema` / `ema_momentum`).
 *
 * The average is computed from the weights the private steps produced and from nothing else: it
 * is post-processing of the private iterates, so it costs no privacy and adds no noise; the
 * ledger and ε are those of the same run without it.
 *
 * @see De, Berrada, Hayes, Smith, Balle, "Unlocking High-Accuracy Differentially Private Image
 *   Classification through Scale", 2022, https://arxiv.org/abs/2204.13650 (parameter averaging,
 *   warm-up `min(μ, (1 + t) / (10 + t))`)
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError } from "../errors.js";

/**
 * The `ema` option of {@link makePrivate}: an exponential moving average of the trainable weights
 * over the private iterates, written into the model when `fit` returns.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { makePrivate } from "dpkit/dpsgd";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 10, activation: "softmax" })] });
 * const priv = makePrivate(model, {
 *   l2NormClip: 0.1, targetEpsilon: 3, targetDelta: 1e-5, batchSize: 512,
 *   optimizer: tf.train.momentum(0.5, 0.9), loss: "sparseCategoricalCrossentropy",
 *   ema: { momentum: 0.999 },
 * });
 * // await priv.fit(x, y, { epochs: 40, validationData: [xTest, yTest] });
 * // model now holds the average; history.history.val_ema_acc / val_acc: average / last iterate
 * // priv.iterateWeights() -> the last private iterate's weights
 * ```
 */
export interface EmaOptions {
  /**
   * Momentum μ in [0, 1): after every private step, `average = μ · average + (1 − μ) · weights`.
   * The average spans about 1 / (1 − μ) steps (0.999: about 1,000). 0 keeps the last iterate
   * (the same weights as without `ema`).
   */
  momentum: number;
  /**
   * De et al.'s warm-up: update t (0-based) uses `min(μ, (1 + t) / (10 + t))` instead of μ, and
   * the average starts from the weights before the first step. Default `false`: as Keras, the
   * first update copies the first iterate and every later one uses μ. Note that with μ = 0.999
   * the warm-up is below μ for the first 8,990 updates, i.e. the whole of most runs, where it
   * averages over the last ~t/9 steps instead of ~1,000.
   */
  warmup?: boolean;
}

/** `ema` checked: momentum and warm-up. */
export interface ResolvedEma {
  momentum: number;
  warmup: boolean;
}

/**
 * Checks `makePrivate`'s `ema` option; `undefined` stays off.
 * @internal
 */
export function resolveEmaOption(ema: unknown): ResolvedEma | undefined {
  if (ema === undefined) return undefined;
  if (ema === null || typeof ema !== "object" || Array.isArray(ema)) {
    throw new DpError("invalid_parameter", `\`ema\` must be an object such as { momentum: 0.999 }. Found ${String(ema)}.`, "ema");
  }
  const { momentum, warmup } = ema as Record<string, unknown>;
  if (typeof momentum !== "number" || !Number.isFinite(momentum) || momentum < 0 || momentum >= 1) {
    throw new DpError("invalid_parameter", `\`ema.momentum\` must be a number in [0, 1). Found ${String(momentum)}.`, "ema.momentum");
  }
  if (warmup !== undefined && typeof warmup !== "boolean") {
    throw new DpError("invalid_parameter", `\`ema.warmup\` must be true or false. Found ${String(warmup)}.`, "ema.warmup");
  }
  return { momentum, warmup: warmup ?? false };
}

/**
 * The momentum used by update `t` (0-based count of earlier updates).
 * @internal
 */
export function emaMomentumAt(ema: ResolvedEma, t: number): number {
  if (ema.warmup) return Math.min(ema.momentum, (1 + t) / (10 + t));
  return t === 0 ? 0 : ema.momentum;
}

/**
 * The running average of a model's trainable weights, kept in tfjs variables beside the model.
 * @internal
 */
export class WeightAverage {
  /** Updates made so far. */
  updates = 0;
  private readonly averages: tf.Variable[];
  /** The last private iterate while the average is swapped into the model. */
  private iterate: tf.Tensor[] | undefined;

  constructor(
    readonly config: ResolvedEma,
    private readonly model: tf.LayersModel,
  ) {
    // Starts from the current weights (used by the warm-up; without it the first update overwrites them).
    this.averages = model.trainableWeights.map((w) => tf.variable(w.read(), false));
  }

  /** `true` while the model holds the average (between the end of a fit and the next fit). */
  get swapped(): boolean {
    return this.iterate !== undefined;
  }

  /** One update from the model's current trainable weights (a private iterate). */
  update(): void {
    if (this.iterate) throw new DpError("invalid_state", "The average is swapped into the model; restore the iterate first.", "ema");
    const mu = emaMomentumAt(this.config, this.updates);
    const weights = this.model.trainableWeights;
    tf.tidy(() => {
      this.averages.forEach((a, i) => a.assign(mu === 0 ? weights[i].read() : a.mul(mu).add(weights[i].read().mul(1 - mu))));
    });
    this.updates++;
  }

  /** Copies of the average, in the order of `model.trainableWeights`. */
  average(): tf.Tensor[] {
    return this.averages.map((a) => a.clone());
  }

  /** Copies of the last private iterate (the model's weights unless the average is swapped in). */
  lastIterate(): tf.Tensor[] {
    return this.iterate ? this.iterate.map((t) => t.clone()) : this.model.trainableWeights.map((w) => w.read().clone());
  }

  /** Writes the average into the model, keeping the iterate (no-op before the first update or if swapped). */
  swapIn(): void {
    if (this.iterate || this.updates === 0) return;
    const weights = this.model.trainableWeights;
    this.iterate = weights.map((w) => w.read().clone());
    weights.forEach((w, i) => w.write(this.averages[i]));
  }

  /** Writes the kept iterate back into the model (no-op unless swapped). */
  restore(): void {
    const it = this.iterate;
    if (!it) return;
    this.iterate = undefined;
    this.model.trainableWeights.forEach((w, i) => w.write(it[i]));
    tf.dispose(it);
  }

  /** Runs `fn` with the average in the model and puts the iterate back afterwards. */
  withAverage<T>(fn: () => T): T {
    if (this.iterate || this.updates === 0) return fn();
    this.swapIn();
    try {
      return fn();
    } finally {
      this.restore();
    }
  }
}
