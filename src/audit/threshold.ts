/**
 * The best decision threshold for an ε lower bound, with the confidence paid for honestly:
 * either the thresholds are pre-registered (Bonferroni over them), or a selection split of the
 * trials picks one threshold and the remaining trials, untouched by the choice, bound ε at the
 * full confidence. Choosing the best of many thresholds on the same counts without a correction
 * would overstate the bound.
 *
 * tfjs-free.
 * @module
 */
import { DpError, requireInRange, requireOpenProbability, requireProbability } from "../errors.js";
import { standardNormalQuantile } from "../math/normal.js";
import { clopperPearson } from "./clopper-pearson.js";
import { epsilonFromCounts, type EpsilonBound } from "./epsilon.js";

/** How the threshold of {@link epsilonLowerBound} is chosen. */
export type ThresholdStrategy =
  | {
      /** Thresholds fixed before the data were seen; Bonferroni: each bound at alpha / (number of thresholds). */
      kind: "preregistered";
      thresholds: readonly number[];
    }
  | {
      /**
       * The first `selectionFraction` of each score array picks the threshold (the one with the
       * best estimated bound), the rest bounds ε at the full alpha. The trials must be i.i.d. (as
       * audit trials are), so "the first part" is a random split.
       */
      kind: "split";
      selectionFraction?: number;
      /** At most this many candidate thresholds (quantiles of the selection scores); default 512. */
      candidates?: number;
    };

/** Options for {@link epsilonLowerBound}. */
export interface EpsilonLowerBoundOptions {
  /** Attack scores of trials with the target present (higher = "more likely in"). */
  scoresIn: ArrayLike<number>;
  /** Attack scores of trials with the target absent. */
  scoresOut: ArrayLike<number>;
  /** δ of the claim under test. */
  delta: number;
  /** 1 − confidence; default 0.05. */
  alpha?: number;
  /** Default: `{ kind: "split", selectionFraction: 0.2 }`. */
  strategy?: ThresholdStrategy;
}

/** Result of {@link epsilonLowerBound}. */
export interface ThresholdEpsilonBound extends EpsilonBound {
  /** The threshold used: a trial is classified "in" when its score is >= threshold. */
  threshold: number;
  /** How it was chosen, and how many trials bounded ε. */
  strategy: "preregistered" | "split";
  trialsIn: number;
  trialsOut: number;
}

function sorted(a: ArrayLike<number>, from: number, to: number): Float64Array {
  const out = new Float64Array(to - from);
  for (let i = from; i < to; i++) {
    const v = a[i];
    if (Number.isNaN(v)) throw new DpError("non_finite", "Scores must not be NaN.", "scores");
    out[i - from] = v;
  }
  return out.sort();
}

/** Number of entries of sorted `s` that are >= t. */
function countAtLeast(s: Float64Array, t: number): number {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return s.length - lo;
}

/**
 * A fast stand-in for the final bound, used only to rank thresholds: Wilson bounds at the rates
 * seen in the selection part but with the sample sizes of the evaluation part (what the final
 * Clopper–Pearson bound will have).
 */
function estimatedBound(tpr: number, nIn: number, fpr: number, nOut: number, delta: number, z: number): number {
  const wilson = (p: number, n: number, sign: 1 | -1): number => {
    const c = p + (z * z) / (2 * n);
    const r = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
    return Math.min(1, Math.max(0, (c + sign * r) / (1 + (z * z) / n)));
  };
  const tprLo = wilson(tpr, nIn, -1);
  const fprHi = Math.max(wilson(fpr, nOut, 1), 1 / nOut);
  const e1 = tprLo - delta > 0 ? Math.log((tprLo - delta) / fprHi) : -Infinity;
  const fnrHi = Math.max(1 - tprLo, 1 / nIn);
  const e2 = 1 - fprHi - delta > 0 ? Math.log((1 - fprHi - delta) / fnrHi) : -Infinity;
  return Math.max(e1, e2);
}

/**
 * An ε lower bound from attack scores at the best threshold, with the confidence split
 * correctly (pre-registered thresholds with Bonferroni, or a held-out selection split).
 *
 * @remarks
 * The decision rule "in iff score >= t" is evaluated in both directions of the (ε, δ)
 * inequality (see {@link epsilonFromCounts}). With `kind: "split"` (the default, 20% for
 * selection) the selection part never enters the final counts, so the bound holds at 1 − alpha
 * whatever the selection did; with `kind: "preregistered"` each threshold's bound is computed at
 * alpha / m and the largest is reported, which holds at 1 − alpha by the union bound.
 *
 * @param options - scores, δ, alpha and the strategy
 * @returns the bound, the threshold and the rate bounds
 * @throws {@link DpError} `invalid_parameter` for empty score arrays, a bad fraction or an empty
 *   threshold list; `non_finite` for NaN scores
 * @example
 * ```ts
 * import { epsilonLowerBound } from "dpkit/audit";
 * const scoresOut = Array.from({ length: 1000 }, (_, i) => i / 1000);
 * const scoresIn = scoresOut.map((s) => s + 0.5);
 * epsilonLowerBound({ scoresIn, scoresOut, delta: 0, strategy: { kind: "preregistered", thresholds: [1] } });
 * ```
 * @see https://arxiv.org/abs/2101.04535 (Nasr et al. 2021)
 */
export function epsilonLowerBound(options: EpsilonLowerBoundOptions): ThresholdEpsilonBound {
  const { scoresIn, scoresOut } = options;
  if (!scoresIn || !scoresOut || scoresIn.length < 2 || scoresOut.length < 2) {
    throw new DpError("invalid_parameter", "`scoresIn` and `scoresOut` must each hold at least 2 scores.", "scoresIn");
  }
  const delta = requireProbability("delta", options.delta);
  const alpha = requireOpenProbability("alpha", options.alpha ?? 0.05);
  const strategy = options.strategy ?? { kind: "split" };
  if (strategy.kind === "preregistered") {
    const ts = strategy.thresholds;
    if (!Array.isArray(ts) || ts.length === 0 || ts.length > 10_000) {
      throw new DpError("invalid_parameter", "`strategy.thresholds` must hold 1 to 10000 thresholds.", "strategy.thresholds");
    }
    const sIn = sorted(scoresIn, 0, scoresIn.length);
    const sOut = sorted(scoresOut, 0, scoresOut.length);
    let best: ThresholdEpsilonBound | undefined;
    for (const t of ts) {
      const b = epsilonFromCounts({
        truePositives: countAtLeast(sIn, t),
        positives: sIn.length,
        falsePositives: countAtLeast(sOut, t),
        negatives: sOut.length,
        delta,
        alpha: alpha / ts.length,
      });
      if (!best || b.epsilonLowerBound > best.epsilonLowerBound) {
        best = { ...b, confidence: 1 - alpha, threshold: t, strategy: "preregistered", trialsIn: sIn.length, trialsOut: sOut.length };
      }
    }
    return best as ThresholdEpsilonBound;
  }
  if (strategy.kind !== "split")
    throw new DpError("invalid_parameter", '`strategy.kind` must be "preregistered" or "split".', "strategy.kind");
  const f = requireInRange("strategy.selectionFraction", strategy.selectionFraction ?? 0.2, 0, 1);
  const candidates = Math.max(2, Math.min(10_000, Math.floor(strategy.candidates ?? 512)));
  const kIn = Math.floor(scoresIn.length * f);
  const kOut = Math.floor(scoresOut.length * f);
  if (kIn < 1 || kOut < 1 || kIn >= scoresIn.length || kOut >= scoresOut.length) {
    throw new DpError(
      "invalid_parameter",
      `\`strategy.selectionFraction\` ${f} leaves no trials for selection or for the bound.`,
      "strategy.selectionFraction",
    );
  }
  const selIn = sorted(scoresIn, 0, kIn);
  const selOut = sorted(scoresOut, 0, kOut);
  // Candidate thresholds: quantiles of the pooled selection scores (plus the extremes).
  const pool = new Float64Array(selIn.length + selOut.length);
  pool.set(selIn);
  pool.set(selOut, selIn.length);
  pool.sort();
  const z = Math.max(1, -standardNormalQuantile(alpha / 2));
  let bestT = pool[0];
  let bestV = -Infinity;
  for (let c = 0; c < candidates; c++) {
    const t = pool[Math.min(pool.length - 1, Math.round((c / (candidates - 1)) * (pool.length - 1)))];
    const v = estimatedBound(
      countAtLeast(selIn, t) / selIn.length,
      scoresIn.length - kIn,
      countAtLeast(selOut, t) / selOut.length,
      scoresOut.length - kOut,
      delta,
      z,
    );
    if (v > bestV) {
      bestV = v;
      bestT = t;
    }
  }
  const evalIn = sorted(scoresIn, kIn, scoresIn.length);
  const evalOut = sorted(scoresOut, kOut, scoresOut.length);
  const b = epsilonFromCounts({
    truePositives: countAtLeast(evalIn, bestT),
    positives: evalIn.length,
    falsePositives: countAtLeast(evalOut, bestT),
    negatives: evalOut.length,
    delta,
    alpha,
  });
  return { ...b, threshold: bestT, strategy: "split", trialsIn: evalIn.length, trialsOut: evalOut.length };
}

// ---------------------------------------------------------------------------------------------
// Pre-registered events (the mechanism audits of docs/testing.md section 3)
// ---------------------------------------------------------------------------------------------

/** Inputs to {@link empiricalEpsilon}: hit counts of each pre-registered event under x0 and x1. */
export interface EmpiricalEpsilonOptions {
  /** hits0[j] = number of the n0 outputs on x0 that fall in event j. */
  hits0: ArrayLike<number>;
  /** hits1[j] likewise on x1. */
  hits1: ArrayLike<number>;
  /** Draws per input (or give n0 and n1). */
  n?: number;
  /** Draws on x0. */
  n0?: number;
  /** Draws on x1. */
  n1?: number;
  /** The delta of the claimed (epsilon, delta) guarantee. */
  delta: number;
  /** Overall false-alarm level; default 1e-6. */
  alpha?: number;
  /** Optional names of the events, for messages. */
  eventNames?: string[];
}

/** One event's bounds in one direction. */
export interface EventBound {
  /** Index of the event. */
  event: number;
  /** Its name. */
  name: string;
  /** Which output distribution is over the other. */
  direction: "x0 over x1" | "x1 over x0";
  /** Lower bound on the probability of the event under the first input. */
  pLower: number;
  /** Upper bound on it under the second. */
  pUpper: number;
  /** ln((pLower − δ) / pUpper). */
  epsilonLowerBound: number;
}

/** Result of an audit: the largest lower bound on epsilon over events and directions. */
export interface EmpiricalEpsilonResult {
  /** The largest bound (may be −Infinity when no event shows anything). */
  epsilonLowerBound: number;
  /** The event and direction that gave it. */
  worst: EventBound;
  /** Every event's bounds. */
  bounds: EventBound[];
}

/**
 * Bounds ε from below from the hit counts of up to 20 pre-registered events on two neighbouring
 * inputs (docs/testing.md section 3): p0_lo = CP_lower(k0, n, alpha/(2m)),
 * p1_hi = CP_upper(k1, n, alpha/(2m)), eps_LB = ln((p0_lo − δ)/p1_hi), in both directions.
 *
 * @remarks All 4m one-sided bounds hold together with probability >= 1 − 2·alpha.
 * @param o - counts, draws, δ, alpha
 * @returns the largest bound and every event's bounds
 * @throws {@link DpError} `invalid_parameter` for mismatched or more than 20 events, or missing n
 * @example
 * ```ts
 * import { empiricalEpsilon } from "dpkit/audit";
 * empiricalEpsilon({ hits0: [5000], hits1: [1000], n: 10000, delta: 0 }).epsilonLowerBound; // ≈ 1.5
 * ```
 */
export function empiricalEpsilon(o: EmpiricalEpsilonOptions): EmpiricalEpsilonResult {
  const m = o.hits0.length;
  if (m !== o.hits1.length || m === 0)
    throw new DpError("invalid_parameter", "`hits0` and `hits1` must be non-empty and of equal length.", "hits0");
  if (m > 20) throw new DpError("invalid_parameter", `Pre-register at most 20 events. Found ${m}.`, "hits0");
  const n0 = o.n0 ?? o.n;
  const n1 = o.n1 ?? o.n;
  if (!n0 || !n1) throw new DpError("invalid_parameter", "Give `n`, or `n0` and `n1`.", "n");
  const alpha = o.alpha ?? 1e-6;
  const a = alpha / (2 * m);
  const bounds: EventBound[] = [];
  const lb = (pLo: number, pHi: number): number => (pLo - o.delta > 0 ? Math.log((pLo - o.delta) / pHi) : -Infinity);
  for (let j = 0; j < m; j++) {
    const cp0 = clopperPearson(o.hits0[j], n0, a);
    const cp1 = clopperPearson(o.hits1[j], n1, a);
    const name = o.eventNames?.[j] ?? `event ${j}`;
    bounds.push({
      event: j,
      name,
      direction: "x0 over x1",
      pLower: cp0.lower,
      pUpper: cp1.upper,
      epsilonLowerBound: lb(cp0.lower, cp1.upper),
    });
    bounds.push({
      event: j,
      name,
      direction: "x1 over x0",
      pLower: cp1.lower,
      pUpper: cp0.upper,
      epsilonLowerBound: lb(cp1.lower, cp0.upper),
    });
  }
  let worst = bounds[0];
  for (const b of bounds) if (b.epsilonLowerBound > worst.epsilonLowerBound) worst = b;
  return { epsilonLowerBound: worst.epsilonLowerBound, worst, bounds };
}
