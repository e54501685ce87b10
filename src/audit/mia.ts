/**
 * Membership inference against a trained TensorFlow.js classifier: the loss and confidence
 * threshold attacks (Yeom et al. 2018) and offline LiRA (Carlini et al. 2022) with a few shadow
 * models trained without the targets; ROC, AUC, TPR at 0.1% and 1% FPR, advantage, and the same
 * metrics per class.
 *
 * This file needs tfjs; the statistics it calls are tfjs-free.
 * @see https://arxiv.org/abs/1709.01604 (Yeom et al. 2018)
 * @see https://arxiv.org/abs/2112.03570 (Carlini et al. 2022, LiRA)
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError } from "../errors.js";
import { standardNormalCdf } from "../math/normal.js";
import type { Rng } from "../random/index.js";
import { attackMetrics, auc, bootstrapInterval, rocCurve, type AttackMetrics, type BootstrapInterval, type RocCurve } from "./roc.js";

/** A labelled set: inputs and integer class labels (one per example). */
export interface LabelledSet {
  /** Inputs, first axis = examples. */
  x: tf.Tensor;
  /** Class labels (integers), shape [n]. */
  y: tf.Tensor | ArrayLike<number>;
}

/** Per-example outputs of a classifier, see {@link classifierOutputs}. */
export interface ClassifierOutputs {
  /** Cross-entropy loss −ln p_y. */
  loss: Float32Array;
  /** Confidence p_y in the true class. */
  confidence: Float32Array;
  /** LiRA's logit-scaled confidence ln(p_y / (1 − p_y)) (stable form). */
  scaledLogit: Float32Array;
  /** True labels. */
  labels: Int32Array;
}

function labelsOf(y: tf.Tensor | ArrayLike<number>, n: number): Int32Array {
  const arr = y instanceof tf.Tensor ? y.dataSync() : y;
  if (arr.length !== n) throw new DpError("invalid_parameter", `\`y\` must hold one label per example (${n}). Found ${arr.length}.`, "y");
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = arr[i];
    if (!Number.isInteger(v) || v < 0) throw new DpError("invalid_parameter", `\`y\`[${i}] must be a class index. Found ${v}.`, "y");
    out[i] = v;
  }
  return out;
}

/**
 * Loss, confidence and logit-scaled confidence of every example under a softmax classifier.
 *
 * @param model - a model whose output is class probabilities (softmax), shape [n, classes]
 * @param set - inputs and labels
 * @param batchSize - examples per forward pass; default 1024
 * @returns per-example outputs
 * @throws {@link DpError} `invalid_parameter` for labels that do not match the inputs or the output width
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { classifierOutputs } from "dpkit/audit";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 3, activation: "softmax" })] });
 * classifierOutputs(model, { x: tf.ones([4, 2]), y: [0, 1, 2, 0] }).loss;
 * ```
 */
export function classifierOutputs(model: tf.LayersModel, set: LabelledSet, batchSize = 1024): ClassifierOutputs {
  const n = set.x.shape[0] ?? 0;
  const labels = labelsOf(set.y, n);
  const loss = new Float32Array(n);
  const confidence = new Float32Array(n);
  const scaledLogit = new Float32Array(n);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const probs = tf.tidy(() => (model.predict(set.x.slice(start, size)) as tf.Tensor).dataSync());
    const k = probs.length / size;
    for (let i = 0; i < size; i++) {
      const yi = labels[start + i];
      if (yi >= k) throw new DpError("invalid_parameter", `\`y\`[${start + i}] = ${yi} is not below the number of classes ${k}.`, "y");
      const p = Math.min(1, Math.max(0, probs[i * k + yi]));
      let rest = 0;
      for (let c = 0; c < k; c++) if (c !== yi) rest += probs[i * k + c];
      const pc = Math.max(p, 1e-30);
      loss[start + i] = -Math.log(pc);
      confidence[start + i] = p;
      scaledLogit[start + i] = Math.log(pc) - Math.log(Math.max(rest, 1e-30));
    }
  }
  return { loss, confidence, scaledLogit, labels };
}

/** One attack's outcome. */
export interface AttackReport extends AttackMetrics {
  /** The attack. */
  attack: "loss" | "confidence" | "lira-offline";
  /** The ROC curve (for plots). */
  roc: RocCurve;
  /** Scores of members and non-members (higher = "member"). */
  scoresIn: Float32Array;
  scoresOut: Float32Array;
  /** Bootstrap interval of the AUC, when `bootstrapResamples` was given. */
  aucInterval?: BootstrapInterval;
}

/** Metrics restricted to one class. */
export interface SliceReport {
  /** The class. */
  label: number;
  /** Members / non-members of that class. */
  members: number;
  nonMembers: number;
  /** AUC and advantage of each attack on the slice. */
  auc: Record<string, number>;
  advantage: Record<string, number>;
}

/** Options for {@link membershipInference}. */
export interface MembershipInferenceOptions {
  /** The attacked model (softmax classifier). */
  model: tf.LayersModel;
  /** Training examples (members). */
  members: LabelledSet;
  /** Examples from the same distribution not used in training. */
  nonMembers: LabelledSet;
  /**
   * Shadow models trained on data that excludes every target (members and non-members), for
   * offline LiRA; at least 2. Without them LiRA is skipped.
   */
  shadowModels?: tf.LayersModel[];
  /** LiRA: one variance over all targets (robust with few shadows; default) or one per target. */
  liraVariance?: "global" | "per-example";
  /** Resample members and non-members this many times for a 95% bootstrap interval of each AUC (default: none). */
  bootstrapResamples?: number;
  /** Randomness of the bootstrap (not privacy noise); defaults to the secure source. */
  rng?: Rng;
}

/** Result of {@link membershipInference}. */
export interface MembershipInferenceResult {
  /** Loss, confidence and (with shadows) offline LiRA. */
  attacks: AttackReport[];
  /** Per-class metrics of each attack. */
  slices: SliceReport[];
}

function report(attack: AttackReport["attack"], scoresIn: Float32Array, scoresOut: Float32Array): AttackReport {
  return { attack, ...attackMetrics(scoresIn, scoresOut), roc: rocCurve(scoresIn, scoresOut), scoresIn, scoresOut };
}

/**
 * Offline LiRA scores (Carlini et al. 2022, the "offline" variant): for each target, the shadow
 * models (trained without it) give the distribution of its logit-scaled confidence when it is
 * *out*; the score is how far above that Gaussian the attacked model's value lies,
 * −ln(1 − Φ((φ − μ_out)/σ_out)).
 *
 * @param target - φ of each target under the attacked model
 * @param shadows - φ of each target under each shadow model (shadows[s][i])
 * @param variance - "global" (one σ for all targets, default) or "per-example"
 * @returns one score per target (higher = more likely a member)
 * @throws {@link DpError} `invalid_parameter` for fewer than 2 shadows or mismatched lengths
 * @example
 * ```ts
 * import { liraOfflineScores } from "dpkit/audit";
 * liraOfflineScores(new Float32Array([3, 0]), [new Float32Array([0, 0]), new Float32Array([1, 1])]);
 * ```
 * @see https://arxiv.org/abs/2112.03570
 */
export function liraOfflineScores(
  target: Float32Array,
  shadows: Float32Array[],
  variance: "global" | "per-example" = "global",
): Float32Array {
  const n = target.length;
  const S = shadows.length;
  if (S < 2) throw new DpError("invalid_parameter", `Offline LiRA needs at least 2 shadow models. Found ${S}.`, "shadowModels");
  for (const s of shadows)
    if (s.length !== n) throw new DpError("invalid_parameter", "Every shadow must score every target.", "shadowModels");
  const mu = new Float64Array(n);
  const sd = new Float64Array(n);
  let pooled = 0;
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let s = 0; s < S; s++) m += shadows[s][i];
    m /= S;
    let v = 0;
    for (let s = 0; s < S; s++) v += (shadows[s][i] - m) ** 2;
    v /= S - 1;
    mu[i] = m;
    sd[i] = Math.sqrt(v);
    pooled += v;
  }
  const globalSd = Math.sqrt(pooled / n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = Math.max(variance === "global" ? globalSd : sd[i], 1e-6);
    const z = (target[i] - mu[i]) / s;
    // −ln(1 − Φ(z)) = −ln Φ(−z), accurate in the tail.
    out[i] = -Math.log(Math.max(standardNormalCdf(-z), 1e-300));
  }
  return out;
}

/**
 * Runs the loss, confidence and (with shadow models) offline LiRA attacks against `model`, with
 * per-class slices.
 *
 * @remarks
 * The loss attack scores −loss, the confidence attack p_y; LiRA compares each target's
 * logit-scaled confidence with its distribution under the shadow models. Use as many members as
 * non-members for an AUC that reads as a balanced accuracy. TPR at 0.1% FPR needs at least 1000
 * non-members to mean anything. These are empirical attacks: a low AUC does not prove privacy.
 *
 * @param o - model, members, non-members, shadow models
 * @returns per-attack metrics and ROC curves, and per-class slices
 * @throws {@link DpError} `invalid_parameter` for bad sets or too few shadows
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { membershipInference } from "dpkit/audit";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2, activation: "softmax" })] });
 * const r = membershipInference({ model, members: { x: tf.ones([8, 2]), y: [0, 1, 0, 1, 0, 1, 0, 1] }, nonMembers: { x: tf.zeros([8, 2]), y: [0, 1, 0, 1, 0, 1, 0, 1] } });
 * r.attacks[0].auc;
 * ```
 * @see https://arxiv.org/abs/2112.03570
 */
export function membershipInference(o: MembershipInferenceOptions): MembershipInferenceResult {
  const inOut = classifierOutputs(o.model, o.members);
  const outOut = classifierOutputs(o.model, o.nonMembers);
  if (inOut.loss.length < 1 || outOut.loss.length < 1)
    throw new DpError("invalid_parameter", "`members` and `nonMembers` must be non-empty.", "members");
  const neg = (a: Float32Array): Float32Array => a.map((v) => -v);
  const attacks: AttackReport[] = [
    report("loss", neg(inOut.loss), neg(outOut.loss)),
    report("confidence", inOut.confidence, outOut.confidence),
  ];
  if (o.shadowModels && o.shadowModels.length > 0) {
    const nIn = inOut.loss.length;
    const target = new Float32Array(nIn + outOut.loss.length);
    target.set(inOut.scaledLogit);
    target.set(outOut.scaledLogit, nIn);
    const shadows = o.shadowModels.map((m) => {
      const a = classifierOutputs(m, o.members).scaledLogit;
      const b = classifierOutputs(m, o.nonMembers).scaledLogit;
      const s = new Float32Array(target.length);
      s.set(a);
      s.set(b, nIn);
      return s;
    });
    const scores = liraOfflineScores(target, shadows, o.liraVariance ?? "global");
    attacks.push(report("lira-offline", scores.slice(0, nIn), scores.slice(nIn)));
  }
  if (o.bootstrapResamples !== undefined) {
    for (const a of attacks) {
      a.aucInterval = bootstrapInterval({
        scoresIn: a.scoresIn,
        scoresOut: a.scoresOut,
        statistic: (i, u) => auc(rocCurve(i, u)),
        resamples: o.bootstrapResamples,
        rng: o.rng,
      });
    }
  }
  const labels = new Set<number>([...inOut.labels, ...outOut.labels]);
  const slices: SliceReport[] = [];
  for (const c of [...labels].sort((a, b) => a - b)) {
    const idxIn: number[] = [];
    const idxOut: number[] = [];
    inOut.labels.forEach((l, i) => l === c && idxIn.push(i));
    outOut.labels.forEach((l, i) => l === c && idxOut.push(i));
    if (idxIn.length === 0 || idxOut.length === 0) continue;
    const s: SliceReport = { label: c, members: idxIn.length, nonMembers: idxOut.length, auc: {}, advantage: {} };
    for (const a of attacks) {
      const m = attackMetrics(
        idxIn.map((i) => a.scoresIn[i]),
        idxOut.map((i) => a.scoresOut[i]),
      );
      s.auc[a.attack] = m.auc;
      s.advantage[a.attack] = m.advantage;
    }
    slices.push(s);
  }
  return { attacks, slices };
}
