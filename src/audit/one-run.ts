/**
 * Privacy auditing with one training run (Steinke, Nasr & Jagielski, NeurIPS 2023).
 *
 * m canaries are each included in training independently with probability ½ (S_i = ±1). After
 * training the auditor scores every canary, guesses "included" for the k₊ highest scores and
 * "excluded" for the k₋ lowest and abstains on the rest: r = k₊ + k₋ guesses, v of them correct.
 * If training is (ε, δ)-DP, v is (up to a δ term) stochastically dominated by
 * Binomial(r, e^ε/(1 + e^ε)) (their Theorem 3.1 / Proposition 5.7); the p-value below is
 *
 *   p(ε, δ) = β + 2mδ·max_{1<=i<=v} P[v − i <= W < v] / i,  β = P[W >= v],  W ~ Binomial(r, e^ε/(1+e^ε))
 *
 * and the ε lower bound at confidence 1 − β' is the largest ε with p(ε, δ) <= β'. Even if every
 * guess is right (v = r) the bound cannot exceed the ceiling solved from p = β' at v = r: with
 * r guesses one run cannot certify more (about ln(1/β'^{1/r} − 1)⁻¹ for δ = 0).
 *
 * tfjs-free.
 * @see https://arxiv.org/abs/2305.08846
 * @module
 */
import { DpError, requireInteger, requireOpenProbability, requireProbability } from "../errors.js";
import { binomialUpperTails } from "./clopper-pearson.js";

/** The counts of a one-run audit. */
export interface OneRunCounts {
  /** m: number of canaries (each included with probability ½). */
  canaries: number;
  /** r: number of guesses (k₊ + k₋), <= m. */
  guesses: number;
  /** v: number of correct guesses, <= r. */
  correct: number;
}

function checkCounts(c: OneRunCounts): void {
  const m = requireInteger("canaries", c.canaries, { min: 1 });
  const r = requireInteger("guesses", c.guesses, { min: 0, max: m });
  requireInteger("correct", c.correct, { min: 0, max: r });
}

/**
 * The p-value of v correct guesses out of r under the null hypothesis "training is (ε, δ)-DP"
 * (Steinke, Nasr & Jagielski 2023, the paper's auditing code).
 *
 * @param counts - m, r, v
 * @param epsilon - ε >= 0 of the null hypothesis
 * @param delta - δ in [0, 1] of the null hypothesis
 * @returns p in [0, 1]
 * @throws {@link DpError} `invalid_parameter` for counts out of range
 * @example
 * ```ts
 * import { oneRunPValue } from "dpkit/audit";
 * oneRunPValue({ canaries: 1000, guesses: 100, correct: 100 }, 0, 0); // 2^-100
 * ```
 * @see https://arxiv.org/abs/2305.08846
 */
export function oneRunPValue(counts: OneRunCounts, epsilon: number, delta: number): number {
  checkCounts(counts);
  if (!(epsilon >= 0)) throw new DpError("invalid_parameter", `\`epsilon\` must be >= 0. Found ${epsilon}.`, "epsilon");
  requireProbability("delta", delta);
  return pValue(counts.canaries, counts.guesses, counts.correct, epsilon, delta);
}

function pValue(m: number, r: number, v: number, eps: number, delta: number): number {
  const q = eps === Infinity ? 1 : 1 / (1 + Math.exp(-eps));
  const tails = binomialUpperTails(r, q); // tails[k] = P[W >= k]
  const beta = v <= 0 ? 1 : tails[v];
  if (delta === 0) return beta;
  let alpha = 0;
  for (let i = 1; i <= v; i++) alpha = Math.max(alpha, (tails[v - i] - beta) / i);
  return Math.min(1, beta + alpha * delta * 2 * m);
}

/** Options for {@link oneRunEpsilonLowerBound}. */
export interface OneRunBoundOptions extends OneRunCounts {
  /** δ of the claim under test. */
  delta: number;
  /** β: 1 − confidence; default 0.05. */
  beta?: number;
}

/**
 * The ε lower bound of a one-run audit: the largest ε whose (ε, δ) null hypothesis is rejected
 * at level β by v correct of r guesses (0 if none is).
 *
 * @param o - m, r, v, δ, β
 * @returns ε lower bound, holding with probability >= 1 − β
 * @throws {@link DpError} `invalid_parameter` for counts out of range or a bad δ / β
 * @example
 * ```ts
 * import { oneRunEpsilonLowerBound } from "dpkit/audit";
 * oneRunEpsilonLowerBound({ canaries: 1000, guesses: 100, correct: 100, delta: 0, beta: 0.05 }); // ≈ 3.5
 * ```
 * @see https://arxiv.org/abs/2305.08846
 */
export function oneRunEpsilonLowerBound(o: OneRunBoundOptions): number {
  checkCounts(o);
  const delta = requireProbability("delta", o.delta);
  const beta = requireOpenProbability("beta", o.beta ?? 0.05);
  const { canaries: m, guesses: r, correct: v } = o;
  if (r === 0 || pValue(m, r, v, 0, delta) > beta) return 0;
  let lo = 0;
  let hi = 1;
  while (pValue(m, r, v, hi, delta) <= beta) {
    lo = hi;
    hi *= 2;
    if (hi > 1024) return Infinity;
  }
  // p-value is non-decreasing in ε: bisect for the boundary.
  for (let i = 0; i < 60 && hi - lo > 1e-9 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (pValue(m, r, v, mid, delta) <= beta) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * The largest ε lower bound a one-run audit with r guesses can ever report (every guess right):
 * the limit set by the number of guesses, whatever the true ε.
 *
 * @param o - m and r (and δ, β); `correct` is ignored
 * @returns the ceiling ε
 * @throws {@link DpError} as {@link oneRunEpsilonLowerBound}
 * @example
 * ```ts
 * import { oneRunCeiling } from "dpkit/audit";
 * oneRunCeiling({ canaries: 1000, guesses: 100, delta: 1e-5 }); // below 3.5: 100 guesses cannot show more
 * ```
 */
export function oneRunCeiling(o: Omit<OneRunBoundOptions, "correct"> & { correct?: number }): number {
  return oneRunEpsilonLowerBound({ ...o, correct: o.guesses });
}

/** Options for {@link oneRunAudit}. */
export interface OneRunAuditOptions {
  /** Score of every canary (higher = "more likely included"). */
  scores: ArrayLike<number>;
  /** Whether each canary was included (the ±1 coin S_i, drawn before training). */
  included: ArrayLike<boolean | number>;
  /** δ of the claim under test. */
  delta: number;
  /** β: 1 − confidence; default 0.05 (Bonferroni-split over the guess sizes tried). */
  beta?: number;
  /**
   * Pre-registered (k₊, k₋) pairs to try; the best is reported and β is divided by their number.
   * Default: k₊ in {m/20, m/10, m/5, m/2}, k₋ = k₊ (rounded; pairs with k₊ + k₋ > m dropped).
   */
  guessSizes?: readonly { positive: number; negative: number }[];
}

/** Result of {@link oneRunAudit}. */
export interface OneRunAuditResult {
  /** ε lower bound at confidence 1 − β. */
  epsilonLowerBound: number;
  /** The ceiling for the chosen number of guesses: no run with this r could show more. */
  ceiling: number;
  /** The confidence 1 − β. */
  confidence: number;
  /** m, and r, v at the chosen guess sizes. */
  canaries: number;
  guesses: number;
  correct: number;
  /** k₊ and k₋ chosen. */
  positive: number;
  negative: number;
  /** Every pair tried, with its bound (each at β / pairs). */
  tried: { positive: number; negative: number; guesses: number; correct: number; epsilonLowerBound: number }[];
}

/**
 * The one-run audit from canary scores and inclusion coins: guess the top k₊ scores "in" and the
 * bottom k₋ "out", count correct guesses, and convert to an ε lower bound with its ceiling.
 *
 * @remarks The coins must be drawn independently with probability ½ before training, and the
 * guess sizes fixed before the scores are seen (they are Bonferroni-corrected here). The bound
 * is valid for any (ε, δ)-DP training; it is typically far below the true ε unless many
 * canaries are guessed with near certainty (white-box gradient canaries do best).
 * @param o - scores, coins, δ, β, guess sizes
 * @returns the bound, the ceiling and the counts
 * @throws {@link DpError} `invalid_parameter` for mismatched lengths or bad guess sizes
 * @example
 * ```ts
 * import { oneRunAudit } from "dpkit/audit";
 * const included = Array.from({ length: 200 }, (_, i) => i % 2 === 0);
 * const scores = included.map((b) => (b ? 1 : 0));
 * oneRunAudit({ scores, included, delta: 1e-5 }).epsilonLowerBound; // > 0: a perfect attack
 * ```
 * @see https://arxiv.org/abs/2305.08846
 */
export function oneRunAudit(o: OneRunAuditOptions): OneRunAuditResult {
  const m = o.scores.length;
  if (m < 1 || o.included.length !== m) {
    throw new DpError(
      "invalid_parameter",
      `\`scores\` and \`included\` must be non-empty and of equal length. Found ${m} and ${o.included.length}.`,
      "included",
    );
  }
  const delta = requireProbability("delta", o.delta);
  const beta = requireOpenProbability("beta", o.beta ?? 0.05);
  const defaults = [0.05, 0.1, 0.2, 0.5].map((f) => Math.max(1, Math.round(f * m)));
  const pairs = (o.guessSizes ?? defaults.map((k) => ({ positive: k, negative: k }))).filter((p) => p.positive + p.negative <= m);
  if (pairs.length === 0 || pairs.length > 1000)
    throw new DpError("invalid_parameter", "`guessSizes` must hold 1 to 1000 pairs with k₊ + k₋ <= m.", "guessSizes");
  for (const p of pairs) {
    requireInteger("guessSizes.positive", p.positive, { min: 0, max: m });
    requireInteger("guessSizes.negative", p.negative, { min: 0, max: m });
  }
  const order = Array.from({ length: m }, (_, i) => i);
  for (let i = 0; i < m; i++) if (Number.isNaN(o.scores[i])) throw new DpError("non_finite", `\`scores\`[${i}] is NaN.`, "scores");
  order.sort((a, b) => o.scores[b] - o.scores[a]);
  const inc = (i: number): boolean => Boolean(o.included[i]);
  const b = beta / pairs.length;
  const tried: OneRunAuditResult["tried"] = [];
  let best = -1;
  for (const p of pairs) {
    let v = 0;
    for (let k = 0; k < p.positive; k++) if (inc(order[k])) v++;
    for (let k = 0; k < p.negative; k++) if (!inc(order[m - 1 - k])) v++;
    const r = p.positive + p.negative;
    const eps = oneRunEpsilonLowerBound({ canaries: m, guesses: r, correct: v, delta, beta: b });
    tried.push({ positive: p.positive, negative: p.negative, guesses: r, correct: v, epsilonLowerBound: eps });
    if (best < 0 || eps > tried[best].epsilonLowerBound) best = tried.length - 1;
  }
  const t = tried[best];
  return {
    epsilonLowerBound: t.epsilonLowerBound,
    ceiling: oneRunCeiling({ canaries: m, guesses: t.guesses, delta, beta: b }),
    confidence: 1 - beta,
    canaries: m,
    guesses: t.guesses,
    correct: t.correct,
    positive: t.positive,
    negative: t.negative,
    tried,
  };
}
