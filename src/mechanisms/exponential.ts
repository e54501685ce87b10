/**
 * Selection mechanisms: the exponential mechanism (McSherry & Talwar 2007) and report-noisy-max
 * with exponential noise, which is permute-and-flip (McKenna & Sheldon 2020; Ding, Kifer et al.
 * 2021). Both are sampled exactly: every acceptance is an exact Bernoulli(exp(-x)) on the exact
 * rational value of x = epsilon (best - score) / (2 sensitivity) (CKS 2020, Algorithm 1), so no
 * floating-point error reaches the selection probabilities.
 *
 * @see https://arxiv.org/abs/2010.12603
 * @module
 */
import { epsilonDeltaEvent, type DpEvent } from "../accounting/events.js";
import { DpError, describeValue, requireNumericArray, requirePositive } from "../errors.js";
import { requireSecureRng, resolveRng, type Rng } from "../random/rng.js";
import { bernoulliExpRational } from "../random/bernoulli.js";
import { doubleToRational, type Rational } from "../random/rational.js";
import { uniformInt } from "../random/uniform.js";

/** Options for {@link exponentialMechanism} and {@link reportNoisyMaxMechanism}. */
export interface SelectionMechanismOptions {
  /** Privacy parameter of one selection, > 0 and finite. */
  epsilon: number;
  /** Sensitivity of every score (max change of one score between neighbours), > 0. */
  sensitivity: number;
  /**
   * `true` when all scores move in the same direction between neighbours (e.g. counts under
   * add/remove): the factor 2 in the exponent is then dropped. Default false.
   */
  monotonic?: boolean;
  /** Randomness source; defaults to the secure source. A source that is not `secure` is refused unless `allowInsecureRng` is set. */
  rng?: Rng;
  /** Accept an insecure (e.g. seeded) `rng` for a reproducible simulation; the result then reports `secure: false` and gives NO privacy. Default false. */
  allowInsecureRng?: boolean;
}

/** A mechanism that privately selects the index of a high score. */
export interface SelectionMechanism {
  /** `false` when the randomness comes from an insecure source accepted with `allowInsecureRng`: NOT private. */
  readonly secure: boolean;
  /** Epsilon of one selection. */
  readonly epsilon: number;
  /** Always 0. */
  readonly delta: number;
  /** Score sensitivity. */
  readonly sensitivity: number;
  /** What one selection spends: `epsilonDelta(epsilon, 0)`. */
  readonly event: DpEvent;
  /** The probability of selecting each index (computed in floating point, for reference only). */
  probabilities(scores: ArrayLike<number>): Float64Array;
  /** Selects an index; spends `event` once. */
  select(scores: ArrayLike<number>): number;
}

function requireScores(scores: unknown): ArrayLike<number> {
  const s = requireNumericArray("scores", scores);
  if (s.length === 0) throw new DpError("invalid_parameter", "`scores` must not be empty. Found an array of length 0.", "scores");
  for (let i = 0; i < s.length; i++) {
    if (!Number.isFinite(s[i])) {
      throw new DpError("non_finite", `\`scores\` must be finite. Found ${describeValue(s[i])} at index ${i}.`, "scores");
    }
  }
  return s;
}

interface Prepared {
  best: Rational;
  /** gamma_i = c (best - s_i) as an exact rational, c = epsilon / (k·sensitivity). */
  gamma(i: number): Rational;
}

function prepare(scores: ArrayLike<number>, epsilon: number, sensitivity: number, monotonic: boolean): Prepared {
  let bestIndex = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[bestIndex]) bestIndex = i;
  const best = doubleToRational(scores[bestIndex]);
  const e = doubleToRational(epsilon);
  const d = doubleToRational(sensitivity);
  const k = monotonic ? 1n : 2n;
  // c = (e.num / e.den) / (k d.num / d.den) = e.num d.den / (e.den k d.num)
  const cNum = e.num * d.den;
  const cDen = e.den * k * d.num;
  return {
    best,
    gamma(i: number): Rational {
      const s = doubleToRational(scores[i]);
      // best - s = (best.num s.den - s.num best.den) / (best.den s.den)
      const diffNum = best.num * s.den - s.num * best.den;
      return { num: cNum * diffNum, den: cDen * best.den * s.den };
    },
  };
}

function floatProbabilities(scores: ArrayLike<number>, c: number): Float64Array {
  let best = -Infinity;
  for (let i = 0; i < scores.length; i++) best = Math.max(best, scores[i]);
  const w = new Float64Array(scores.length);
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += w[i] = Math.exp(-c * (best - scores[i]));
  for (let i = 0; i < scores.length; i++) w[i] /= sum;
  return w;
}

/**
 * The checks and the fields shared by the selection mechanisms: `probabilities(scores, c)` with
 * c = epsilon / (k Δ), and `pick` with the exact quantities of the checked scores.
 */
function selectionMechanism(
  options: SelectionMechanismOptions,
  probabilities: (scores: ArrayLike<number>, c: number) => Float64Array,
  pick: (scores: ArrayLike<number>, p: Prepared, r: Rng) => number,
): SelectionMechanism {
  const epsilon = requirePositive("epsilon", options?.epsilon);
  const sensitivity = requirePositive("sensitivity", options.sensitivity);
  const monotonic = options.monotonic === true;
  const secure = requireSecureRng(options.rng, options.allowInsecureRng);
  const c = epsilon / ((monotonic ? 1 : 2) * sensitivity);
  return {
    epsilon,
    delta: 0,
    sensitivity,
    event: epsilonDeltaEvent(epsilon, 0),
    secure,
    probabilities: (scores) => probabilities(requireScores(scores), c),
    select(scores: ArrayLike<number>): number {
      const s = requireScores(scores);
      const r = resolveRng(options.rng);
      return pick(s, prepare(s, epsilon, sensitivity, monotonic), r);
    },
  };
}

/**
 * The exponential mechanism: selects index i with probability ∝ exp(epsilon·score_i / (2Δ))
 * (exp(epsilon·score_i / Δ) for monotonic scores), sampled exactly.
 *
 * @remarks
 * Privacy: epsilon-DP when each score changes by at most Δ between neighbours. Sampling: a
 * uniform candidate i is accepted with exact probability exp(-epsilon (best - score_i)/(2Δ)),
 * retried until one is accepted; this is exactly the exponential mechanism's distribution.
 * Expected cost: at most `scores.length` candidates.
 *
 * @param options - epsilon, sensitivity, optional monotonic flag and rng
 * @returns a {@link SelectionMechanism}
 * @throws {@link DpError} for a bad `epsilon`/`sensitivity`, or empty / non-finite `scores`
 * @see https://doi.org/10.1109/FOCS.2007.66
 * @example
 * ```ts
 * import { exponentialMechanism } from "dpkit/mechanisms";
 * const pick = exponentialMechanism({ epsilon: 1, sensitivity: 1 });
 * pick.select([10, 12, 3]); // most often 1
 * ```
 */
export function exponentialMechanism(options: SelectionMechanismOptions): SelectionMechanism {
  return selectionMechanism(options, floatProbabilities, (s, p, r) => {
    const cache: (Rational | undefined)[] = new Array(s.length);
    for (;;) {
      const i = uniformInt(s.length, r);
      const g = cache[i] ?? (cache[i] = p.gamma(i));
      if (bernoulliExpRational(g.num, g.den, r)) return i;
    }
  });
}

/**
 * Report-noisy-max with exponential noise, i.e. permute-and-flip: visits the candidates in a
 * uniformly random order and stops at candidate i with exact probability
 * exp(-epsilon (best - score_i) / (2Δ)) (the best candidate always stops it).
 *
 * @remarks
 * Privacy: epsilon-DP when each score changes by at most Δ between neighbours (McKenna &
 * Sheldon 2020); it is never worse than the exponential mechanism in expected score, and
 * equals report-noisy-max with Exponential(2Δ/epsilon) noise in distribution (Ding et al. 2021).
 *
 * @param options - epsilon, sensitivity, optional monotonic flag and rng
 * @returns a {@link SelectionMechanism}
 * @throws {@link DpError} for a bad `epsilon`/`sensitivity`, or empty / non-finite `scores`
 * @see https://arxiv.org/abs/2010.12603
 * @example
 * ```ts
 * import { reportNoisyMaxMechanism } from "dpkit/mechanisms";
 * const rnm = reportNoisyMaxMechanism({ epsilon: 1, sensitivity: 1 });
 * rnm.select([10, 12, 3]);
 * ```
 */
export function reportNoisyMaxMechanism(options: SelectionMechanismOptions): SelectionMechanism {
  const pfProbabilities = (s: ArrayLike<number>, c: number): Float64Array => {
    // Exact formula is exponential in n; estimate by the recursion over sorted weights is
    // overkill for a reference: use the closed form for n <= 12, else the exponential weights.
    const n = s.length;
    if (n > 12) return floatProbabilities(s, c);
    let best = -Infinity;
    for (let i = 0; i < n; i++) best = Math.max(best, s[i]);
    const p = new Float64Array(n);
    const w = Array.from(s, (x) => Math.exp(-c * (best - x)));
    // P(i) = sum over subsets S not containing i of |S|!(n-1-|S|)!/n! * prod_{j in S}(1-w_j) * w_i
    for (let i = 0; i < n; i++) {
      let total = 0;
      const others = [...Array(n).keys()].filter((j) => j !== i);
      for (let mask = 0; mask < 1 << others.length; mask++) {
        let prod = 1;
        let size = 0;
        for (let b = 0; b < others.length; b++)
          if (mask & (1 << b)) {
            prod *= 1 - w[others[b]];
            size++;
          }
        total += prod * factorialRatio(size, n);
      }
      p[i] = total * w[i];
    }
    return p;
  };
  return selectionMechanism(options, pfProbabilities, (s, p, r) => {
    // Visit the candidates in a uniformly random order, drawing the order lazily
    // (incremental Fisher–Yates): the best candidate always accepts, so a pass ends.
    const order = Array.from({ length: s.length }, (_, i) => i);
    for (let pos = 0; pos < order.length; pos++) {
      const j = pos + uniformInt(order.length - pos, r);
      const i = order[j];
      order[j] = order[pos];
      order[pos] = i;
      const g = p.gamma(i);
      if (bernoulliExpRational(g.num, g.den, r)) return i;
    }
    return order[order.length - 1]; // unreachable: the best candidate accepts with probability 1
  });
}

/** |S|! (n-1-|S|)! / n!: the probability that a given set of size |S| precedes i in a random order. */
function factorialRatio(size: number, n: number): number {
  let v = 1 / n;
  // size! (n-1-size)! / (n-1)!  = 1 / C(n-1, size)
  let binom = 1;
  for (let k = 1; k <= size; k++) binom = (binom * (n - 1 - size + k)) / k;
  v /= binom;
  return v;
}
