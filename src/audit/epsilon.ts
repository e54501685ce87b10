/**
 * Empirical ε lower bounds from an attack's true and false positive counts (Jagielski, Ullman &
 * Oprea 2020; Nasr et al. 2021): an (ε, δ)-DP mechanism forces every test to satisfy
 * TPR <= e^ε·FPR + δ and TNR <= e^ε·FNR + δ, so confidence bounds on the rates bound ε from below.
 *
 * Also the f-DP / Gaussian-DP reading of the same counts (Dong, Roth & Su 2019; Nasr et al.
 * 2023): μ >= Φ⁻¹(1 − FPR) − Φ⁻¹(FNR), converted to ε at δ. That conversion assumes the
 * mechanism's trade-off curve is Gaussian; the Clopper–Pearson bound assumes nothing.
 *
 * tfjs-free.
 * @module
 */
import { gaussianEpsilonForDelta } from "../accounting/index.js";
import { DpError, requireInteger, requireOpenProbability, requireProbability } from "../errors.js";
import { standardNormalQuantile } from "../math/normal.js";
import { clopperPearson } from "./clopper-pearson.js";

/** Counts of one attack at one decision rule, see {@link epsilonFromCounts}. */
export interface AttackCounts {
  /** Trials with the target present ("in", e.g. canary included) classified "in". */
  truePositives: number;
  /** Number of trials with the target present. */
  positives: number;
  /** Trials with the target absent classified "in". */
  falsePositives: number;
  /** Number of trials with the target absent. */
  negatives: number;
}

/** Options for {@link epsilonFromCounts}. */
export interface EpsilonFromCountsOptions extends AttackCounts {
  /** δ of the (ε, δ) claim under test, in [0, 1). */
  delta: number;
  /** Failure probability of the bound (1 − confidence); default 0.05. Split as alpha/2 per rate. */
  alpha?: number;
}

/** Result of {@link epsilonFromCounts}. */
export interface EpsilonBound {
  /**
   * ε lower bound, holding with probability >= 1 − alpha: max(0, ln((TPR_lo − δ)/FPR_hi),
   * ln((TNR_lo − δ)/FNR_hi)). 0 when neither ratio exceeds 1.
   */
  epsilonLowerBound: number;
  /** Which inequality gave the bound. */
  direction: "tpr/fpr" | "tnr/fnr";
  /** Clopper–Pearson lower bound on the TPR (one-sided at alpha/2). */
  tprLower: number;
  /** Clopper–Pearson upper bound on the FPR (one-sided at alpha/2). */
  fprUpper: number;
  /** Point estimates. */
  tpr: number;
  fpr: number;
  /** The confidence 1 − alpha. */
  confidence: number;
  /**
   * The Gaussian-DP reading of the same bounds: μ_lo = Φ⁻¹(1 − FPR_hi) − Φ⁻¹(1 − TPR_lo) and the ε of μ_lo-GDP at δ. Valid only if the mechanism's trade-off
   * curve is Gaussian (e.g. one unsampled Gaussian step); a heuristic otherwise.
   */
  gdp: { muLowerBound: number; epsilonLowerBound: number };
}

/**
 * ε of μ-Gaussian DP at δ (Dong, Roth & Su 2019, Corollary 2.13): μ-GDP equals the Gaussian
 * mechanism with noise multiplier 1/μ.
 *
 * @param mu - μ >= 0
 * @param delta - δ in (0, 1)
 * @returns the smallest ε with δ(ε) <= delta (0 for μ = 0)
 * @throws {@link DpError} `invalid_parameter` for a negative μ or a bad δ
 * @example
 * ```ts
 * import { gdpEpsilon } from "dpkit/audit";
 * gdpEpsilon(0.5, 1e-5); // ≈ 1.993 (the Gaussian mechanism with σ = 2)
 * ```
 * @see https://arxiv.org/abs/1905.02383
 */
export function gdpEpsilon(mu: number, delta: number): number {
  requireOpenProbability("delta", delta);
  if (!(Number.isFinite(mu) && mu >= 0)) {
    if (mu === Infinity) return Infinity;
    throw new DpError("invalid_parameter", `\`mu\` must be >= 0. Found ${mu}.`, "mu");
  }
  if (mu === 0) return 0;
  return gaussianEpsilonForDelta(1 / mu, delta);
}

/**
 * The GDP μ lower bound implied by an upper bound on FPR and a lower bound on TPR:
 * Φ⁻¹(1 − FPR_hi) − Φ⁻¹(1 − TPR_lo), floored at 0.
 *
 * @param fprUpper - upper bound on the false positive rate
 * @param tprLower - lower bound on the true positive rate
 * @returns μ_lo >= 0
 * @example
 * ```ts
 * import { gdpMuFromRates } from "dpkit/audit";
 * gdpMuFromRates(0.1, 0.9); // 2·Φ⁻¹(0.9) ≈ 2.563
 * ```
 */
export function gdpMuFromRates(fprUpper: number, tprLower: number): number {
  requireProbability("fprUpper", fprUpper);
  requireProbability("tprLower", tprLower);
  // Both inequalities of (ε, δ)-DP read the same way for a Gaussian trade-off curve (it is
  // symmetric): μ >= Φ⁻¹(1 − FPR) − Φ⁻¹(FNR) = Φ⁻¹(TNR) − Φ⁻¹(FNR).
  if (fprUpper >= 1 || tprLower <= 0) return 0;
  const mu = standardNormalQuantile(1 - fprUpper) - standardNormalQuantile(1 - tprLower);
  return Math.max(0, mu);
}

/**
 * An ε lower bound from one decision rule's counts, in both directions, with Clopper–Pearson
 * bounds (each of the two rates one-sided at alpha/2, so the result holds with probability
 * >= 1 − alpha).
 *
 * @remarks
 * If the mechanism is (ε, δ)-DP then TPR <= e^ε FPR + δ and 1 − FPR <= e^ε (1 − TPR) + δ for
 * every test. With TPR_lo <= TPR and FPR_hi >= FPR (jointly with probability >= 1 − alpha),
 * ε >= ln((TPR_lo − δ)/FPR_hi) and ε >= ln((1 − FPR_hi − δ)/(1 − TPR_lo)). The decision rule
 * must be fixed before the counts are seen (pre-registered, or chosen on a separate split:
 * see {@link epsilonLowerBound}).
 *
 * @param options - the counts, δ and alpha
 * @returns the bound, the direction that gave it, the rate bounds and the GDP reading
 * @throws {@link DpError} `invalid_parameter` for counts that are not integers in range
 * @example
 * ```ts
 * import { epsilonFromCounts } from "dpkit/audit";
 * const r = epsilonFromCounts({ truePositives: 900, positives: 1000, falsePositives: 100, negatives: 1000, delta: 0, alpha: 0.05 });
 * r.epsilonLowerBound; // ≈ 1.9 (ln 9 = 2.197 before the confidence correction)
 * ```
 * @see https://arxiv.org/abs/2006.07709 (Jagielski, Ullman & Oprea 2020)
 */
export function epsilonFromCounts(options: EpsilonFromCountsOptions): EpsilonBound {
  const positives = requireInteger("positives", options.positives, { min: 1 });
  const negatives = requireInteger("negatives", options.negatives, { min: 1 });
  const tp = requireInteger("truePositives", options.truePositives, { min: 0, max: positives });
  const fp = requireInteger("falsePositives", options.falsePositives, { min: 0, max: negatives });
  const delta = requireProbability("delta", options.delta);
  if (!(delta < 1)) throw new DpError("invalid_parameter", `\`delta\` must be < 1. Found ${delta}.`, "delta");
  const alpha = requireOpenProbability("alpha", options.alpha ?? 0.05);
  const tprLower = clopperPearson(tp, positives, alpha / 2).lower;
  const fprUpper = clopperPearson(fp, negatives, alpha / 2).upper;
  const ln = (num: number, den: number): number => (num > 0 ? (den > 0 ? Math.log(num / den) : Infinity) : -Infinity);
  const e1 = ln(tprLower - delta, fprUpper);
  const e2 = ln(1 - fprUpper - delta, 1 - tprLower);
  const direction = e2 > e1 ? "tnr/fnr" : "tpr/fpr";
  const eps = Math.max(0, e1, e2);
  const mu = gdpMuFromRates(fprUpper, tprLower);
  const gdpEps = delta > 0 ? gdpEpsilon(mu, delta) : mu > 0 ? Infinity : 0;
  return {
    epsilonLowerBound: eps,
    direction,
    tprLower,
    fprUpper,
    tpr: tp / positives,
    fpr: fp / negatives,
    confidence: 1 - alpha,
    gdp: { muLowerBound: mu, epsilonLowerBound: gdpEps },
  };
}
