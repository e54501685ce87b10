/**
 * Defences against the linkage attack, each measured with the same attack:
 *
 * 1. {@link naiveAnonymisation}: ids removed (records shuffled), dates coarsened to months,
 *    some ratings deleted and others perturbed — what Netflix did, with no guarantee.
 * 2. {@link ldpRecordRelease}: a locally differentially private release of each user's record
 *    (k-ary randomized response on which movies were rated and on the ratings, the geometric
 *    mechanism on dates), with the epsilon the accountant computes for one record.
 * 3. {@link dpRatingHistograms}: no records at all — per-movie rating histograms with per-user
 *    contribution bounding and geometric noise (the statistics a baseline recommender needs, as
 *    McSherry & Mironov 2009 did for the Netflix Prize).
 *
 * @see Narayanan & Shmatikov, IEEE S&P 2008; McSherry & Mironov, "Differentially Private
 *   Recommender Systems", KDD 2009
 * @module
 */
import { PureDpAccountant } from "../../accounting/pure/accountant.js";
import { RdpAccountant } from "../../accounting/rdp/accountant.js";
import { composedEvent, selfComposedEvent, type DpEvent } from "../../accounting/events.js";
import { requireInRange, requireInteger, requirePositive, requireProbability } from "../../errors.js";
import { kRandomizedResponse, type KRandomizedResponse } from "../../ldp/randomized-response.js";
import { geometricMechanism } from "../../mechanisms/geometric.js";
import type { NoiseMechanism } from "../../mechanisms/types.js";
import { NETFLIX_EPOCH_MS, NETFLIX_LAST_DAY, type RatingsTable } from "../../data/netflix.js";
import { bernoulli } from "../../random/bernoulli.js";
import { partialShuffle, permutation } from "../../random/permutation.js";
import { uniformInt } from "../../random/uniform.js";
import { resolveRng, type Rng } from "../../random/rng.js";

/** A released table and, for scoring the experiment only, the original user behind each record. */
export interface ReleasedTable {
  released: RatingsTable;
  /** Original user of each released record (the ground truth the attacker does not see). */
  releasedToOriginal: Uint32Array;
}

/** Builds a table from per-record entry lists (sorting each row by movie, dropping repeated movies). */
function tableFromRows(numMovies: number, rows: { movies: number[]; ratings: number[]; days: number[] }[]): RatingsTable {
  const rowPtr = new Uint32Array(rows.length + 1);
  let total = 0;
  const orders: number[][] = [];
  for (let u = 0; u < rows.length; u++) {
    const r = rows[u];
    const idx = r.movies.map((_, i) => i).sort((a, b) => r.movies[a] - r.movies[b] || a - b);
    const keep: number[] = [];
    for (const i of idx) if (keep.length === 0 || r.movies[keep[keep.length - 1]] !== r.movies[i]) keep.push(i);
    orders.push(keep);
    total += keep.length;
    rowPtr[u + 1] = total;
  }
  const movies = new Uint16Array(total);
  const ratings = new Uint8Array(total);
  const days = new Uint16Array(total);
  for (let u = 0; u < rows.length; u++) {
    let j = rowPtr[u];
    for (const i of orders[u]) {
      movies[j] = rows[u].movies[i];
      ratings[j] = rows[u].ratings[i];
      days[j] = rows[u].days[i];
      j++;
    }
  }
  return { numUsers: rows.length, numMovies, rowPtr, movies, ratings, days };
}

let monthMiddleTable: Uint16Array | undefined;

/** The day index of the 15th of the month that holds `day` (0 ≤ day ≤ the last day). */
export function netflixMonthMiddle(day: number): number {
  if (!monthMiddleTable) {
    monthMiddleTable = new Uint16Array(NETFLIX_LAST_DAY + 1);
    for (let x = 0; x <= NETFLIX_LAST_DAY; x++) monthMiddleTable[x] = computeMonthMiddle(x);
  }
  return day >= 0 && day <= NETFLIX_LAST_DAY ? monthMiddleTable[day] : computeMonthMiddle(day);
}

function computeMonthMiddle(day: number): number {
  const d = new Date(NETFLIX_EPOCH_MS + day * 86_400_000);
  const mid = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 15);
  return Math.min(NETFLIX_LAST_DAY, Math.max(0, Math.round((mid - NETFLIX_EPOCH_MS) / 86_400_000)));
}

/** Options for {@link naiveAnonymisation}. */
export interface NaiveAnonymisationOptions {
  /** Share of ratings deleted; default 0.1. */
  deleteFraction?: number;
  /** Share of the remaining ratings moved by ±1 (clamped to 1–5); default 0.2. */
  perturbFraction?: number;
  /** Coarsen dates to the middle of their month; default true. */
  coarsenDates?: boolean;
  /** Randomness; defaults to the secure source (a seeded Rng is insecure: simulations only). */
  rng?: Rng;
}

/**
 * "Anonymises" a table the way it is often done: records shuffled (ids removed), dates coarsened
 * to months, some ratings deleted and some perturbed.
 *
 * @remarks
 * **No privacy guarantee**: there is no neighbouring relation under which this is
 * differentially private (each record still carries most of its user's ratings). It is here to
 * show how little such measures change the attack's success.
 *
 * @param table - the original data
 * @param options - deletion and perturbation rates, date coarsening, randomness
 * @returns the released table and the (secret) original user of each record
 * @throws {@link DpError} `invalid_parameter` for rates outside [0, 1]
 * @example
 * ```ts
 * import { generateNetflixLike } from "dpkit/data";
 * import { naiveAnonymisation } from "dpkit/attacks";
 * const { released } = naiveAnonymisation(generateNetflixLike({ users: 1000 }), { deleteFraction: 0.1 });
 * ```
 */
export function naiveAnonymisation(table: RatingsTable, options: NaiveAnonymisationOptions = {}): ReleasedTable {
  const del = requireProbability("deleteFraction", options.deleteFraction ?? 0.1);
  const per = requireProbability("perturbFraction", options.perturbFraction ?? 0.2);
  const coarsen = options.coarsenDates ?? true;
  const rng = resolveRng(options.rng);
  const order = permutation(table.numUsers, rng);
  const n = table.movies.length;
  const rowPtr = new Uint32Array(table.numUsers + 1);
  const movies = new Uint16Array(n);
  const ratings = new Uint8Array(n);
  const days = new Uint16Array(n);
  let j = 0;
  for (let r = 0; r < table.numUsers; r++) {
    const u = order[r];
    for (let i = table.rowPtr[u]; i < table.rowPtr[u + 1]; i++) {
      if (del > 0 && bernoulli(del, rng)) continue;
      let rating = table.ratings[i];
      if (per > 0 && bernoulli(per, rng)) rating = Math.min(5, Math.max(1, rating + (uniformInt(2, rng) === 0 ? -1 : 1)));
      movies[j] = table.movies[i]; // rows stay sorted by movie
      ratings[j] = rating;
      days[j] = coarsen ? netflixMonthMiddle(table.days[i]) : table.days[i];
      j++;
    }
    rowPtr[r + 1] = j;
  }
  const released: RatingsTable = {
    numUsers: table.numUsers,
    numMovies: table.numMovies,
    rowPtr,
    movies: movies.slice(0, j),
    ratings: ratings.slice(0, j),
    days: days.slice(0, j),
  };
  return { released, releasedToOriginal: new Uint32Array(order.buffer) };
}

/** How the per-slot budget is split between the movie, the rating and the date. */
export interface LdpBudgetSplit {
  movie: number;
  rating: number;
  date: number;
}

/** Options for {@link ldpRecordRelease}. */
export interface LdpRecordReleaseOptions {
  /** Target epsilon for one user's whole record (> 0). */
  epsilon: number;
  /** Number of report slots per user (contribution bound L); default 16. */
  slots?: number;
  /** Shares of the per-slot budget; default { movie: 0.6, rating: 0.2, date: 0.2 }. */
  split?: LdpBudgetSplit;
  /** δ at which the accountant's epsilon is also reported; default 1e-6. */
  targetDelta?: number;
  /** Randomness for every mechanism; defaults to the secure source (a seeded Rng is insecure). */
  rng?: Rng;
  /** Accept an insecure (seeded) `rng` for a reproducible simulation that is NOT private. Default false. */
  allowInsecureRng?: boolean;
  /** Called with the fraction of users done. */
  onProgress?: (fraction: number) => void;
}

/** The result of {@link ldpRecordRelease}. */
export interface LdpRecordRelease extends ReleasedTable {
  /** What one user's record spends: L × (movie RR, rating RR, date geometric). */
  event: DpEvent;
  /** Pure epsilon of one record by basic composition of the mechanisms' stated epsilons (δ = 0). */
  epsilon: number;
  /** The RDP accountant's epsilon for `event` at `targetDelta` (replace-one relation). */
  accountantEpsilon: number;
  targetDelta: number;
  slots: number;
  movieMechanism: KRandomizedResponse;
  ratingMechanism: KRandomizedResponse;
  dateMechanism: NoiseMechanism;
  /** Raw reports, slot-major per user (length users × slots): movie id or `numMovies` for "none". */
  reportMovies: Uint16Array;
  /** Reported rating − 1 (0..4) per slot. */
  reportRatings: Uint8Array;
}

/**
 * Releases every user's record under local differential privacy: each user reports exactly
 * `slots` triples. A slot holds one of the user's ratings (a uniform sample without replacement;
 * "none" when the user has fewer ratings), and reports
 * - the movie through k-ary randomized response over the 17,770 movies plus "none",
 * - the rating through 5-ary randomized response,
 * - the date through the geometric (discrete Laplace) mechanism with sensitivity the whole date
 *   range (clamped to the range afterwards: post-processing).
 * Reported "none" slots and repeated movies are dropped (post-processing).
 *
 * @remarks
 * Privacy: each released record is `epsilon`-DP (pure, basic composition) for its user under
 * the relation "one user's whole record replaced by any other record" — the local model, in which
 * the record's owner runs the mechanism. The `event` composes the per-slot events
 * (`randomizedResponse`, `randomizedResponse`, `epsilonDelta`), `slots` times; `epsilon` is their
 * basic composition and `accountantEpsilon` the RDP accountant's (replace-one) at `targetDelta`.
 * All randomness comes from the `rng` through dpkit's mechanisms and samplers; a seeded Rng
 * makes the release reproducible and **insecure** (simulations only).
 *
 * @param table - the original data
 * @param options - epsilon per record, slots, budget split, randomness
 * @returns the released records, the event and epsilons, and the raw reports
 * @throws {@link DpError} `invalid_parameter` for bad options
 * @example
 * ```ts
 * import { generateNetflixLike } from "dpkit/data";
 * import { ldpRecordRelease } from "dpkit/attacks";
 * const release = ldpRecordRelease(generateNetflixLike({ users: 500 }), { epsilon: 10 });
 * console.log(release.epsilon, release.accountantEpsilon);
 * ```
 * @see https://arxiv.org/abs/1407.6981 (RAPPOR: local DP randomized response)
 */
export function ldpRecordRelease(table: RatingsTable, options: LdpRecordReleaseOptions): LdpRecordRelease {
  const epsilon = requirePositive("epsilon", options.epsilon);
  const slots = requireInteger("slots", options.slots ?? 16, { min: 1, max: 100_000 });
  const split = options.split ?? { movie: 0.6, rating: 0.2, date: 0.2 };
  const sm = requirePositive("split.movie", split.movie);
  const sr = requirePositive("split.rating", split.rating);
  const sd = requirePositive("split.date", split.date);
  const targetDelta = requireInRange("targetDelta", options.targetDelta ?? 1e-6, Number.MIN_VALUE, 0.5);
  const total = sm + sr + sd;
  const perSlot = epsilon / slots;
  const rng = resolveRng(options.rng);
  const none = table.numMovies;
  const movieMechanism = kRandomizedResponse({
    epsilon: (perSlot * sm) / total,
    k: table.numMovies + 1,
    rng,
    allowInsecureRng: options.allowInsecureRng,
  });
  const ratingMechanism = kRandomizedResponse({ epsilon: (perSlot * sr) / total, k: 5, rng, allowInsecureRng: options.allowInsecureRng });
  const dateMechanism = geometricMechanism({
    epsilon: (perSlot * sd) / total,
    sensitivity: NETFLIX_LAST_DAY,
    rng,
    allowInsecureRng: options.allowInsecureRng,
  });

  const users = table.numUsers;
  const reportMovies = new Uint16Array(users * slots);
  const reportRatings = new Uint8Array(users * slots);
  const rows = new Array<{ movies: number[]; ratings: number[]; days: number[] }>(users);
  const pick: number[] = [];
  const every = Math.max(1, Math.floor(users / 50));
  for (let u = 0; u < users; u++) {
    const a = table.rowPtr[u];
    const n = table.rowPtr[u + 1] - a;
    pick.length = 0;
    for (let i = 0; i < n; i++) pick.push(a + i);
    const take = Math.min(n, slots);
    partialShuffle(pick, take, rng);
    const row = { movies: [] as number[], ratings: [] as number[], days: [] as number[] };
    for (let s = 0; s < slots; s++) {
      const real = s < take;
      const movie = real ? table.movies[pick[s]] : none;
      const rating = real ? table.ratings[pick[s]] - 1 : 2;
      const day = real ? table.days[pick[s]] : NETFLIX_LAST_DAY >> 1;
      const m = movieMechanism.randomize(movie);
      const r = ratingMechanism.randomize(rating);
      const d = dateMechanism.release(day);
      reportMovies[u * slots + s] = m;
      reportRatings[u * slots + s] = r;
      if (m !== none) {
        row.movies.push(m);
        row.ratings.push(r + 1);
        row.days.push(Math.min(NETFLIX_LAST_DAY, Math.max(0, d)));
      }
    }
    rows[u] = row;
    if (options.onProgress && (u + 1) % every === 0) options.onProgress((u + 1) / users);
  }
  const event = selfComposedEvent(composedEvent([movieMechanism.event, ratingMechanism.event, dateMechanism.event]), slots);
  const accountant = new RdpAccountant({ neighboringRelation: "replaceOne" });
  accountant.compose(event);
  const identity = new Uint32Array(users);
  for (let u = 0; u < users; u++) identity[u] = u;
  return {
    released: tableFromRows(table.numMovies, rows),
    releasedToOriginal: identity,
    event,
    epsilon: new PureDpAccountant({ neighboringRelation: "replaceOne" }).compose(event).getEpsilon(targetDelta),
    accountantEpsilon: accountant.getEpsilon(targetDelta),
    targetDelta,
    slots,
    movieMechanism,
    ratingMechanism,
    dateMechanism,
    reportMovies,
    reportRatings,
  };
}

/**
 * Unbiased per-movie rating counts (numMovies × 5) from an LDP release's raw reports, by
 * inverting both randomized responses (the estimator is the tensor product of the two k-RR
 * inverses).
 * @param release - the output of {@link ldpRecordRelease}
 * @param numMovies - the number of movies
 * @returns estimated counts, row-major (movie, rating − 1); entries may be negative
 */
export function ldpRatingCountEstimates(release: LdpRecordRelease, numMovies: number): Float64Array {
  const k = numMovies + 1;
  const c = new Float64Array(k * 5);
  const n = release.reportMovies.length;
  for (let i = 0; i < n; i++) c[release.reportMovies[i] * 5 + release.reportRatings[i]]++;
  const cm = new Float64Array(k);
  const cr = new Float64Array(5);
  for (let m = 0; m < k; m++)
    for (let r = 0; r < 5; r++) {
      cm[m] += c[m * 5 + r];
      cr[r] += c[m * 5 + r];
    }
  const pm = release.movieMechanism.keepProbability;
  const qm = release.movieMechanism.otherProbability;
  const pr = release.ratingMechanism.keepProbability;
  const qr = release.ratingMechanism.otherProbability;
  const den = (pm - qm) * (pr - qr);
  const out = new Float64Array(numMovies * 5);
  for (let m = 0; m < numMovies; m++) {
    for (let r = 0; r < 5; r++) out[m * 5 + r] = (c[m * 5 + r] - qr * cm[m] - qm * cr[r] + qm * qr * n) / den;
  }
  return out;
}

/**
 * Standard deviation of one movie's estimated count from an LDP release (the movie's k-RR
 * estimator over all reports, evaluated at a true count of 0): a prior weight for shrinking
 * noisy means.
 */
export function ldpCountStandardDeviation(release: LdpRecordRelease): number {
  const n = release.reportMovies.length;
  const p = release.movieMechanism.keepProbability;
  const q = release.movieMechanism.otherProbability;
  return Math.sqrt(n * q * (1 - q)) / (p - q);
}

/** Options for {@link dpRatingHistograms}. */
export interface DpRatingHistogramsOptions {
  /** Epsilon of the whole release (> 0). */
  epsilon: number;
  /** Contribution bound: at most this many ratings per user are counted; default 100. */
  maxRatingsPerUser?: number;
  /** Entries to leave out (e.g. a held-out test set), by entry index in the table. */
  exclude?: Uint8Array;
  /** Randomness; defaults to the secure source (a seeded Rng is insecure: simulations only). */
  rng?: Rng;
  /** Accept an insecure (seeded) `rng` for a reproducible simulation that is NOT private. Default false. */
  allowInsecureRng?: boolean;
}

/** The result of {@link dpRatingHistograms}. */
export interface DpRatingHistograms {
  /** Noisy counts, row-major (movie, rating − 1). */
  counts: Float64Array;
  numMovies: number;
  /** What the release spends (the geometric mechanism's event). */
  event: DpEvent;
  /** Epsilon of the release (pure; the mechanism's stated value, at most the requested one). */
  epsilon: number;
  /** L1 sensitivity of the histogram vector under replace-one-user: 2 × maxRatingsPerUser. */
  sensitivity: number;
  mechanism: NoiseMechanism;
}

/**
 * Releases per-movie rating histograms (17,770 × 5 counts) under central differential privacy:
 * each user contributes at most `maxRatingsPerUser` ratings (a uniform sample), and the whole
 * count vector gets geometric (discrete Laplace) noise in one release.
 *
 * @remarks
 * Privacy: `epsilon`-DP (pure) for the relation "one user's whole record replaced by any other":
 * after bounding, replacing a user moves at most 2 × maxRatingsPerUser unit counts, which is the
 * declared L1 sensitivity. No per-user record is released, so there is nothing to link.
 * Randomness: the `rng` (default secure); a seeded Rng is **insecure** (simulations only).
 *
 * @param table - the original data
 * @param options - epsilon, contribution bound, exclusions, randomness
 * @returns the noisy histograms with their event and epsilon
 * @throws {@link DpError} `invalid_parameter` for bad options
 * @example
 * ```ts
 * import { generateNetflixLike } from "dpkit/data";
 * import { dpRatingHistograms } from "dpkit/attacks";
 * const h = dpRatingHistograms(generateNetflixLike({ users: 1000 }), { epsilon: 1 });
 * ```
 * @see https://doi.org/10.1145/1557019.1557090 (McSherry & Mironov, KDD 2009)
 */
export function dpRatingHistograms(table: RatingsTable, options: DpRatingHistogramsOptions): DpRatingHistograms {
  const epsilon = requirePositive("epsilon", options.epsilon);
  const bound = requireInteger("maxRatingsPerUser", options.maxRatingsPerUser ?? 100, { min: 1, max: 1_000_000 });
  const rng = resolveRng(options.rng);
  const exact = exactRatingHistograms(table, { maxRatingsPerUser: bound, exclude: options.exclude, rng });
  const mechanism = geometricMechanism({ epsilon, sensitivity: 2 * bound, rng, allowInsecureRng: options.allowInsecureRng });
  const counts = mechanism.releaseVector(exact);
  return { counts, numMovies: table.numMovies, event: mechanism.event, epsilon: mechanism.epsilon, sensitivity: 2 * bound, mechanism };
}

/**
 * Exact per-movie rating counts (numMovies × 5), optionally with a per-user contribution bound
 * (a uniform sample of at most `maxRatingsPerUser` of each user's ratings) — the non-private
 * baseline.
 */
export function exactRatingHistograms(
  table: RatingsTable,
  options: { maxRatingsPerUser?: number; exclude?: Uint8Array; rng?: Rng } = {},
): Float64Array {
  const counts = new Float64Array(table.numMovies * 5);
  const bound = options.maxRatingsPerUser ?? Infinity;
  const pick: number[] = [];
  for (let u = 0; u < table.numUsers; u++) {
    pick.length = 0;
    for (let i = table.rowPtr[u]; i < table.rowPtr[u + 1]; i++) if (!options.exclude || !options.exclude[i]) pick.push(i);
    const take = Math.min(pick.length, bound);
    if (take < pick.length) partialShuffle(pick, take, options.rng);
    for (let k = 0; k < take; k++) counts[table.movies[pick[k]] * 5 + table.ratings[pick[k]] - 1]++;
  }
  return counts;
}

/**
 * Per-movie mean ratings from (possibly noisy) counts, shrunk toward the global mean by `prior`
 * pseudo-ratings (choose it near the noise's standard deviation of one movie's count). Per-movie counts are clipped at 0. The global mean comes from the unclipped totals, shrunk toward the middle of the scale (3)
 * by `globalPrior` pseudo-ratings (near the noise's standard deviation of the total count).
 */
export function movieMeansFromCounts(
  counts: ArrayLike<number>,
  numMovies: number,
  prior = 25,
  globalPrior = 0,
): { means: Float64Array; globalMean: number } {
  // The global mean from the unclipped (unbiased) totals; per-movie counts are clipped at 0.
  let s = 0;
  let c = 0;
  for (let m = 0; m < numMovies; m++) {
    for (let r = 0; r < 5; r++) {
      const v = counts[m * 5 + r];
      s += v * (r + 1);
      c += v;
    }
  }
  const globalMean = c + globalPrior > 0 ? Math.min(5, Math.max(1, (s + 3 * globalPrior) / (c + globalPrior))) : 3;
  const means = new Float64Array(numMovies);
  for (let m = 0; m < numMovies; m++) {
    let sm = 0;
    let cm = 0;
    for (let r = 0; r < 5; r++) {
      const v = Math.max(0, counts[m * 5 + r]);
      sm += v * (r + 1);
      cm += v;
    }
    means[m] = Math.min(5, Math.max(1, (sm + prior * globalMean) / (cm + prior)));
  }
  return { means, globalMean };
}

/** A held-out test set: one rating of each of up to `maxUsers` random users. */
export interface HeldOutSplit {
  /** 1 for held-out entries (by entry index). */
  mask: Uint8Array;
  /** Held-out entry indices. */
  entries: Uint32Array;
  /** The user of each held-out entry. */
  users: Uint32Array;
}

/** Draws a held-out split (simulation randomness). */
export function heldOutSplit(table: RatingsTable, maxUsers: number, rng?: Rng): HeldOutSplit {
  const r = resolveRng(rng);
  const mask = new Uint8Array(table.movies.length);
  const entries: number[] = [];
  const users: number[] = [];
  const order = permutation(table.numUsers, r);
  for (let t = 0; t < table.numUsers && entries.length < maxUsers; t++) {
    const u = order[t];
    const n = table.rowPtr[u + 1] - table.rowPtr[u];
    if (n < 2) continue;
    const i = table.rowPtr[u] + uniformInt(n, r);
    mask[i] = 1;
    entries.push(i);
    users.push(u);
  }
  return { mask, entries: Uint32Array.from(entries), users: Uint32Array.from(users) };
}

/** RMSE of a baseline recommender on a held-out split. */
export interface RecommenderRmse {
  /** Predict the global mean. */
  globalMean: number;
  /** Predict the movie's (shrunk) mean. */
  movieMean: number;
  /** Movie mean plus the user's own offset, computed by the user from their own training ratings. */
  movieMeanPlusUserOffset: number;
}

/**
 * Evaluates three baseline predictors built from per-movie means on a held-out split.
 *
 * @remarks
 * The user offset is computed from the user's own (training) ratings and the published movie
 * means, on the user's side: it needs no further release.
 */
export function baselineRecommenderRmse(
  table: RatingsTable,
  split: HeldOutSplit,
  movieMeans: { means: Float64Array; globalMean: number },
): RecommenderRmse {
  const { means, globalMean } = movieMeans;
  let eg = 0;
  let em = 0;
  let eu = 0;
  const n = split.entries.length;
  for (let t = 0; t < n; t++) {
    const i = split.entries[t];
    const u = split.users[t];
    const truth = table.ratings[i];
    const m = table.movies[i];
    let off = 0;
    let cnt = 0;
    for (let j = table.rowPtr[u]; j < table.rowPtr[u + 1]; j++) {
      if (split.mask[j]) continue;
      off += table.ratings[j] - means[table.movies[j]];
      cnt++;
    }
    const offset = off / (cnt + 5);
    const pg = globalMean;
    const pm = means[m];
    const pu = Math.min(5, Math.max(1, pm + offset));
    eg += (truth - pg) ** 2;
    em += (truth - pm) ** 2;
    eu += (truth - pu) ** 2;
  }
  const d = Math.max(1, n);
  return { globalMean: Math.sqrt(eg / d), movieMean: Math.sqrt(em / d), movieMeanPlusUserOffset: Math.sqrt(eu / d) };
}

/**
 * RMSE between estimated and true per-movie mean ratings over the `top` most-rated movies.
 * @param estimate - estimated means by movie
 * @param table - the original data (for the true means)
 * @param top - how many of the most-rated movies to compare; default 1000
 */
export function movieMeanRmse(estimate: ArrayLike<number>, table: RatingsTable, top = 1000): number {
  const sum = new Float64Array(table.numMovies);
  const cnt = new Float64Array(table.numMovies);
  for (let i = 0; i < table.movies.length; i++) {
    sum[table.movies[i]] += table.ratings[i];
    cnt[table.movies[i]]++;
  }
  const ids = Array.from({ length: table.numMovies }, (_, m) => m)
    .sort((a, b) => cnt[b] - cnt[a] || a - b)
    .slice(0, top);
  let e = 0;
  let k = 0;
  for (const m of ids) {
    if (cnt[m] === 0) continue;
    e += (estimate[m] - sum[m] / cnt[m]) ** 2;
    k++;
  }
  return Math.sqrt(e / Math.max(1, k));
}
