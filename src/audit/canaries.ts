/**
 * Canary audits of a training run (Jagielski et al. 2020; Nasr et al. 2021, 2023; Steinke, Nasr
 * & Jagielski 2023): m canaries, each included with probability ½, are inserted into a
 * `makePrivate` training run; afterwards each is scored and the scores become an ε lower bound.
 *
 * Canary kinds:
 * - `"mislabeled"`: held-out images with a wrong label (input space, black box: scored by −loss);
 * - `"ood"`: random binary images with random labels (input space, black box: −loss);
 * - `"gradient"`: white-box Dirac canaries. Canary i's clipped gradient is C·e_{j_i} on its own
 *   coordinate j_i of the first layer's kernel (chosen on inputs that are always 0, so no real
 *   example's gradient touches it). Each step it joins the batch with probability q (dpkit's
 *   Bernoulli sampler, the same law as the Poisson batch) and is added to the clipped sum before
 *   the division by the expected batch size — injected through the optimizer, since adding C·e_j
 *   to the sum before the noise and adding C·e_j / B to the noisy average are the same
 *   distribution. The adversary sees every released gradient: score_i = Σ_t g_t[j_i].
 *
 * The one-run bound is valid for one training run; the Clopper–Pearson bound over canaries
 * treats canaries as independent trials, which one run does not guarantee: it is reported as a
 * heuristic figure.
 *
 * Needs tfjs.
 * @see https://arxiv.org/abs/2305.08846
 * @see https://arxiv.org/abs/2302.07956
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { makePrivate, type MakePrivateOptions } from "../dpsgd/make-private.js";
import { DpError, requireInteger, requireOneOf, requireOpenProbability, requirePositive } from "../errors.js";
import { bernoulli, uniformInt, type Rng } from "../random/index.js";
import { classifierOutputs } from "./mia.js";
import { oneRunAudit, type OneRunAuditResult } from "./one-run.js";
import { attackMetrics, type AttackMetrics } from "./roc.js";
import { epsilonLowerBound, type ThresholdEpsilonBound } from "./threshold.js";

/** The kinds of canary, see the module description. */
export type CanaryKind = "mislabeled" | "ood" | "gradient";

/** Every {@link CanaryKind}. */
export const CANARY_KINDS: readonly CanaryKind[] = ["mislabeled", "ood", "gradient"];

/** Training settings of {@link auditTrainingWithCanaries}. */
export interface CanaryTrainingOptions {
  /** Clip C. */
  l2NormClip: number;
  /** σ (0: clipping only, no privacy); or give `targetEpsilon`. */
  noiseMultiplier?: number;
  /** Calibrate σ to this ε. */
  targetEpsilon?: number;
  /** δ. */
  targetDelta: number;
  /** Expected batch size. */
  batchSize: number;
  /** Plain SGD learning rate. */
  learningRate: number;
  /** Epochs. */
  epochs: number;
  /** Randomness of sampling and noise (default secure). */
  rng?: Rng;
}

/** Options for {@link auditTrainingWithCanaries}. */
export interface CanaryAuditOptions {
  /** Canary kind. */
  kind: CanaryKind;
  /** m, the number of canaries (2 to 100000). */
  canaries: number;
  /** The training set without canaries: inputs and integer labels. */
  x: tf.Tensor;
  y: ArrayLike<number>;
  /** Number of classes. */
  numClasses: number;
  /** `"mislabeled"`: images not in the training set to mislabel (at least m). */
  canarySource?: { x: tf.Tensor; y: ArrayLike<number> };
  /** A fresh softmax classifier. */
  createModel: () => tf.LayersModel;
  /** DP-SGD settings (`makePrivate`). */
  training: CanaryTrainingOptions;
  /** δ for the bounds (default `training.targetDelta`). */
  delta?: number;
  /** 1 − confidence of the bounds; default 0.05. */
  alpha?: number;
  /** Randomness of the coins and the canaries (not privacy noise); default secure. */
  rng?: Rng;
  /** Progress callback after each epoch. */
  onEpochEnd?: (epoch: number, epsilon: number) => void;
}

/** Result of {@link auditTrainingWithCanaries}. */
export interface CanaryAuditResult {
  /** The canary kind. */
  kind: CanaryKind;
  /** m and how many were included. */
  canaries: number;
  included: number;
  /** The accountant's ε for the run (Infinity without noise), at δ. */
  claimedEpsilon: number;
  delta: number;
  /** Noise multiplier used. */
  noiseMultiplier: number;
  /** Steps run. */
  steps: number;
  /** The one-run bound (valid for one run), with its ceiling. */
  oneRun: OneRunAuditResult;
  /** Clopper–Pearson at a split-selected threshold over canaries (heuristic: canaries are not independent runs). */
  thresholdBound: ThresholdEpsilonBound;
  /** AUC, TPR at low FPR and advantage of the canary scores. */
  metrics: AttackMetrics;
  /** Canary scores and coins. */
  scores: Float32Array;
  coins: Uint8Array;
  /** Training wall time. */
  trainSeconds: number;
}

/** Adds Dirac canary gradients to the privatised gradients of one variable and records what is released on their coordinates. */
class CanaryInjectingOptimizer extends tf.Optimizer {
  static get className(): string {
    return "DpkitCanaryInjectingOptimizer";
  }
  readonly scores: Float64Array;
  constructor(
    private readonly inner: tf.Optimizer,
    private readonly variable: string,
    private readonly coords: Int32Array,
    private readonly coins: Uint8Array,
    private readonly q: () => number,
    private readonly contribution: () => number,
    private readonly rng: Rng | undefined,
  ) {
    super();
    this.scores = new Float64Array(coords.length);
  }
  applyGradients(grads: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    if (Array.isArray(grads)) throw new DpError("invalid_state", "Expected a NamedTensorMap of gradients.", "gradients");
    const g = grads[this.variable];
    if (!g) throw new DpError("invalid_state", `No gradient for the canary variable "${this.variable}".`, "gradients");
    const size = g.size;
    const add = new Float32Array(size);
    const q = this.q();
    const c = this.contribution();
    for (let i = 0; i < this.coords.length; i++) if (this.coins[i] && bernoulli(q, this.rng)) add[this.coords[i]] += c;
    const released = g.dataSync();
    for (let i = 0; i < this.coords.length; i++) this.scores[i] += released[this.coords[i]] + add[this.coords[i]];
    const withCanaries = tf.tidy(() => g.add(tf.tensor(add, g.shape, "float32")));
    try {
      this.inner.applyGradients({ ...grads, [this.variable]: withCanaries });
    } finally {
      withCanaries.dispose();
    }
  }
  override getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

function features(x: tf.Tensor): number {
  return x.shape.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * Inserts m canaries (each with probability ½) into a DP-SGD training run with `makePrivate`,
 * scores them, and converts the scores into ε lower bounds: the one-run bound of Steinke, Nasr &
 * Jagielski (2023) with its ceiling, and a Clopper–Pearson figure at a split-selected threshold.
 *
 * @remarks
 * Input-space canaries measure what a black-box attacker sees of the final model; gradient
 * canaries measure the white-box worst case along the whole run (every released gradient). A
 * one-run bound far below the claim does not mean the claim is tight or loose: one run with m
 * canaries cannot certify more than its ceiling, and natural canaries are far from worst case.
 *
 * @param o - canaries, data, model, training settings, confidence, rng
 * @returns the bounds, the claim and the canary scores
 * @throws {@link DpError} `invalid_parameter` for bad options (e.g. too few source images)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { auditTrainingWithCanaries } from "dpkit/audit";
 * // const r = await auditTrainingWithCanaries({ kind: "gradient", canaries: 200, x, y, numClasses: 10,
 * //   createModel: () => mnistModel("mlp"), training: { l2NormClip: 1, targetEpsilon: 4, targetDelta: 1e-5, batchSize: 256, learningRate: 1, epochs: 2 } });
 * // r.oneRun.epsilonLowerBound, r.oneRun.ceiling, r.claimedEpsilon
 * ```
 * @see https://arxiv.org/abs/2305.08846
 */
export async function auditTrainingWithCanaries(o: CanaryAuditOptions): Promise<CanaryAuditResult> {
  const kind = requireOneOf("kind", o.kind, CANARY_KINDS);
  const m = requireInteger("canaries", o.canaries, { min: 2, max: 100_000 });
  const numClasses = requireInteger("numClasses", o.numClasses, { min: 2, max: 100_000 });
  const n = o.x.shape[0] ?? 0;
  if (n < 1 || o.y.length !== n)
    throw new DpError("invalid_parameter", `\`y\` must hold one label per example of \`x\` (${n}). Found ${o.y.length}.`, "y");
  const t = o.training;
  requirePositive("training.learningRate", t.learningRate);
  requireInteger("training.epochs", t.epochs, { min: 1, max: 10_000 });
  const delta = requireOpenProbability("delta", o.delta ?? t.targetDelta);
  const rng = o.rng;
  const coins = new Uint8Array(m);
  for (let i = 0; i < m; i++) coins[i] = bernoulli(0.5, rng) ? 1 : 0;
  const included = coins.reduce((a, b) => a + b, 0);
  const shape = o.x.shape.slice(1);
  const f = features(o.x);

  // Build the canaries (input kinds) and the training set.
  let canaryX: tf.Tensor | undefined;
  let canaryY: Int32Array | undefined;
  if (kind === "mislabeled") {
    const src = o.canarySource;
    if (!src || (src.x.shape[0] ?? 0) < m || src.y.length < m) {
      throw new DpError("invalid_parameter", `\`canarySource\` must hold at least ${m} images to mislabel.`, "canarySource");
    }
    canaryX = src.x.slice(0, m);
    canaryY = new Int32Array(m);
    for (let i = 0; i < m; i++) canaryY[i] = (Number(src.y[i]) + 1 + uniformInt(numClasses - 1, rng)) % numClasses;
  } else if (kind === "ood") {
    const px = new Float32Array(m * f);
    for (let i = 0; i < px.length; i++) px[i] = bernoulli(0.5, rng) ? 1 : 0;
    canaryX = tf.tensor(px, [m, ...shape]);
    canaryY = new Int32Array(m);
    for (let i = 0; i < m; i++) canaryY[i] = uniformInt(numClasses, rng);
  }
  let x = o.x;
  let y = Float32Array.from(o.y as ArrayLike<number>);
  if (canaryX && canaryY) {
    const idx = [...coins.keys()].filter((i) => coins[i]);
    const inc = tf.gather(canaryX, tf.tensor1d(idx, "int32"));
    x = tf.concat([o.x, inc], 0);
    inc.dispose();
    const yy = new Float32Array(n + idx.length);
    yy.set(y);
    idx.forEach((i, k) => (yy[n + k] = (canaryY as Int32Array)[i]));
    y = yy;
  }
  const yT = tf.tensor1d(y, "float32");
  const model = o.createModel();
  const inner = tf.train.sgd(t.learningRate);
  let optimizer: tf.Optimizer = inner;
  let injector: CanaryInjectingOptimizer | undefined;
  const N = x.shape[0] ?? 0;
  if (kind === "gradient") {
    const v = model.trainableWeights[0];
    const shp = v.shape as number[];
    const size = shp.reduce((a, b) => a * b, 1);
    if (size < m)
      throw new DpError(
        "invalid_parameter",
        `The first trainable variable has ${size} coordinates; \`canaries\` must be <= that. Found ${m}.`,
        "canaries",
      );
    // Prefer coordinates fed by inputs that are 0 in every training example (dense kernels [f, units]).
    let pool: number[] = [];
    if (shp.length === 2 && shp[0] === f) {
      const maxAbs = tf.tidy(() => o.x.reshape([n, f]).abs().max(0).dataSync());
      for (let r = 0; r < f; r++) if (maxAbs[r] === 0) for (let u = 0; u < shp[1]; u++) pool.push(r * shp[1] + u);
    }
    if (pool.length < m) pool = Array.from({ length: size }, (_, i) => i);
    // Partial Fisher–Yates for m distinct coordinates.
    for (let i = 0; i < m; i++) {
      const j = i + uniformInt(pool.length - i, rng);
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    const coords = Int32Array.from(pool.slice(0, m));
    const name = (v.read() as tf.Variable).name;
    const q = t.batchSize / N;
    injector = new CanaryInjectingOptimizer(
      inner,
      name,
      coords,
      coins,
      () => q,
      () => t.l2NormClip / t.batchSize,
      t.rng,
    );
    optimizer = injector;
  }
  const opts: MakePrivateOptions = {
    l2NormClip: t.l2NormClip,
    noiseMultiplier: t.noiseMultiplier,
    targetEpsilon: t.targetEpsilon,
    targetDelta: t.targetDelta,
    batchSize: t.batchSize,
    optimizer,
    loss: "sparseCategoricalCrossentropy",
    rng: t.rng,
    // An audit measures the mechanism with the auditor's randomness (seeded when reproducible),
    // and may train a non-private control; it releases no one's data.
    allowInsecureRng: true,
    allowNonPrivate: true,
  };
  const priv = makePrivate(model, opts);
  const t0 = Date.now();
  await priv.fit(x, yT, { epochs: t.epochs, verbose: 0, callbacks: { onEpochEnd: (e, logs) => o.onEpochEnd?.(e, logs?.epsilon ?? NaN) } });
  const trainSeconds = (Date.now() - t0) / 1000;
  let scores: Float32Array;
  if (injector) scores = Float32Array.from(injector.scores);
  else {
    const out = classifierOutputs(model, { x: canaryX as tf.Tensor, y: canaryY as Int32Array });
    scores = out.loss.map((l) => -l);
  }
  const scoresIn = scores.filter((_, i) => coins[i] === 1);
  const scoresOut = scores.filter((_, i) => coins[i] === 0);
  const alpha = o.alpha ?? 0.05;
  const oneRun = oneRunAudit({ scores, included: coins, delta, beta: alpha });
  const thresholdBound = epsilonLowerBound({ scoresIn, scoresOut, delta, alpha, strategy: { kind: "split", selectionFraction: 0.3 } });
  const result: CanaryAuditResult = {
    kind,
    canaries: m,
    included,
    claimedEpsilon: priv.noiseMultiplier === 0 ? Infinity : priv.epsilon(delta),
    delta,
    noiseMultiplier: priv.noiseMultiplier ?? 0,
    steps: priv.steps,
    oneRun,
    thresholdBound,
    metrics: attackMetrics(scoresIn, scoresOut),
    scores,
    coins,
    trainSeconds,
  };
  yT.dispose();
  model.dispose();
  if (x !== o.x) x.dispose();
  if (canaryX) canaryX.dispose();
  return result;
}
