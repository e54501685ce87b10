/**
 * The attacker's auxiliary knowledge about a target (the IMDb scenario of Narayanan &
 * Shmatikov 2008): a few of the target's ratings as seen in public, with errors — ratings off by
 * up to ±`ratingError`, dates off by up to ±`dateError` days, and `wrong` entries that are not the
 * target's at all.
 *
 * @see https://www.cs.utexas.edu/~shmat/shmat_oak08netflix.pdf
 * @module
 */
import { DpError, requireInteger, requireNonNegative } from "../../errors.js";
import type { RatingsTable } from "../../data/netflix.js";
import { partialShuffle } from "../../random/permutation.js";
import { uniformInt } from "../../random/uniform.js";
import { resolveRng, type Rng } from "../../random/rng.js";
import type { AuxiliaryRecord } from "./scoreboard.js";

/** What the attacker knows and how wrong it may be. */
export interface AuxiliaryOptions {
  /** Number of (movie, rating[, date]) entries the attacker holds. */
  known: number;
  /** How many of them are completely wrong (another user's rating of a movie the target did not rate); default 0. */
  wrong?: number;
  /** Ratings are off by a uniform integer in [−ratingError, ratingError] (clamped to 1–5); default 1. */
  ratingError?: number;
  /** Dates are off by a uniform integer in [−dateError, dateError] days; `null` = no dates known. Default 14. */
  dateError?: number | null;
  /** Only movies outside this set (e.g. the 500 most rated) are known. */
  excludedMovies?: Uint8Array;
}

/** Checks and fills the defaults of {@link AuxiliaryOptions}. */
export function resolveAuxiliaryOptions(options: AuxiliaryOptions): Required<Omit<AuxiliaryOptions, "excludedMovies">> & {
  excludedMovies?: Uint8Array;
} {
  const known = requireInteger("known", options.known, { min: 1, max: 10_000 });
  const wrong = requireInteger("wrong", options.wrong ?? 0, { min: 0, max: known });
  const ratingError = requireInteger("ratingError", options.ratingError ?? 1, { min: 0, max: 4 });
  const dateError = options.dateError === null ? null : requireInteger("dateError", options.dateError ?? 14, { min: 0, max: 10_000 });
  return { known, wrong, ratingError, dateError, excludedMovies: options.excludedMovies };
}

/** The number of the user's ratings the attacker could know (outside the excluded movies). */
export function eligibleRatings(table: RatingsTable, user: number, excludedMovies?: Uint8Array): number {
  const a = table.rowPtr[user];
  const b = table.rowPtr[user + 1];
  if (!excludedMovies) return b - a;
  let c = 0;
  for (let i = a; i < b; i++) if (!excludedMovies[table.movies[i]]) c++;
  return c;
}

/** A mask of the `count` most-rated movies of a table (for "outside the top 500"). */
export function topMoviesMask(table: RatingsTable, count: number): Uint8Array {
  requireNonNegative("count", count);
  const support = new Uint32Array(table.numMovies);
  for (let i = 0; i < table.movies.length; i++) support[table.movies[i]]++;
  const ids = Array.from({ length: table.numMovies }, (_, m) => m).sort((x, y) => support[y] - support[x] || x - y);
  const mask = new Uint8Array(table.numMovies);
  for (let i = 0; i < Math.min(count, ids.length); i++) mask[ids[i]] = 1;
  return mask;
}

function binarySearchRow(table: RatingsTable, user: number, movie: number): number {
  let lo = table.rowPtr[user];
  let hi = table.rowPtr[user + 1] - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = table.movies[mid];
    if (v === movie) return mid;
    if (v < movie) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * Draws the attacker's knowledge of `user`: `known − wrong` of the user's ratings chosen
 * uniformly (outside `excludedMovies`), perturbed, plus `wrong` entries taken from other users'
 * ratings of movies the target did not rate (so wrong movies follow the popularity law).
 *
 * @remarks
 * A simulation of the attacker; the randomness is the simulation's (pass a seeded Rng to
 * reproduce a run). Returns `null` when the user has fewer than `known − wrong` eligible ratings.
 *
 * @param table - the original (un-released) ratings
 * @param user - the target's row
 * @param options - how much is known and how wrong
 * @param rng - the simulation's random source; defaults to the secure source
 * @returns the auxiliary record, or null if the user is not eligible
 * @throws {@link DpError} `invalid_parameter` for bad options
 * @example
 * ```ts
 * import { generateNetflixLike } from "dpkit/data";
 * import { sampleAuxiliary } from "dpkit/attacks";
 * import { SeededRng } from "dpkit/random";
 * const data = generateNetflixLike({ users: 1000 });
 * const aux = sampleAuxiliary(data, 0, { known: 8, wrong: 2, dateError: 14 }, new SeededRng(1));
 * ```
 */
export function sampleAuxiliary(table: RatingsTable, user: number, options: AuxiliaryOptions, rng?: Rng): AuxiliaryRecord | null {
  const o = resolveAuxiliaryOptions(options);
  requireInteger("user", user, { min: 0, max: table.numUsers - 1 });
  const r = resolveRng(rng);
  const a = table.rowPtr[user];
  const b = table.rowPtr[user + 1];
  const pool: number[] = [];
  for (let i = a; i < b; i++) if (!o.excludedMovies || !o.excludedMovies[table.movies[i]]) pool.push(i);
  const right = o.known - o.wrong;
  if (pool.length < right) return null;
  partialShuffle(pool, right, r); // `right` distinct entries
  const movies: number[] = [];
  const ratings: number[] = [];
  const days: number[] = [];
  const perturb = (rating: number, day: number): void => {
    const dr = o.ratingError > 0 ? uniformInt(2 * o.ratingError + 1, r) - o.ratingError : 0;
    ratings.push(Math.min(5, Math.max(1, rating + dr)));
    if (o.dateError !== null) {
      const dd = o.dateError > 0 ? uniformInt(2 * o.dateError + 1, r) - o.dateError : 0;
      days.push(Math.min(65_535, Math.max(0, day + dd)));
    }
  };
  for (let k = 0; k < right; k++) {
    const i = pool[k];
    movies.push(table.movies[i]);
    perturb(table.ratings[i], table.days[i]);
  }
  const total = table.movies.length;
  let attempts = 0;
  while (movies.length < o.known) {
    if (++attempts > 1_000_000) {
      throw new DpError("invalid_parameter", "Could not find enough movies for the wrong entries.", "wrong");
    }
    const i = uniformInt(total, r);
    const m = table.movies[i];
    if (o.excludedMovies && o.excludedMovies[m]) continue;
    if (movies.includes(m) || binarySearchRow(table, user, m) >= 0) continue;
    movies.push(m);
    perturb(table.ratings[i], table.days[i]);
  }
  return o.dateError === null ? { movies, ratings } : { movies, ratings, days };
}
