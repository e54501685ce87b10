/**
 * Attack metrics from scores: the ROC curve, its area, the TPR at a fixed low FPR (the metric
 * Carlini et al. 2022 argue for) and the attacker's advantage max(TPR − FPR) (Yeom et al. 2018),
 * with bootstrap intervals. tfjs-free.
 * @module
 */
import { DpError, requireInRange, requireInteger, requireProbability } from "../errors.js";
import { uniformInt, type Rng } from "../random/index.js";

/** A ROC curve: points (fpr[i], tpr[i]) for the rules "in iff score >= thresholds[i]", FPR increasing. */
export interface RocCurve {
  /** False positive rates, from 0 to 1, non-decreasing. */
  fpr: Float64Array;
  /** True positive rates, from 0 to 1, non-decreasing. */
  tpr: Float64Array;
  /** Thresholds (the first is +Infinity: nothing classified "in"). */
  thresholds: Float64Array;
  /** Number of "in" (member) and "out" (non-member) scores. */
  positives: number;
  negatives: number;
}

function checkScores(name: string, s: ArrayLike<number>): void {
  if (!s || typeof s.length !== "number" || s.length < 1)
    throw new DpError("invalid_parameter", `\`${name}\` must hold at least one score.`, name);
  for (let i = 0; i < s.length; i++) if (Number.isNaN(s[i])) throw new DpError("non_finite", `\`${name}\`[${i}] is NaN.`, name);
}

/**
 * The ROC curve of the rule "member iff score >= t" over every distinct threshold t.
 *
 * @param scoresIn - scores of members / trials with the target present (higher = more likely in)
 * @param scoresOut - scores of non-members / trials without it
 * @returns the curve, from (0, 0) to (1, 1)
 * @throws {@link DpError} `invalid_parameter` for an empty array, `non_finite` for NaN scores
 * @example
 * ```ts
 * import { rocCurve } from "dpkit/audit";
 * const roc = rocCurve([0.9, 0.8, 0.3], [0.1, 0.4, 0.2]);
 * roc.tpr; // [0, 1/3, 2/3, 2/3, 1, 1, 1]
 * ```
 */
export function rocCurve(scoresIn: ArrayLike<number>, scoresOut: ArrayLike<number>): RocCurve {
  checkScores("scoresIn", scoresIn);
  checkScores("scoresOut", scoresOut);
  const nIn = scoresIn.length;
  const nOut = scoresOut.length;
  const all = new Float64Array(nIn + nOut);
  const label = new Uint8Array(nIn + nOut);
  for (let i = 0; i < nIn; i++) all[i] = scoresIn[i];
  for (let i = 0; i < nOut; i++) all[nIn + i] = scoresOut[i];
  for (let i = 0; i < nIn; i++) label[i] = 1;
  const order = new Uint32Array(all.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => all[b] - all[a]);
  const fpr: number[] = [0];
  const tpr: number[] = [0];
  const th: number[] = [Infinity];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length;) {
    const t = all[order[k]];
    while (k < order.length && all[order[k]] === t) {
      if (label[order[k]]) tp++;
      else fp++;
      k++;
    }
    fpr.push(fp / nOut);
    tpr.push(tp / nIn);
    th.push(t);
  }
  return { fpr: Float64Array.from(fpr), tpr: Float64Array.from(tpr), thresholds: Float64Array.from(th), positives: nIn, negatives: nOut };
}

/**
 * Area under the ROC curve (trapezoidal; equals the Mann–Whitney probability that a member
 * scores above a non-member, ties counting one half).
 *
 * @param roc - a curve from {@link rocCurve}
 * @returns AUC in [0, 1]; 0.5 is chance
 * @example
 * ```ts
 * import { auc, rocCurve } from "dpkit/audit";
 * auc(rocCurve([2, 3], [0, 1])); // 1
 * ```
 */
export function auc(roc: RocCurve): number {
  let a = 0;
  for (let i = 1; i < roc.fpr.length; i++) a += (roc.fpr[i] - roc.fpr[i - 1]) * (roc.tpr[i] + roc.tpr[i - 1]) * 0.5;
  return a;
}

/**
 * The largest TPR among thresholds whose FPR is at most `fpr` (no interpolation between
 * thresholds: a conservative reading, as in Carlini et al. 2022).
 *
 * @remarks With n non-members an FPR below 1/n cannot be measured: the result is then the TPR at
 * FPR 0.
 * @param roc - a curve from {@link rocCurve}
 * @param fpr - target false positive rate in [0, 1], e.g. 0.001 or 0.01
 * @returns TPR at that FPR
 * @throws {@link DpError} `invalid_parameter` for an FPR outside [0, 1]
 * @example
 * ```ts
 * import { rocCurve, tprAtFpr } from "dpkit/audit";
 * tprAtFpr(rocCurve([2, 3], [0, 1]), 0.01); // 1
 * ```
 * @see https://arxiv.org/abs/2112.03570
 */
export function tprAtFpr(roc: RocCurve, fpr: number): number {
  requireProbability("fpr", fpr);
  let best = 0;
  for (let i = 0; i < roc.fpr.length; i++) if (roc.fpr[i] <= fpr + 1e-12 && roc.tpr[i] > best) best = roc.tpr[i];
  return best;
}

/**
 * The membership advantage max over thresholds of TPR − FPR (Yeom et al. 2018): 0 for a useless
 * attack, 1 for a perfect one. An ε-DP mechanism bounds it by (e^ε − 1)/(e^ε + 1).
 *
 * @param roc - a curve from {@link rocCurve}
 * @returns the advantage in [0, 1]
 * @example
 * ```ts
 * import { attackAdvantage, rocCurve } from "dpkit/audit";
 * attackAdvantage(rocCurve([2, 3], [0, 1])); // 1
 * ```
 * @see https://arxiv.org/abs/1709.01604
 */
export function attackAdvantage(roc: RocCurve): number {
  let best = 0;
  for (let i = 0; i < roc.fpr.length; i++) best = Math.max(best, roc.tpr[i] - roc.fpr[i]);
  return best;
}

/** The usual summary of an attack, see {@link attackMetrics}. */
export interface AttackMetrics {
  /** Area under the ROC curve. */
  auc: number;
  /** TPR at FPR 0.1%. */
  tprAt0_1PctFpr: number;
  /** TPR at FPR 1%. */
  tprAt1PctFpr: number;
  /** max(TPR − FPR). */
  advantage: number;
  /** Member / non-member counts. */
  positives: number;
  negatives: number;
}

/**
 * AUC, TPR at 0.1% and 1% FPR and the advantage of an attack's scores.
 *
 * @param scoresIn - member scores (higher = more likely a member)
 * @param scoresOut - non-member scores
 * @returns the metrics
 * @throws {@link DpError} as {@link rocCurve}
 * @example
 * ```ts
 * import { attackMetrics } from "dpkit/audit";
 * attackMetrics([0.9, 0.8, 0.3], [0.1, 0.4, 0.2]).auc; // 8/9
 * ```
 */
export function attackMetrics(scoresIn: ArrayLike<number>, scoresOut: ArrayLike<number>): AttackMetrics {
  const roc = rocCurve(scoresIn, scoresOut);
  return {
    auc: auc(roc),
    tprAt0_1PctFpr: tprAtFpr(roc, 0.001),
    tprAt1PctFpr: tprAtFpr(roc, 0.01),
    advantage: attackAdvantage(roc),
    positives: roc.positives,
    negatives: roc.negatives,
  };
}

/** Options for {@link bootstrapInterval}. */
export interface BootstrapOptions {
  /** Member scores. */
  scoresIn: ArrayLike<number>;
  /** Non-member scores. */
  scoresOut: ArrayLike<number>;
  /** The statistic, e.g. `(i, o) => auc(rocCurve(i, o))`. */
  statistic: (scoresIn: Float64Array, scoresOut: Float64Array) => number;
  /** Resamples (1 to 100000); default 200. */
  resamples?: number;
  /** Two-sided level; default 0.95. */
  level?: number;
  /** Randomness for the resampling (not privacy noise); defaults to the secure source. */
  rng?: Rng;
}

/** A bootstrap percentile interval. */
export interface BootstrapInterval {
  /** The statistic on the data. */
  estimate: number;
  /** Percentile bounds. */
  lower: number;
  upper: number;
  /** The level. */
  level: number;
}

/**
 * A percentile bootstrap interval for a statistic of the two score sets (each resampled with
 * replacement).
 *
 * @remarks This describes the sampling variability of an *estimate* (e.g. AUC); it is not a
 * confidence bound on ε — use {@link epsilonLowerBound} for that.
 * @param o - scores, statistic, number of resamples, level, rng
 * @returns the estimate and its interval
 * @throws {@link DpError} `invalid_parameter` for a bad count or level
 * @example
 * ```ts
 * import { auc, bootstrapInterval, rocCurve } from "dpkit/audit";
 * import { SeededRng } from "dpkit/random";
 * bootstrapInterval({ scoresIn: [0.9, 0.8, 0.3], scoresOut: [0.1, 0.4, 0.2], statistic: (i, o) => auc(rocCurve(i, o)), rng: new SeededRng(1) });
 * ```
 */
export function bootstrapInterval(o: BootstrapOptions): BootstrapInterval {
  checkScores("scoresIn", o.scoresIn);
  checkScores("scoresOut", o.scoresOut);
  const B = requireInteger("resamples", o.resamples ?? 200, { min: 1, max: 100_000 });
  const level = requireInRange("level", o.level ?? 0.95, 0, 1);
  const a = Float64Array.from(o.scoresIn as ArrayLike<number>);
  const b = Float64Array.from(o.scoresOut as ArrayLike<number>);
  const estimate = o.statistic(a, b);
  const values = new Float64Array(B);
  const ra = new Float64Array(a.length);
  const rb = new Float64Array(b.length);
  for (let k = 0; k < B; k++) {
    for (let i = 0; i < a.length; i++) ra[i] = a[uniformInt(a.length, o.rng)];
    for (let i = 0; i < b.length; i++) rb[i] = b[uniformInt(b.length, o.rng)];
    values[k] = o.statistic(ra, rb);
  }
  values.sort();
  const q = (p: number): number => values[Math.min(B - 1, Math.max(0, Math.floor(p * B)))];
  return { estimate, lower: q((1 - level) / 2), upper: q(1 - (1 - level) / 2), level };
}
