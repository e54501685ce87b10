/**
 * Scoreboard-RH, the de-anonymisation algorithm of Narayanan & Shmatikov (IEEE S&P 2008,
 * section 5 and the Netflix instantiation of section 6).
 *
 * For auxiliary knowledge `aux` (a few (movie, rating, date) triples about a target) and every
 * released record r':
 *
 *   Score(aux, r') = Σ_{i ∈ supp(aux) ∩ supp(r')} wt(i) · Sim(aux_i, r'_i),
 *   wt(i) = 1 / log |supp(i)|,
 *   Sim = exp(-|ρ_i − ρ'_i| / ρ0) + exp(-|d_i − d'_i| / d0)   (ρ0 = 1.5, d0 = 30 days),
 *
 * where |supp(i)| is the number of released records that rated movie i; without dates the
 * second term is dropped. A match is claimed only when the eccentricity
 * (best − second best) / σ, with σ the standard deviation of the scores of all records, is at
 * least φ = 1.5.
 *
 * Scores are accumulated through an inverted index (movie → records), so only records that
 * share a movie with `aux` are touched; records that share none score 0 and still count in σ.
 *
 * @see https://www.cs.utexas.edu/~shmat/shmat_oak08netflix.pdf
 * @module
 */
import { DpError, requireNonNegative, requirePositive, requirePositiveInteger } from "../../errors.js";
import type { RatingsTable } from "../../data/netflix.js";

/** The attacker's knowledge about one target: parallel arrays of movies, ratings and days. */
export interface AuxiliaryRecord {
  movies: number[];
  ratings: number[];
  /** Day indices, or `undefined` when the attacker knows no dates. */
  days?: number[];
}

/** Parameters of Scoreboard-RH. */
export interface ScoreboardOptions {
  /** Rating scale ρ0 of the similarity; default 1.5 (the paper). */
  ratingScale?: number;
  /** Date scale d0 in days; default 30 (the paper). */
  dateScale?: number;
  /** Eccentricity threshold φ; default 1.5 (the paper). */
  eccentricityThreshold?: number;
  /** Use dates (when `aux` has them); default true. */
  useDates?: boolean;
}

/** An inverted index of a released ratings table: for each movie, the records that rated it. */
export interface LinkageIndex {
  numRecords: number;
  numMovies: number;
  /** Column offsets, length numMovies + 1. */
  colPtr: Uint32Array;
  /** Record of each entry. */
  records: Uint32Array;
  ratings: Uint8Array;
  days: Uint16Array;
  /** |supp(i)|: number of records that rated movie i. */
  support: Uint32Array;
  /** wt(i) = 1 / ln |supp(i)| (|supp(i)| clamped to >= 2 so the weight is finite). */
  weights: Float64Array;
}

/** The outcome of Scoreboard-RH for one target. */
export interface ScoreboardMatch {
  /** The best-scoring record (or -1 if no record shares a movie with aux). */
  best: number;
  bestScore: number;
  secondScore: number;
  /** Standard deviation of the scores of all records. */
  sigma: number;
  /** (best − second) / sigma (0 when sigma is 0). */
  eccentricity: number;
  /** Whether a match is claimed (eccentricity >= threshold). */
  matched: boolean;
  /** Number of records with a non-zero score (touched through the index). */
  candidates: number;
}

/**
 * Builds the inverted index (movie → records) of a released table by a counting sort: O(ratings).
 * @param table - the released records
 * @returns the index with per-movie supports and weights
 * @example
 * ```ts
 * import { buildLinkageIndex, generateNetflixLike } from "dpkit/attacks";
 * const index = buildLinkageIndex(generateNetflixLike({ users: 500 }));
 * ```
 */
export function buildLinkageIndex(table: RatingsTable): LinkageIndex {
  const { numUsers, numMovies, rowPtr, movies, ratings, days } = table;
  const n = movies.length;
  const support = new Uint32Array(numMovies);
  for (let i = 0; i < n; i++) support[movies[i]]++;
  const colPtr = new Uint32Array(numMovies + 1);
  for (let m = 0; m < numMovies; m++) colPtr[m + 1] = colPtr[m] + support[m];
  const fill = colPtr.slice(0, numMovies);
  const records = new Uint32Array(n);
  const colRatings = new Uint8Array(n);
  const colDays = new Uint16Array(n);
  for (let u = 0; u < numUsers; u++) {
    for (let i = rowPtr[u]; i < rowPtr[u + 1]; i++) {
      const j = fill[movies[i]]++;
      records[j] = u;
      colRatings[j] = ratings[i];
      colDays[j] = days[i];
    }
  }
  const weights = new Float64Array(numMovies);
  for (let m = 0; m < numMovies; m++) weights[m] = 1 / Math.log(Math.max(2, support[m]));
  return { numRecords: numUsers, numMovies, colPtr, records, ratings: colRatings, days: colDays, support, weights };
}

function resolveOptions(options: ScoreboardOptions): Required<ScoreboardOptions> {
  return {
    ratingScale: requirePositive("ratingScale", options.ratingScale ?? 1.5),
    dateScale: requirePositive("dateScale", options.dateScale ?? 30),
    eccentricityThreshold: requireNonNegative("eccentricityThreshold", options.eccentricityThreshold ?? 1.5),
    useDates: options.useDates ?? true,
  };
}

function checkAux(aux: AuxiliaryRecord, numMovies: number): void {
  const k = aux.movies.length;
  if (aux.ratings.length !== k || (aux.days !== undefined && aux.days.length !== k)) {
    throw new DpError("invalid_parameter", "`aux.movies`, `aux.ratings` and `aux.days` must have the same length.", "aux");
  }
  for (const m of aux.movies) {
    if (!(Number.isInteger(m) && m >= 0 && m < numMovies)) {
      throw new DpError("invalid_parameter", `\`aux.movies\` must hold movie ids in [0, ${numMovies}). Found ${m}.`, "aux");
    }
  }
}

/** The similarity of one aux entry and one record entry (the paper's Sim). */
export function scoreboardSimilarity(
  auxRating: number,
  auxDay: number | undefined,
  rating: number,
  day: number,
  options: ScoreboardOptions = {},
): number {
  const o = resolveOptions(options);
  let s = Math.exp(-Math.abs(auxRating - rating) / o.ratingScale);
  if (o.useDates && auxDay !== undefined) s += Math.exp(-Math.abs(auxDay - day) / o.dateScale);
  return s;
}

/**
 * Reusable scorer: holds the score buffers so that scoring many targets allocates nothing.
 *
 * @remarks
 * An attack, not a privacy mechanism: it draws no randomness.
 *
 * @example
 * ```ts
 * import { buildLinkageIndex, generateNetflixLike, Scoreboard } from "dpkit/attacks";
 * const data = generateNetflixLike({ users: 500 });
 * const board = new Scoreboard(buildLinkageIndex(data));
 * const match = board.match({ movies: [data.movies[0]], ratings: [data.ratings[0]], days: [data.days[0]] });
 * ```
 */
export class Scoreboard {
  readonly index: LinkageIndex;
  readonly options: Required<ScoreboardOptions>;
  private readonly scores: Float64Array;
  private readonly touched: Uint32Array;
  private touchedCount = 0;
  private readonly ratingSim: Float64Array;
  private readonly dateSim: Float64Array;

  /**
   * @param index - the inverted index of the released table
   * @param options - ρ0, d0, φ and whether to use dates
   */
  constructor(index: LinkageIndex, options: ScoreboardOptions = {}) {
    requirePositiveInteger("index.numRecords", index.numRecords);
    this.index = index;
    this.options = resolveOptions(options);
    this.scores = new Float64Array(index.numRecords);
    this.touched = new Uint32Array(index.numRecords);
    this.ratingSim = new Float64Array(256);
    for (let d = 0; d < 256; d++) this.ratingSim[d] = Math.exp(-d / this.options.ratingScale);
    this.dateSim = new Float64Array(65_536);
    for (let d = 0; d < 65_536; d++) this.dateSim[d] = Math.exp(-d / this.options.dateScale);
  }

  /**
   * Scores every record against `aux` through the index (records not touched score 0).
   * @returns the score array (a view reused by the next call) and how many records were touched
   */
  score(aux: AuxiliaryRecord): { scores: Float64Array; touched: Uint32Array } {
    const { colPtr, records, ratings, days, weights } = this.index;
    checkAux(aux, this.index.numMovies);
    const scores = this.scores;
    for (let t = 0; t < this.touchedCount; t++) scores[this.touched[t]] = 0;
    let count = 0;
    const withDates = this.options.useDates && aux.days !== undefined;
    const ratingSim = this.ratingSim;
    const dateSim = this.dateSim;
    for (let a = 0; a < aux.movies.length; a++) {
      const m = aux.movies[a];
      const w = weights[m];
      const r = aux.ratings[a];
      const d = withDates ? (aux.days as number[])[a] : 0;
      for (let j = colPtr[m]; j < colPtr[m + 1]; j++) {
        const u = records[j];
        const dr = r - ratings[j];
        let s = ratingSim[dr < 0 ? -dr : dr];
        if (withDates) {
          const dd = d - days[j];
          s += dateSim[dd < 0 ? -dd : dd];
        }
        if (scores[u] === 0) this.touched[count++] = u;
        scores[u] += w * s;
      }
    }
    this.touchedCount = count;
    return { scores, touched: this.touched.subarray(0, count) };
  }

  /**
   * Scores all records and applies the eccentricity rule.
   * @param aux - the attacker's knowledge of one target
   * @returns the best record, the scores' spread and whether a match is claimed
   */
  match(aux: AuxiliaryRecord): ScoreboardMatch {
    const { scores, touched } = this.score(aux);
    return eccentricityMatch(scores, touched, this.index.numRecords, this.options.eccentricityThreshold);
  }
}

/**
 * The eccentricity rule on a score vector where only `touched` entries may be non-zero.
 * @param scores - scores of all records (untouched ones are 0)
 * @param touched - indices of the possibly non-zero scores
 * @param numRecords - total number of records (zeros included in σ)
 * @param threshold - φ
 * @returns the decision and its statistics
 */
export function eccentricityMatch(
  scores: ArrayLike<number>,
  touched: ArrayLike<number>,
  numRecords: number,
  threshold: number,
): ScoreboardMatch {
  const k = touched.length;
  let best = -1;
  let bestScore = -Infinity;
  let second = -Infinity;
  let sum = 0;
  for (let t = 0; t < k; t++) {
    const u = touched[t];
    const s = scores[u];
    sum += s;
    if (s > bestScore || (s === bestScore && u < best)) {
      second = bestScore;
      bestScore = s;
      best = u;
    } else if (s > second) {
      second = s;
    }
  }
  if (best < 0) return { best: -1, bestScore: 0, secondScore: 0, sigma: 0, eccentricity: 0, matched: false, candidates: 0 };
  if (k < numRecords) second = Math.max(second, 0); // untouched records all score 0
  const mean = sum / numRecords;
  let ss = (numRecords - k) * mean * mean;
  for (let t = 0; t < k; t++) {
    const dlt = scores[touched[t]] - mean;
    ss += dlt * dlt;
  }
  const sigma = Math.sqrt(ss / numRecords);
  const eccentricity = sigma > 0 ? (bestScore - second) / sigma : 0;
  return { best, bestScore, secondScore: second, sigma, eccentricity, matched: sigma > 0 && eccentricity >= threshold, candidates: k };
}

/**
 * The same scores by a scan of every record (binary search of each aux movie in each row):
 * O(records × |aux| × log), for testing the index.
 * @param table - the released records (rows sorted by movie)
 * @param aux - the attacker's knowledge
 * @param options - as for {@link Scoreboard}
 * @returns one score per record
 */
export function scoreboardScoresByScan(table: RatingsTable, aux: AuxiliaryRecord, options: ScoreboardOptions = {}): Float64Array {
  const o = resolveOptions(options);
  checkAux(aux, table.numMovies);
  const support = new Uint32Array(table.numMovies);
  for (let i = 0; i < table.movies.length; i++) support[table.movies[i]]++;
  const out = new Float64Array(table.numUsers);
  for (let u = 0; u < table.numUsers; u++) {
    let s = 0;
    for (let a = 0; a < aux.movies.length; a++) {
      const m = aux.movies[a];
      let lo = table.rowPtr[u];
      let hi = table.rowPtr[u + 1] - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const v = table.movies[mid];
        if (v === m) {
          const w = 1 / Math.log(Math.max(2, support[m]));
          s += w * scoreboardSimilarity(aux.ratings[a], aux.days?.[a], table.ratings[mid], table.days[mid], o);
          break;
        }
        if (v < m) lo = mid + 1;
        else hi = mid - 1;
      }
    }
    out[u] = s;
  }
  return out;
}
