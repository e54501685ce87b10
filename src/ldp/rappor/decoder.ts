/**
 * The RAPPOR decoder: from per-cohort bit counts and a map of candidate strings to their Bloom
 * bits, estimate how often each candidate was reported.
 *
 * Follows the reference analysis (google/rappor analysis/R/decode.R) in its steps, with a
 * deterministic, analytic inference in place of glmnet + resampling:
 *
 * 1. Per cohort c and bit i, invert PRR + IRR: `y = (v - p* N_c) / ((q* - p*) N_c)` estimates
 *    the share of cohort c's reports whose true Bloom bit i is set (`EstimateBloomCounts`),
 *    with variance `(r (1 - r) / (q* - p*)^2 + b (1 - b)) / N_c` (r: the plug-in report rate;
 *    b (1 - b): the spread of a candidate's share between cohorts).
 * 2. Selection: a non-negative LASSO, weighted by the inverse variances, by coordinate descent
 *    on the sparse map (the reference uses glmnet with `lower.limits = 0`).
 * 3. Estimation: weighted least squares on the selected candidates, standard errors from the
 *    inverse Gram matrix (scaled up by the residual variance when the fit is worse than the
 *    noise explains, e.g. because of strings missing from the candidate list).
 * 4. A one-sided z test per candidate with a Bonferroni (default, as decode.R) or
 *    Benjamini–Hochberg correction over all candidates; non-significant candidates are removed
 *    and the fit repeated, and candidates left out are re-admitted when their score test passes.
 *
 * @see https://github.com/google/rappor/blob/master/analysis/R/decode.R
 * @see Erlingsson, Pihur & Korolova 2014, "RAPPOR", Section 4 (https://arxiv.org/abs/1407.6981)
 * @module
 */
import { DpError, requireInRange, requireObject, requireOneOf, requireOpenProbability } from "../../errors.js";
import type { RapporCounts, RapporMap } from "./aggregate.js";
import { standardNormalQuantile, standardNormalTail } from "../../math/normal.js";
import {
  rapporBitProbabilities,
  rapporPermanentEpsilon,
  rapporReportEpsilon,
  requireCandidateCount,
  validateRapporParams,
  type RapporParams,
} from "./params.js";

/** Estimated true Bloom-bit shares per cohort (see {@link estimateRapporBloomCounts}). */
export interface RapporBloomEstimate {
  /** m. */
  numCohorts: number;
  /** k. */
  numBits: number;
  /** `estimates[c * k + i]`: estimated share of cohort c's reports whose Bloom bit i is set (unbiased; may fall outside [0, 1]). */
  estimates: Float64Array;
  /** Standard errors of `estimates` (the reference's formula; Infinity for an empty cohort). */
  standardErrors: Float64Array;
}

function checkCounts(params: RapporParams, counts: RapporCounts): void {
  requireObject("counts", counts);
  if (counts.numCohorts !== params.numCohorts || counts.numBits !== params.numBits) {
    throw new DpError(
      "invalid_parameter",
      `\`counts\` has m = ${counts.numCohorts}, k = ${counts.numBits}; the parameters say m = ${params.numCohorts}, k = ${params.numBits}.`,
      "counts",
    );
  }
  if (counts.reports.length !== params.numCohorts || counts.bitSums.length !== params.numCohorts * params.numBits) {
    throw new DpError("invalid_parameter", "`counts` arrays do not have m and m*k entries.", "counts");
  }
}

/**
 * Estimates the share of reports in each cohort whose true Bloom bit is set, inverting the
 * PRR and IRR (the reference's `EstimateBloomCounts`).
 *
 * @param params - RAPPOR parameters
 * @param counts - per-cohort report counts and bit sums
 * @returns estimates and standard errors per cohort and bit
 * @throws {@link DpError} `invalid_parameter` when the counts do not match the parameters or
 *   when `(1 - f)(q - p) = 0` (the reports carry no information)
 * @example
 * ```ts
 * import { estimateRapporBloomCounts, sumRapporBits, DEFAULT_RAPPOR_PARAMS } from "dpkit/ldp";
 * const est = estimateRapporBloomCounts(DEFAULT_RAPPOR_PARAMS, sumRapporBits([{ cohort: 0, irr: 3 }], DEFAULT_RAPPOR_PARAMS));
 * ```
 * @see https://github.com/google/rappor/blob/master/analysis/R/decode.R
 */
export function estimateRapporBloomCounts(params: RapporParams, counts: RapporCounts): RapporBloomEstimate {
  const P = validateRapporParams(params);
  checkCounts(P, counts);
  const { numBits: k, numCohorts: m } = P;
  const { trueOne: p11, trueZero: p01 } = rapporBitProbabilities(P);
  const p2 = p11 - p01;
  if (!(Math.abs(p2) > 1e-12)) {
    throw new DpError("invalid_parameter", "Information is lost: (1 - f)(q - p) = 0, so the reports cannot be decoded.", "probPrr");
  }
  const estimates = new Float64Array(m * k);
  const standardErrors = new Float64Array(m * k);
  for (let c = 0; c < m; c++) {
    const N = counts.reports[c];
    for (let i = 0; i < k; i++) {
      const r = c * k + i;
      if (!(N > 0)) {
        estimates[r] = 0;
        standardErrors[r] = Infinity;
        continue;
      }
      const share = (counts.bitSums[r] - p01 * N) / (p2 * N);
      estimates[r] = share;
      const ph = Math.min(1, Math.max(0, share));
      const rate = ph * p11 + (1 - ph) * p01;
      standardErrors[r] = Math.sqrt((N * rate * (1 - rate)) / (p2 * p2)) / N;
    }
  }
  return { numCohorts: m, numBits: k, estimates, standardErrors };
}

/** Multiple-testing correction for {@link decodeRappor}. */
export type RapporCorrection = "bonferroni" | "benjamini-hochberg" | "none";

/** Options for {@link decodeRappor}. */
export interface RapporDecodeOptions {
  /** RAPPOR parameters. */
  params: RapporParams;
  /** Per-cohort counts. */
  counts: RapporCounts;
  /** Candidate strings and their Bloom bits. */
  map: RapporMap;
  /** Significance level, family-wise (Bonferroni) or false-discovery rate (Benjamini–Hochberg); default 0.05. */
  alpha?: number;
  /** Correction over all candidates; default "bonferroni" (as decode.R). */
  correction?: RapporCorrection;
  /** LASSO penalty in standard-error units of each candidate's score (lambda_j = penalty · sqrt(D_j)); default 1. 0 gives NNLS. */
  lassoPenalty?: number;
  /**
   * Fit a non-negative background share common to all bits (default true): it absorbs reports of
   * strings outside the candidate list and of candidates too rare to detect, which would
   * otherwise inflate the estimates of detected candidates sharing their bits.
   */
  background?: boolean;
}

/** One detected candidate. */
export interface RapporDecodedCandidate {
  /** The candidate string. */
  candidate: string;
  /** Estimated number of reports of this candidate. */
  estimate: number;
  /** Standard error of `estimate`. */
  standardError: number;
  /** Estimated share of all reports (`estimate / numReports`). */
  proportion: number;
  /** Standard error of `proportion`. */
  proportionStandardError: number;
  /** `proportion / proportionStandardError`. */
  zScore: number;
  /** One-sided p-value of `proportion > 0` (uncorrected). */
  pValue: number;
  /** Lower end of the 95% interval of `proportion`, clipped at 0. */
  proportionLow95: number;
  /** Upper end of the 95% interval of `proportion`, clipped at 1. */
  proportionHigh95: number;
}

/** The result of {@link decodeRappor}. */
export interface RapporDecodeResult {
  /** Detected candidates, largest estimate first. */
  detected: RapporDecodedCandidate[];
  /** Total number of reports N. */
  numReports: number;
  /** Number of candidates in the map. */
  numCandidates: number;
  /** Candidates the LASSO kept before the significance tests. */
  selectedByLasso: number;
  /** Sum of the detected proportions. */
  allocatedProportion: number;
  /** `1 - allocatedProportion`: the share of reports no detected candidate explains. */
  unexplainedProportion: number;
  /** Significance level and correction used. */
  alpha: number;
  correction: RapporCorrection;
  /** The per-candidate p-value threshold used in the last round (Bonferroni: alpha / numCandidates). */
  pValueThreshold: number;
  /** z at that threshold. */
  zCritical: number;
  /**
   * Detection floor: the proportion at which a candidate that shares no Bloom bits with other
   * detected candidates reaches `zCritical` (median over candidates); candidates well above it
   * are found with high probability.
   */
  detectionFrequency: number;
  /** Fitted background: the share of reports per bit not explained by detected candidates (0 when `background` is off). */
  backgroundBitShare: number;
  /** Residual variance of the final fit relative to the noise model (about 1 when the model explains the data). */
  residualVarianceRatio: number;
  /** Privacy of the reports: epsilon of the PRR (all reports of a value) and of one report. */
  privacy: { permanentEpsilon: number; reportEpsilon: number };
}

interface Design {
  rows: number;
  y: Float64Array;
  w: Float64Array;
  colStart: Int32Array;
  rowIndex: Int32Array;
  diag: Float64Array; // D_j = sum_r w_r X_rj^2
}

function buildDesign(P: RapporParams, counts: RapporCounts, map: RapporMap, intercept: boolean): Design {
  const { numBits: k, numCohorts: m, numHashes: h } = P;
  const { trueOne: p11, trueZero: p01 } = rapporBitProbabilities(P);
  const p2 = p11 - p01;
  const rowOf = new Int32Array(m * k).fill(-1);
  let rows = 0;
  for (let c = 0; c < m; c++) if (counts.reports[c] > 0) for (let i = 0; i < k; i++) rowOf[c * k + i] = rows++;
  const y = new Float64Array(rows);
  const w = new Float64Array(rows);
  for (let c = 0; c < m; c++) {
    const N = counts.reports[c];
    if (!(N > 0)) continue;
    for (let i = 0; i < k; i++) {
      const r = rowOf[c * k + i];
      const share = (counts.bitSums[c * k + i] - p01 * N) / (p2 * N);
      const b = Math.min(1, Math.max(0, share));
      const rate = b * p11 + (1 - b) * p01;
      const variance = Math.max((rate * (1 - rate)) / (p2 * p2) + b * (1 - b), 1e-6) / N;
      y[r] = share;
      w[r] = 1 / variance;
    }
  }
  const S = map.candidates.length;
  const colStart = new Int32Array(S + 1);
  const tmp: number[] = [];
  const seen = new Int32Array(k).fill(-1);
  for (let j = 0; j < S; j++) {
    colStart[j] = tmp.length;
    for (let c = 0; c < m; c++) {
      if (!(counts.reports[c] > 0)) continue;
      for (let t = 0; t < h; t++) {
        const bit = map.bits[(j * m + c) * h + t];
        if (seen[bit] === j * m + c) continue; // repeated hash in this cohort: the Bloom bit is set once
        seen[bit] = j * m + c;
        tmp.push(rowOf[c * k + bit]);
      }
    }
  }
  colStart[S] = tmp.length;
  // Column S: the background (an intercept), standing for strings outside the candidate list
  // and candidates too rare to detect, whose bits spread evenly over the filter.
  const cols = intercept ? S + 1 : S;
  const colStartAll = new Int32Array(cols + 1);
  colStartAll.set(colStart);
  if (intercept) {
    for (let r = 0; r < rows; r++) tmp.push(r);
    colStartAll[S + 1] = tmp.length;
  }
  const rowIndex = Int32Array.from(tmp);
  const diag = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let d = 0;
    for (let e = colStartAll[j]; e < colStartAll[j + 1]; e++) d += w[rowIndex[e]];
    diag[j] = d;
  }
  return { rows, y, w, colStart: colStartAll, rowIndex, diag };
}

/** Non-negative weighted LASSO by coordinate descent with an active set. */
function nonNegativeLasso(d: Design, penalty: number, unpenalized: number, maxSweeps = 2000, tol = 1e-7): Float64Array {
  const S = d.diag.length;
  const x = new Float64Array(S);
  const res = Float64Array.from(d.y);
  const lambda = new Float64Array(S);
  for (let j = 0; j < S; j++) lambda[j] = j === unpenalized ? 0 : penalty * Math.sqrt(d.diag[j]);
  const { colStart, rowIndex, w, diag } = d;
  const update = (j: number): number => {
    if (!(diag[j] > 0)) return 0;
    let g = 0;
    for (let e = colStart[j]; e < colStart[j + 1]; e++) {
      const r = rowIndex[e];
      g += w[r] * res[r];
    }
    const next = Math.max(0, x[j] + (g - lambda[j]) / diag[j]);
    const delta = next - x[j];
    if (delta !== 0) {
      for (let e = colStart[j]; e < colStart[j + 1]; e++) res[rowIndex[e]] -= delta;
      x[j] = next;
    }
    return Math.abs(delta) * Math.sqrt(diag[j]);
  };
  for (let outer = 0; outer < maxSweeps; outer++) {
    let change = 0;
    for (let j = 0; j < S; j++) change = Math.max(change, update(j));
    if (change < tol) break;
    // Iterate on the active set until it settles, then sweep everything again.
    for (let inner = 0; inner < maxSweeps; inner++) {
      let c2 = 0;
      for (let j = 0; j < S; j++) if (x[j] > 0) c2 = Math.max(c2, update(j));
      if (c2 < tol) break;
    }
  }
  return x;
}

interface Fit {
  set: number[];
  beta: Float64Array;
  se: Float64Array;
  residual: Float64Array;
  scale: number;
}

/** Weighted least squares on the columns in `set`; drops aliased columns. */
function weightedLeastSquares(d: Design, setIn: number[]): Fit {
  let set = setIn.slice();
  for (;;) {
    const t = set.length;
    const pos = new Map<number, number>();
    set.forEach((j, a) => pos.set(j, a));
    // Row-wise lists of the set's columns.
    const rowCols: number[][] = Array.from({ length: d.rows }, () => []);
    for (let a = 0; a < t; a++) {
      const j = set[a];
      for (let e = d.colStart[j]; e < d.colStart[j + 1]; e++) rowCols[d.rowIndex[e]].push(a);
    }
    const G = new Float64Array(t * t);
    const b = new Float64Array(t);
    for (let r = 0; r < d.rows; r++) {
      const cols = rowCols[r];
      const wr = d.w[r];
      for (let u = 0; u < cols.length; u++) {
        const a = cols[u];
        b[a] += wr * d.y[r];
        for (let v = 0; v < cols.length; v++) G[a * t + cols[v]] += wr;
      }
    }
    // Cholesky G = L L^T.
    const L = new Float64Array(t * t);
    let aliased = -1;
    for (let a = 0; a < t && aliased < 0; a++) {
      for (let c = 0; c <= a; c++) {
        let s = G[a * t + c];
        for (let e = 0; e < c; e++) s -= L[a * t + e] * L[c * t + e];
        if (a === c) {
          if (!(s > 1e-9 * G[a * t + a])) {
            aliased = a;
            break;
          }
          L[a * t + a] = Math.sqrt(s);
        } else L[a * t + c] = s / L[c * t + c];
      }
    }
    if (aliased >= 0) {
      set = set.filter((_, a) => a !== aliased);
      continue;
    }
    // Inverse of L, then G^-1 = L^-T L^-1: solve for beta and the diagonal.
    const Li = new Float64Array(t * t);
    for (let c = 0; c < t; c++) {
      Li[c * t + c] = 1 / L[c * t + c];
      for (let a = c + 1; a < t; a++) {
        let s = 0;
        for (let e = c; e < a; e++) s -= L[a * t + e] * Li[e * t + c];
        Li[a * t + c] = s / L[a * t + a];
      }
    }
    const z = new Float64Array(t);
    for (let a = 0; a < t; a++) {
      let s = 0;
      for (let e = 0; e <= a; e++) s += Li[a * t + e] * b[e];
      z[a] = s;
    }
    const beta = new Float64Array(t);
    const varDiag = new Float64Array(t);
    for (let a = 0; a < t; a++) {
      let s = 0;
      let v = 0;
      for (let e = a; e < t; e++) {
        s += Li[e * t + a] * z[e];
        v += Li[e * t + a] * Li[e * t + a];
      }
      beta[a] = s;
      varDiag[a] = v;
    }
    const residual = Float64Array.from(d.y);
    for (let a = 0; a < t; a++) {
      const j = set[a];
      for (let e = d.colStart[j]; e < d.colStart[j + 1]; e++) residual[d.rowIndex[e]] -= beta[a];
    }
    let rss = 0;
    for (let r = 0; r < d.rows; r++) rss += d.w[r] * residual[r] * residual[r];
    const dof = Math.max(1, d.rows - t);
    const scale = Math.max(1, rss / dof);
    const se = new Float64Array(t);
    for (let a = 0; a < t; a++) se[a] = Math.sqrt(varDiag[a] * scale);
    return { set, beta, se, residual, scale };
  }
}

function significant(
  pValues: number[],
  alpha: number,
  total: number,
  correction: RapporCorrection,
): { keep: boolean[]; threshold: number } {
  if (correction === "none") return { keep: pValues.map((p) => p <= alpha), threshold: alpha };
  if (correction === "bonferroni") return { keep: pValues.map((p) => p <= alpha / total), threshold: alpha / total };
  // Benjamini–Hochberg over all `total` candidates (those not tested have p = 1).
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  let cut = -1;
  order.forEach(([p], r) => {
    if (p <= ((r + 1) * alpha) / total) cut = r;
  });
  const threshold = cut >= 0 ? ((cut + 1) * alpha) / total : alpha / total;
  return { keep: pValues.map((p) => p <= threshold && cut >= 0), threshold };
}

/**
 * Decodes RAPPOR reports: which candidate strings were reported, and how often.
 *
 * @remarks
 * Works on aggregated counts, so its cost does not depend on the number of reports: 64
 * cohorts × 16 bits and 1,000 candidates decode in well under a second. The privacy of the
 * reports is fixed by the clients; decoding is post-processing. Estimates are of the share of
 * all reports; strings missing from the candidate list show up as `unexplainedProportion` (and
 * can bias candidates that share their bits). Standard errors are analytic (inverse Gram
 * matrix of the weighted least-squares fit), not resampled as in decode.R.
 *
 * @param options - {@link RapporDecodeOptions}
 * @returns a {@link RapporDecodeResult}
 * @throws {@link DpError} `invalid_parameter` when the counts or map do not match the
 *   parameters, or the reports carry no information
 * @example
 * ```ts
 * import { decodeRappor, hashRapporCandidates, simulateRapporCounts, DEFAULT_RAPPOR_PARAMS } from "dpkit/ldp";
 * const params = DEFAULT_RAPPOR_PARAMS;
 * const map = hashRapporCandidates(["a", "b", "c"], params);
 * const counts = simulateRapporCounts({ params, map, trueCounts: [50_000, 30_000, 0] });
 * const { detected } = decodeRappor({ params, counts, map });
 * ```
 * @see https://github.com/google/rappor/blob/master/analysis/R/decode.R
 */
export function decodeRappor(options: RapporDecodeOptions): RapporDecodeResult {
  requireObject("options", options);
  const P = validateRapporParams(options.params);
  const { counts, map } = options;
  checkCounts(P, counts);
  requireObject("map", map);
  if (map.numCohorts !== P.numCohorts || map.numHashes !== P.numHashes || map.numBits !== P.numBits) {
    throw new DpError(
      "invalid_parameter",
      `\`map\` has m = ${map.numCohorts}, h = ${map.numHashes}, k = ${map.numBits}; the parameters say m = ${P.numCohorts}, h = ${P.numHashes}, k = ${P.numBits}.`,
      "map",
    );
  }
  const alpha = requireOpenProbability("alpha", options.alpha ?? 0.05);
  const correction = requireOneOf("correction", options.correction ?? "bonferroni", ["bonferroni", "benjamini-hochberg", "none"] as const);
  const penalty = requireInRange("lassoPenalty", options.lassoPenalty ?? 1, 0, 1e6);
  estimateRapporBloomCounts(P, counts); // checks that the reports carry information
  const S = requireCandidateCount("map", map.candidates.length);
  let N = 0;
  for (let c = 0; c < P.numCohorts; c++) N += counts.reports[c];
  const privacy = {
    permanentEpsilon: rapporPermanentEpsilon(P),
    reportEpsilon: Math.min(rapporPermanentEpsilon(P), rapporReportEpsilon(P)),
  };
  const useBackground = options.background ?? true;
  const design = buildDesign(P, counts, map, useBackground);
  const bg = useBackground ? S : -1;

  const baseThreshold = correction === "none" ? alpha : alpha / Math.max(1, S);
  const empty = (selected: number, scale: number): RapporDecodeResult => ({
    detected: [],
    numReports: N,
    numCandidates: S,
    selectedByLasso: selected,
    allocatedProportion: 0,
    unexplainedProportion: 1,
    alpha,
    correction,
    pValueThreshold: baseThreshold,
    zCritical: standardNormalQuantile(1 - baseThreshold),
    detectionFrequency: detectionFloor(design, S, standardNormalQuantile(1 - baseThreshold), scale),
    backgroundBitShare: 0,
    residualVarianceRatio: scale,
    privacy,
  });
  if (S === 0 || N === 0 || design.rows === 0) return empty(0, 1);

  const lasso = nonNegativeLasso(design, penalty, bg);
  let set: number[] = [];
  for (let j = 0; j < S; j++) if (lasso[j] > 0) set.push(j);
  const withBackground = (js: number[]): number[] => (bg >= 0 ? [...js, bg] : js);
  const selectedByLasso = set.length;
  // The fit cannot use more candidates than 80% of the equations (as decode.R's pmax).
  const cap = Math.max(1, Math.floor(0.8 * design.rows));
  if (set.length > cap) set = set.sort((a, b) => lasso[b] * Math.sqrt(design.diag[b]) - lasso[a] * Math.sqrt(design.diag[a])).slice(0, cap);

  let fit: Fit | undefined;
  let threshold = baseThreshold;
  const admitted = new Set<number>();
  for (let round = 0; round < 50; round++) {
    if (set.length === 0) break;
    fit = weightedLeastSquares(design, withBackground(set));
    const pValues = new Array<number>(S).fill(1);
    fit.set.forEach((j, a) => {
      if (j !== bg) pValues[j] = fit!.beta[a] > 0 ? standardNormalTail(fit!.beta[a] / fit!.se[a]) : 1;
    });
    const sig = significant(pValues, alpha, S, correction);
    threshold = sig.threshold;
    const current = fit.set.filter((j) => j !== bg);
    const keep = current.filter((j) => sig.keep[j]);
    if (keep.length < current.length) {
      set = keep;
      continue;
    }
    // Score test for candidates left out: could any of them enter?
    const zc = standardNormalQuantile(1 - threshold);
    let best = -1;
    let bestZ = zc;
    const inSet = new Set(fit.set);
    for (let j = 0; j < S; j++) {
      if (inSet.has(j) || admitted.has(j) || !(design.diag[j] > 0)) continue;
      let g = 0;
      for (let e = design.colStart[j]; e < design.colStart[j + 1]; e++) {
        const r = design.rowIndex[e];
        g += design.w[r] * fit.residual[r];
      }
      const z = g / Math.sqrt(design.diag[j] * fit.scale);
      if (z > bestZ) {
        bestZ = z;
        best = j;
      }
    }
    if (best < 0) break;
    admitted.add(best);
    set = [...current, best];
  }
  if (!fit || set.length === 0) return empty(selectedByLasso, fit?.scale ?? 1);
  fit = weightedLeastSquares(design, withBackground(set));
  const bgIndex = fit.set.indexOf(bg);
  const backgroundBitShare = bgIndex >= 0 ? fit.beta[bgIndex] : 0;

  const detected: RapporDecodedCandidate[] = fit.set
    .filter((j) => j !== bg)
    .map((j) => {
      const a = fit!.set.indexOf(j);
      const proportion = fit!.beta[a];
      const pse = fit!.se[a];
      return {
        candidate: map.candidates[j],
        estimate: proportion * N,
        standardError: pse * N,
        proportion,
        proportionStandardError: pse,
        zScore: proportion / pse,
        pValue: standardNormalTail(proportion / pse),
        proportionLow95: Math.max(0, proportion - 1.959963984540054 * pse),
        proportionHigh95: Math.min(1, proportion + 1.959963984540054 * pse),
      };
    });
  detected.sort((a, b) => b.estimate - a.estimate);
  const allocated = detected.reduce((s, d) => s + d.proportion, 0);
  const zCritical = standardNormalQuantile(1 - threshold);
  return {
    detected,
    numReports: N,
    numCandidates: S,
    selectedByLasso,
    allocatedProportion: allocated,
    unexplainedProportion: 1 - allocated,
    alpha,
    correction,
    pValueThreshold: threshold,
    zCritical,
    detectionFrequency: detectionFloor(design, S, zCritical, fit.scale),
    backgroundBitShare,
    residualVarianceRatio: fit.scale,
    privacy,
  };
}

function detectionFloor(d: Design, S: number, zCritical: number, scale: number): number {
  const v: number[] = [];
  for (let j = 0; j < S; j++) if (d.diag[j] > 0) v.push(Math.sqrt(scale / d.diag[j]));
  if (v.length === 0) return Infinity;
  v.sort((a, b) => a - b);
  return zCritical * v[Math.floor(v.length / 2)];
}
