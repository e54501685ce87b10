/**
 * A synthetic stand-in for the Netflix Prize training set: users × movies with integer ratings
 * 1–5 and rating dates, matching the data set's published statistics at any scale.
 *
 * The real data may not be redistributed. This generator reproduces what was published about
 * it (see docs/linkage.md for the table, the sources and the tolerances):
 * - 480,189 users and 17,770 movies; 100,480,507 ratings (mean about 209 per user);
 * - user activity: 1,269 users with exactly one rating, 16,419 with fewer than ten, five with
 *   more than 10,000, at most 17,653 (a point mass at one plus a rounded log-normal, median 96,
 *   its tail compressed above 2,000, fitted to the mean, the share below ten and those five);
 * - movie popularity: the most-rated title about 233,000 ratings, a long tail of titles with a
 *   few hundred or fewer (popularity weights exp(-(rank/40)^0.48) + 0.01·exp(-rank/3000), fitted
 *   so that weighted sampling without replacement gives the published top);
 * - tastes by a latent-factor model: users and 60 movie niches have 8-dimensional factors; a
 *   user's choice of titles within a popularity tier, strongly so in the long tail, follows the
 *   affinity of the two factors, so rare titles are rarely shared and heavy users do not rate
 *   every obscure title;
 * - ratings 1–5 with mean about 3.6 (a movie effect, a user effect, the taste affinity and
 *   noise, rounded); heavy raters (beyond 1,000 ratings) give a growing share of titles one
 *   habitual rating, mostly 1, as the published heaviest raters did;
 * - dates from October 1998 to December 2005 with strong growth (users join at an
 *   exponentially growing rate and rate movies after joining).
 *
 * The data are stored as compressed sparse rows in typed arrays (2 + 1 + 2 bytes per
 * rating, plus 4 bytes per user), so the full scale (about 100 M ratings) takes about 480 MiB.
 *
 * @remarks
 * This is a simulation. It draws from a seeded, predictable generator ({@link SeededRng}) so
 * that a run can be reproduced; nothing here is privacy noise.
 *
 * @see Narayanan & Shmatikov, "Robust De-anonymization of Large Sparse Datasets", IEEE S&P 2008
 * @module
 */
import { DpError, requireInteger, requireNonNegative, requirePositive, requirePositiveInteger } from "../errors.js";
import { standardNormalCdf } from "../math/normal.js";
import { SeededRng, type Rng } from "../random/rng.js";

/** Published size of the Netflix Prize training set. */
export const NETFLIX_PRIZE_STATISTICS = {
  users: 480_189,
  movies: 17_770,
  ratings: 100_480_507,
  meanRatingsPerUser: 209,
  maxRatingsPerUser: 17_653,
  usersWithOneRating: 1_269,
  usersWithFewerThanTenRatings: 16_419,
  /** "The 5 raters who rated more than 10,000 movies" (data-miners.com, 2007). */
  usersWithMoreThan10000Ratings: 5,
  meanRatingsPerMovie: 5_650,
  minRatingsPerMovie: 3,
  maxRatingsPerMovie: 232_944,
  meanRating: 3.6,
  firstDate: "1998-10-01",
  lastDate: "2005-12-31",
} as const;

/** Day 0 of the day index used by {@link NetflixLikeData.days}: 1998-10-01 (UTC). */
export const NETFLIX_EPOCH_MS = Date.UTC(1998, 9, 1);
/** The last day index: 2005-12-31. */
export const NETFLIX_LAST_DAY = 2648;

/**
 * A ratings table in compressed sparse rows: the ratings of user `u` are the entries
 * `rowPtr[u] .. rowPtr[u + 1] - 1`, sorted by movie id.
 */
export interface RatingsTable {
  /** Number of rows (users, or released records). */
  numUsers: number;
  /** Number of movies (ids 0 .. numMovies - 1). */
  numMovies: number;
  /** Row offsets, length numUsers + 1. */
  rowPtr: Uint32Array;
  /** Movie id of each rating (sorted within a row). */
  movies: Uint16Array;
  /** Rating 1–5 of each entry. */
  ratings: Uint8Array;
  /** Day index of each entry (0 = 1998-10-01, see {@link NETFLIX_EPOCH_MS}). */
  days: Uint16Array;
}

/** A generated Netflix-like data set. */
export interface NetflixLikeData extends RatingsTable {
  /** Movie ids ordered from most to least popular (by the generator's popularity weights). */
  popularityOrder: Uint16Array;
  /** The options the data were generated with (users and seed resolved). */
  options: { users: number; numMovies: number; seed: number; taste: number; habits: number };
}

/** Options for {@link generateNetflixLike}. */
export interface NetflixLikeOptions {
  /** Number of users. Default: `scale` × 480,189. */
  users?: number;
  /** Fraction of the full data set's users (and so of its ratings); default 0.05. Ignored when `users` is set. */
  scale?: number;
  /** Number of movies; default 17,770 (kept at every scale: sparsity is what the attack exploits). */
  numMovies?: number;
  /** Seed of the simulation's {@link SeededRng}; default 1. Ignored when `rng` is given. */
  seed?: number;
  /** The simulation's random source (insecure use is fine here: this is a simulation). */
  rng?: Rng;
  /**
   * Strength of the latent-factor tastes, a multiplier on the taste effects in choices and in
   * ratings; default 1. `0` turns tastes off: choices then depend on the user only through
   * activity and on the movie only through popularity, and ratings on movie and user effects and
   * noise (the null model against which the tastes are tested).
   */
  taste?: number;
  /**
   * Strength of the heavy raters' rating habits, in [0, 1]; default 1. Beyond 1,000 ratings a
   * user gives a growing share of titles one habitual rating (1, or 5 for a third of them), as the
   * published heavy raters of the Prize data did; `0` turns the habits off (heavy raters then rate
   * like everyone else: the null model for the no-dates attack).
   */
  habits?: number;
  /** Called with the fraction done (0–1) every few thousand users. */
  onProgress?: (fraction: number) => void;
}

// User activity: with probability P_ONE exactly one rating, otherwise round(lognormal(MU, SIGMA))
// (its tail compressed above ACTIVITY_KNEE, see below) clamped to [1, 17,653]. MU and SIGMA are
// fitted (numerically, rounding and clamping included) to a mean of 209 ratings per user and
// 16,419 / 480,189 users with fewer than ten ratings.
const P_ONE = 1269 / 480_189 - 0.00043; // the log-normal itself gives about 0.043% ones
const ACTIVITY_MU = 4.576494;
const ACTIVITY_SIGMA = 1.255868;
// Above ACTIVITY_KNEE ratings the log-normal's tail is compressed (log n − log knee scaled by
// ACTIVITY_TAIL) so that five users rate more than 10,000 titles at full scale, as published
// ("the 5 raters who rated more than 10,000 movies", data-miners.com, 2007): the plain log-normal
// gives about 48 such users and about 370 above 5,000. The three parameters were fitted together
// (numerically, rounding and clamping included) to the mean, the share below ten and those five.
const ACTIVITY_KNEE = 2000;
const ACTIVITY_TAIL = 0.693809;

// Movie popularity weight by rank r = 0..17,769: exp(-(r/TAU)^BETA) (+ the tail below). Users
// sample movies by weight (times their taste) without replacement, so heavy users saturate the popular
// titles; BETA and TAU were tuned by simulation so that the most-rated title gets about 230,000
// ratings at full scale (checked by compareWithNetflixPrize), with a long tail below a few hundred.
const POP_BETA = 0.48;
const POP_TAU = 40;
// The long tail of niche titles: + TAIL_WEIGHT · exp(-rank / TAIL_SCALE), so that titles beyond
// the top few thousand keep a few hundred ratings (the published median is about 560) while the
// least-rated stays at a few (≤ 30 at full scale).
const TAIL_WEIGHT = 0.01;
const TAIL_SCALE = 3000;
// The last END_RANKS titles fade out (weight × exp(-(rank − (17,770 − END_RANKS)) / END_SCALE)):
// a handful of near-unrated titles (the least-rated has 3 ratings), which even the heaviest
// raters rarely reach.
const END_RANKS = 100;
const END_SCALE = 10;

// Ratings: round(RATING_BASE + movie effect + user effect + taste + noise), clamped to 1..5.
// The habits of heavy raters (below) pull the mean rating down by about 0.08; RATING_BASE is raised
// by HABIT_BASE_SHIFT times their strength so that the mean stays at 3.6.
const RATING_BASE = 3.65;
const HABIT_BASE_SHIFT = 0.1;
const RATING_TASTE = 0.2; // weight of the user–movie taste match (see FACTORS below)
const MOVIE_EFFECT_SD = 0.5;
const USER_EFFECT_SD = 0.45;
const RATING_NOISE_SD = Math.sqrt(0.85 ** 2 - RATING_TASTE ** 2); // total spread as before

// Tastes: a latent-factor model. Each user has a factor p ~ N(0, I_K); movies fall into NICHES
// niches, each with a unit factor q (s = p·q is the user's affinity to the niche). Movies are also
// in popularity tiers (by rank, TIER_RANKS) with a taste strength α. A user picks movie m with
// weight w_m · exp(α s) / Z, where Z renormalises within the tier so that every user puts the
// population's share of choices into each tier (the popularity law is kept), while within a tier —
// above all in the long tail, where α is large — choices follow the user's taste: a niche title is
// chosen by the few users whose taste points at its niche, so rare movies are rarely shared, and a
// heavy rater does not cover the whole tail. Ratings move with the same affinity:
// + RATING_TASTE · (s − the mean s over the user's own movies), so the mean rating is unchanged.
const FACTORS = 8;
const NICHES = 60;
const TIER_RANKS = [500, 2000, 6000]; // tier 0: the 500 most popular, …, tier 3: rank ≥ 6,000
const TIER_ALPHA = [1.2, 3, 3.5, 4];

// Habits of heavy raters: beyond HABIT_FROM ratings a user gives a growing share of titles one
// habitual rating (HABIT_MAX · ln(n / HABIT_FROM) / ln HABIT_SPAN, at most HABIT_MAX) — 1 ("not
// interested") for two heavy raters in three, 5 for the others — as the published heavy raters of
// the Prize data did: customer 2439493 gave 15,024 of 16,565 ratings a 1 (data-miners.com, 2007),
// customer 2170930 rated 1,963 titles all 1, customer 2270619 gave 1,931 of 1,975 a 5 (T. Slee, 2007).
const HABIT_FROM = 1000;
const HABIT_SPAN = 8; // the full share from 8,000 ratings on
const HABIT_MAX = 0.9;
const HABIT_ONES = 2 / 3;

// Dates: users join at a rate growing as exp(GROWTH · day); each rates within an activity span.
const GROWTH_PER_DAY = Math.log(2.5) / 365;
// Correlation between a user's activity and how early they joined (heavy raters are long-standing
// members whose ratings spread over years).
const TENURE_CORRELATION = 0.85;
const DATE_SKEW = 0.4; // day = join + span · U^0.4: each user rates more as time goes on

const TWO32 = 4294967296;
const HEAVY_FRACTION = 10; // users with more than numMovies / 10 ratings use weighted keys

/** A uniform double in (0, 1) from one 32-bit word (simulation only). */
function unit(rng: Rng): number {
  return (rng.nextUint32() + 0.5) / TWO32;
}

/** Standard normal pairs by Box–Muller (simulation only). */
class NormalSource {
  private spare = 0;
  private hasSpare = false;
  constructor(private readonly rng: Rng) {}
  next(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const r = Math.sqrt(-2 * Math.log(unit(this.rng)));
    const t = 2 * Math.PI * unit(this.rng);
    this.spare = r * Math.sin(t);
    this.hasSpare = true;
    return r * Math.cos(t);
  }
}

/** Walker's alias table over weights (simulation sampling in O(1)). */
class AliasTable {
  readonly prob: Float64Array;
  readonly alias: Uint32Array;
  readonly n: number;
  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    this.n = n;
    this.prob = new Float64Array(n);
    this.alias = new Uint32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += weights[i];
    const scaled = new Float64Array(n);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / total;
      (scaled[i] < 1 ? small : large).push(i);
    }
    while (small.length && large.length) {
      const s = small.pop() as number;
      const l = large.pop() as number;
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      (scaled[l] < 1 ? small : large).push(l);
    }
    for (const i of large) this.prob[i] = 1;
    for (const i of small) this.prob[i] = 1;
  }
  sample(rng: Rng): number {
    const x = (rng.nextUint32() / TWO32) * this.n;
    const i = Math.floor(x);
    return x - i < this.prob[i] ? i : this.alias[i];
  }
}

/**
 * The number of ratings of one user (see ACTIVITY_* above) and the normal score behind it (the
 * point mass at one gets a low score), used to couple activity with tenure.
 */
function drawActivity(rng: Rng, normal: NormalSource, cap: number): { n: number; z: number } {
  const z = normal.next();
  if (unit(rng) < P_ONE) return { n: 1, z: -3 };
  const logN = ACTIVITY_MU + ACTIVITY_SIGMA * z;
  const logKnee = Math.log(ACTIVITY_KNEE);
  const n = Math.round(Math.exp(logN > logKnee ? logKnee + ACTIVITY_TAIL * (logN - logKnee) : logN));
  return { n: Math.min(cap, Math.max(1, n)), z };
}

/**
 * Popularity weights by movie id (a random assignment of ranks to ids) and the ids ordered by
 * popularity.
 */
function popularity(numMovies: number, rng: Rng): { weights: Float64Array; order: Uint16Array } {
  const order = new Uint16Array(numMovies);
  for (let i = 0; i < numMovies; i++) order[i] = i;
  for (let i = numMovies - 1; i > 0; i--) {
    const j = Math.floor(unit(rng) * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  // Stretch the rank axis when numMovies differs from 17,770 so the shape is kept.
  const stretch = NETFLIX_PRIZE_STATISTICS.movies / numMovies;
  const weights = new Float64Array(numMovies);
  for (let r = 0; r < numMovies; r++) {
    const x = r * stretch;
    const end = Math.max(0, x - (NETFLIX_PRIZE_STATISTICS.movies - END_RANKS)) / END_SCALE;
    weights[order[r]] = (Math.exp(-Math.pow(x / POP_TAU, POP_BETA)) + TAIL_WEIGHT * Math.exp(-x / TAIL_SCALE)) * Math.exp(-end);
  }
  return { weights, order };
}

/** The most users {@link generateNetflixLike} generates (memory grows by ~1 KB per user). */
export const MAX_NETFLIX_LIKE_USERS = 1_000_000;

/**
 * Generates a Netflix-like ratings table (see the module description for what is matched).
 *
 * @remarks
 * A simulation for the linkage-attack demo, not a privacy mechanism: it uses a seeded,
 * predictable {@link SeededRng} by default so runs can be reproduced. Movies keep their full
 * count (17,770) at every scale; users and ratings scale with `scale`. Generation is O(ratings)
 * except for the few users who rated more than a tenth of all movies (sampled by weighted keys).
 *
 * @param options - size, seed and progress callback
 * @returns the table in compressed sparse rows with `popularityOrder`
 * @throws {@link DpError} `invalid_parameter` for a non-positive size, a non-integer seed, a negative `taste` or `habits` outside [0, 1]
 * @example
 * ```ts
 * import { generateNetflixLike } from "dpkit/data";
 * const data = generateNetflixLike({ users: 2000, seed: 7 });
 * console.log(data.numUsers, data.movies.length); // 2000 users, about 418,000 ratings
 * ```
 * @see https://www.cs.utexas.edu/~shmat/shmat_oak08netflix.pdf
 */
export function generateNetflixLike(options: NetflixLikeOptions = {}): NetflixLikeData {
  const numMovies = requireInteger("numMovies", options.numMovies ?? NETFLIX_PRIZE_STATISTICS.movies, { min: 2, max: 65_535 });
  let users: number;
  if (options.users !== undefined) {
    users = requirePositiveInteger("users", options.users);
  } else {
    const scale = requirePositive("scale", options.scale ?? 0.05);
    users = Math.max(1, Math.round(scale * NETFLIX_PRIZE_STATISTICS.users));
  }
  // About 210 ratings per user: a million users is ~1 GB of ratings. Beyond that the generator
  // would run out of memory after minutes of work, so it is refused up front.
  if (users > MAX_NETFLIX_LIKE_USERS) {
    throw new DpError(
      "invalid_parameter",
      `\`users\` must be <= ${MAX_NETFLIX_LIKE_USERS} (about twice the Netflix Prize's ${NETFLIX_PRIZE_STATISTICS.users}). Found ${users}.`,
      options.users !== undefined ? "users" : "scale",
    );
  }
  const seed = requireInteger("seed", options.seed ?? 1);
  const taste = requireNonNegative("taste", options.taste ?? 1);
  const tierAlpha = TIER_ALPHA.map((a) => a * taste);
  const habits = requireNonNegative("habits", options.habits ?? 1);
  if (habits > 1) throw new DpError("invalid_parameter", `\`habits\` must be in [0, 1]. Found ${habits}.`, "habits");
  const ratingBase = RATING_BASE + HABIT_BASE_SHIFT * habits;
  const ratingTaste = RATING_TASTE * taste;
  const ratingNoiseSd = Math.sqrt(Math.max(0, RATING_NOISE_SD ** 2 + RATING_TASTE ** 2 - ratingTaste ** 2));
  const rng = options.rng ?? new SeededRng(seed);
  const normal = new NormalSource(rng);
  const onProgress = options.onProgress;

  const { weights, order } = popularity(numMovies, rng);
  // Tastes (see FACTORS above): movie factors are those of their niche; groups are (tier, niche).
  const rankOf = new Uint32Array(numMovies);
  for (let r = 0; r < numMovies; r++) rankOf[order[r]] = r;
  const stretchRanks = numMovies / NETFLIX_PRIZE_STATISTICS.movies;
  const tierOf = (m: number): number => {
    let t = 0;
    while (t < TIER_RANKS.length && rankOf[m] >= TIER_RANKS[t] * stretchRanks) t++;
    return t;
  };
  const nicheFactors = new Float64Array(NICHES * FACTORS);
  for (let c = 0; c < NICHES; c++) {
    let norm = 0;
    for (let k = 0; k < FACTORS; k++) {
      const v = normal.next();
      nicheFactors[c * FACTORS + k] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let k = 0; k < FACTORS; k++) nicheFactors[c * FACTORS + k] /= norm;
  }
  const numGroups = TIER_ALPHA.length * NICHES;
  const nicheOf = new Uint16Array(numMovies);
  const groupOf = new Uint32Array(numMovies);
  const members: number[][] = Array.from({ length: numGroups }, () => []);
  for (let m = 0; m < numMovies; m++) {
    nicheOf[m] = Math.floor(unit(rng) * NICHES);
    groupOf[m] = tierOf(m) * NICHES + nicheOf[m];
    members[groupOf[m]].push(m);
  }
  const groupTables = members.map((ms) => (ms.length ? new AliasTable(ms.map((m) => weights[m])) : null));
  const groupMass = members.map((ms) => ms.reduce((acc, m) => acc + weights[m], 0));
  const userFactor = new Float64Array(FACTORS);
  const userNiche = new Float64Array(NICHES); // s = p·q of this user for each niche
  const logUserGroup = new Float64Array(numGroups);
  const userGroupCum = new Float64Array(numGroups);
  const movieEffect = new Float64Array(numMovies);
  for (let m = 0; m < numMovies; m++) movieEffect[m] = MOVIE_EFFECT_SD * normal.next();

  // Pass 1: how many ratings each user has (so the arrays are allocated once, exactly).
  const cap = Math.min(NETFLIX_PRIZE_STATISTICS.maxRatingsPerUser, numMovies);
  const rowPtr = new Uint32Array(users + 1);
  const activityScore = new Float32Array(users);
  let total = 0;
  for (let u = 0; u < users; u++) {
    const a = drawActivity(rng, normal, cap);
    activityScore[u] = a.z;
    total += a.n;
    rowPtr[u + 1] = total;
  }
  if (total > 2 ** 32 - 1) throw new DpError("invalid_parameter", `Too many ratings for 32-bit offsets: ${total}.`, "users");
  const movies = new Uint16Array(total);
  const ratings = new Uint8Array(total);
  const days = new Uint16Array(total);

  // Pass 2: each user's movies (weighted sampling without replacement), ratings and dates.
  const stamp = new Int32Array(numMovies).fill(-1);
  const keys = new Float64Array(numMovies);
  const sortedKeys = new Float64Array(numMovies);
  const logWeights = new Float64Array(numMovies);
  for (let m = 0; m < numMovies; m++) logWeights[m] = Math.log(weights[m]);
  const heavy = Math.max(1, Math.floor(numMovies / HEAVY_FRACTION));
  const growthSpan = Math.expm1(GROWTH_PER_DAY * NETFLIX_LAST_DAY);
  const progressEvery = Math.max(1, Math.floor(users / 100));

  for (let u = 0; u < users; u++) {
    const start = rowPtr[u];
    const n = rowPtr[u + 1] - start;
    const row = movies.subarray(start, start + n);
    for (let k = 0; k < FACTORS; k++) userFactor[k] = normal.next();
    for (let c = 0; c < NICHES; c++) {
      let dot = 0;
      for (let k = 0; k < FACTORS; k++) dot += userFactor[k] * nicheFactors[c * FACTORS + k];
      userNiche[c] = dot;
    }
    // Within each tier, renormalise so the user's share of choices per tier is the population's
    // (the popularity law is kept per tier).
    let cum = 0;
    for (let t = 0; t < tierAlpha.length; t++) {
      const alpha = tierAlpha[t];
      let mass = 0;
      let tilted = 0;
      for (let c = 0, g = t * NICHES; c < NICHES; c++, g++) {
        const e = groupMass[g] * Math.exp(alpha * userNiche[c]);
        mass += groupMass[g];
        tilted += e;
      }
      const logNorm = tilted > 0 ? Math.log(mass / tilted) : 0;
      for (let c = 0, g = t * NICHES; c < NICHES; c++, g++) {
        logUserGroup[g] = alpha * userNiche[c] + logNorm;
        if (groupMass[g] > 0) cum += groupMass[g] * Math.exp(logUserGroup[g]);
        userGroupCum[g] = cum;
      }
    }
    let k = 0;
    let rejections = 0;
    if (n <= heavy) {
      // Weighted draws with rejection of repeats; a user whose taste is so narrow that repeats
      // dominate falls back to the weighted keys below (the same law).
      while (k < n && rejections <= 20 * n + 100) {
        const x = unit(rng) * cum;
        let lo = 0;
        let hi = numGroups - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (userGroupCum[mid] < x) lo = mid + 1;
          else hi = mid;
        }
        const table = groupTables[lo];
        if (!table) continue;
        const m = members[lo][table.sample(rng)];
        if (stamp[m] === u) {
          rejections++;
          continue;
        }
        stamp[m] = u;
        row[k++] = m;
      }
    }
    if (k < n) {
      k = 0;
      // Efraimidis–Spirakis: the n largest u^(1/w), i.e. the n smallest log(-log u) - log w
      // (the same law as sequential weighted draws without replacement).
      for (let m = 0; m < numMovies; m++) keys[m] = Math.log(-Math.log(unit(rng))) - logWeights[m] - logUserGroup[groupOf[m]];
      sortedKeys.set(keys);
      sortedKeys.sort();
      const threshold = sortedKeys[n - 1];
      for (let m = 0; m < numMovies && k < n; m++) if (keys[m] <= threshold) row[k++] = m;
      for (let m = 0; k < n; m++) if (keys[m] > threshold) row[k++] = m; // ties (practically never)
    }
    row.sort();

    let rowS = 0;
    for (let j = 0; j < n; j++) rowS += userNiche[nicheOf[row[j]]];
    rowS /= n; // ratings move with s − (the mean s of this user's movies): no net shift
    const userEffect = USER_EFFECT_SD * normal.next();
    // Tenure: more active users joined earlier (a Gaussian copula between activity and join date).
    const zJoin = -TENURE_CORRELATION * activityScore[u] + Math.sqrt(1 - TENURE_CORRELATION ** 2) * normal.next();
    const join = Math.min(NETFLIX_LAST_DAY, Math.floor(Math.log1p(standardNormalCdf(zJoin) * growthSpan) / GROWTH_PER_DAY));
    const span = (NETFLIX_LAST_DAY - join + 1) * (0.15 + 0.85 * unit(rng));
    const habitShare = n > HABIT_FROM ? habits * HABIT_MAX * Math.min(1, Math.log(n / HABIT_FROM) / Math.log(HABIT_SPAN)) : 0;
    const habitRating = habitShare > 0 && unit(rng) < HABIT_ONES ? 1 : 5;
    for (let k = 0; k < n; k++) {
      const i = start + k;
      const m = row[k];
      const affinity = ratingTaste * (userNiche[nicheOf[m]] - rowS);
      const latent = ratingBase + movieEffect[m] + userEffect + affinity + ratingNoiseSd * normal.next();
      ratings[i] =
        habitShare > 0 && unit(rng) < habitShare
          ? habitRating
          : latent < 1.5
            ? 1
            : latent < 2.5
              ? 2
              : latent < 3.5
                ? 3
                : latent < 4.5
                  ? 4
                  : 5;
      days[i] = Math.min(NETFLIX_LAST_DAY, join + Math.floor(Math.pow(unit(rng), DATE_SKEW) * span));
    }
    if (onProgress && (u + 1) % progressEvery === 0) onProgress((u + 1) / users);
  }
  if (onProgress) onProgress(1);
  return {
    numUsers: users,
    numMovies,
    rowPtr,
    movies,
    ratings,
    days,
    popularityOrder: order,
    options: { users, numMovies, seed, taste, habits },
  };
}

/** Summary statistics of a ratings table, for comparison with {@link NETFLIX_PRIZE_STATISTICS}. */
export interface RatingsTableStatistics {
  users: number;
  movies: number;
  ratings: number;
  meanRatingsPerUser: number;
  medianRatingsPerUser: number;
  maxRatingsPerUser: number;
  usersWithOneRating: number;
  usersWithFewerThanTenRatings: number;
  /** Users with more than 10,000 ratings. */
  usersWithMoreThan10000Ratings: number;
  meanRatingsPerMovie: number;
  minRatingsPerMovie: number;
  maxRatingsPerMovie: number;
  /** Movies with at most 500 ratings. */
  moviesWithAtMost500Ratings: number;
  meanRating: number;
  /** Share of ratings 1..5 (index 0 = rating 1). */
  ratingShares: number[];
  /** Ratings per calendar year, 1998..2005. */
  ratingsPerYear: Record<string, number>;
  /** Share of ratings dated 2004 or 2005. */
  shareIn2004And2005: number;
  /** Bytes held by the typed arrays. */
  bytes: number;
}

/**
 * Computes the statistics that docs/linkage.md compares with the published ones.
 * @param table - a ratings table
 * @returns counts, means and shares (see {@link RatingsTableStatistics})
 * @example
 * ```ts
 * import { generateNetflixLike, ratingsTableStatistics } from "dpkit/data";
 * const s = ratingsTableStatistics(generateNetflixLike({ users: 1000 }));
 * console.log(s.meanRatingsPerUser, s.meanRating);
 * ```
 */
export function ratingsTableStatistics(table: RatingsTable): RatingsTableStatistics {
  const { numUsers, numMovies, rowPtr, movies, ratings, days } = table;
  const n = movies.length;
  const perUser = new Uint32Array(numUsers);
  let maxU = 0;
  let one = 0;
  let lt10 = 0;
  let gt10k = 0;
  for (let u = 0; u < numUsers; u++) {
    const c = rowPtr[u + 1] - rowPtr[u];
    perUser[u] = c;
    if (c > maxU) maxU = c;
    if (c === 1) one++;
    if (c < 10) lt10++;
    if (c > 10_000) gt10k++;
  }
  const sortedUsers = perUser.slice().sort();
  const support = new Uint32Array(numMovies);
  const hist = [0, 0, 0, 0, 0];
  let sum = 0;
  const yearStart: number[] = [];
  for (let y = 1998; y <= 2006; y++) yearStart.push(Math.round((Date.UTC(y, 0, 1) - NETFLIX_EPOCH_MS) / 86_400_000));
  const perYear = new Float64Array(8);
  for (let i = 0; i < n; i++) {
    support[movies[i]]++;
    hist[ratings[i] - 1]++;
    sum += ratings[i];
    const d = days[i];
    let y = 7;
    while (y > 0 && d < yearStart[y]) y--;
    perYear[y]++;
  }
  let minM = Infinity;
  let maxM = 0;
  let le500 = 0;
  for (let m = 0; m < numMovies; m++) {
    if (support[m] < minM) minM = support[m];
    if (support[m] > maxM) maxM = support[m];
    if (support[m] <= 500) le500++;
  }
  const ratingsPerYear: Record<string, number> = {};
  for (let y = 0; y < 8; y++) ratingsPerYear[String(1998 + y)] = perYear[y];
  return {
    users: numUsers,
    movies: numMovies,
    ratings: n,
    meanRatingsPerUser: n / numUsers,
    medianRatingsPerUser: sortedUsers[Math.floor(numUsers / 2)],
    maxRatingsPerUser: maxU,
    usersWithOneRating: one,
    usersWithFewerThanTenRatings: lt10,
    usersWithMoreThan10000Ratings: gt10k,
    meanRatingsPerMovie: n / numMovies,
    minRatingsPerMovie: minM,
    maxRatingsPerMovie: maxM,
    moviesWithAtMost500Ratings: le500,
    meanRating: sum / Math.max(1, n),
    ratingShares: hist.map((h) => h / Math.max(1, n)),
    ratingsPerYear,
    shareIn2004And2005: (perYear[6] + perYear[7]) / Math.max(1, n),
    bytes: rowPtr.byteLength + movies.byteLength + ratings.byteLength + days.byteLength,
  };
}

/** One line of {@link compareWithNetflixPrize}. */
export interface StatisticComparison {
  statistic: string;
  /** The published value, scaled to the table's size where it scales. */
  published: number | string;
  generated: number;
  /** The tolerance, in words. */
  tolerance: string;
  ok: boolean;
}

/**
 * Compares a table's statistics with the published Netflix Prize statistics, scaled by the
 * table's share of the 480,189 users, within the tolerances stated in docs/linkage.md.
 * Statistics that only make sense at (nearly) full scale — the least-rated title — are checked
 * when the table has at least half the users.
 * @param stats - from {@link ratingsTableStatistics}
 * @returns one line per statistic with `ok`
 * @example
 * ```ts
 * import { compareWithNetflixPrize, generateNetflixLike, ratingsTableStatistics } from "dpkit/data";
 * const rows = compareWithNetflixPrize(ratingsTableStatistics(generateNetflixLike({ users: 20000 })));
 * console.log(rows.every((r) => r.ok));
 * ```
 */
export function compareWithNetflixPrize(stats: RatingsTableStatistics): StatisticComparison[] {
  const P = NETFLIX_PRIZE_STATISTICS;
  const scale = stats.users / P.users;
  const rel = (x: number, target: number, tol: number): boolean => Math.abs(x - target) <= tol * target;
  const rows: StatisticComparison[] = [];
  const add = (statistic: string, published: number | string, generated: number, tolerance: string, ok: boolean): void => {
    rows.push({ statistic, published, generated, tolerance, ok });
  };
  add("movies", P.movies, stats.movies, "exact", stats.movies === P.movies);
  add(
    "ratings per user, mean",
    P.meanRatingsPerUser,
    stats.meanRatingsPerUser,
    "±5%",
    rel(stats.meanRatingsPerUser, P.meanRatingsPerUser, 0.05),
  );
  add("ratings (scaled)", P.ratings * scale, stats.ratings, "±5%", rel(stats.ratings, P.ratings * scale, 0.05));
  const one = P.usersWithOneRating / P.users;
  add(
    "share of users with 1 rating",
    one,
    stats.usersWithOneRating / stats.users,
    "±0.1 points",
    Math.abs(stats.usersWithOneRating / stats.users - one) <= 0.001,
  );
  const lt10 = P.usersWithFewerThanTenRatings / P.users;
  add(
    "share of users with < 10 ratings",
    lt10,
    stats.usersWithFewerThanTenRatings / stats.users,
    "±0.5 points",
    Math.abs(stats.usersWithFewerThanTenRatings / stats.users - lt10) <= 0.005,
  );
  add("ratings per user, max", P.maxRatingsPerUser, stats.maxRatingsPerUser, "≤ published", stats.maxRatingsPerUser <= P.maxRatingsPerUser);
  add(
    "ratings per movie, mean (scaled)",
    P.meanRatingsPerMovie * scale,
    stats.meanRatingsPerMovie,
    "±5%",
    rel(stats.meanRatingsPerMovie, P.meanRatingsPerMovie * scale, 0.05),
  );
  add(
    "ratings of the most-rated movie (scaled)",
    P.maxRatingsPerMovie * scale,
    stats.maxRatingsPerMovie,
    "±15%",
    rel(stats.maxRatingsPerMovie, P.maxRatingsPerMovie * scale, 0.15),
  );
  if (scale >= 0.5) {
    add(
      "ratings of the least-rated movie",
      P.minRatingsPerMovie,
      stats.minRatingsPerMovie,
      '≤ 30 ("a few")',
      stats.minRatingsPerMovie <= 30,
    );
    add(
      "users with more than 10,000 ratings",
      P.usersWithMoreThan10000Ratings,
      stats.usersWithMoreThan10000Ratings,
      "1–15",
      stats.usersWithMoreThan10000Ratings >= 1 && stats.usersWithMoreThan10000Ratings <= 15,
    );
  }
  add("mean rating", P.meanRating, stats.meanRating, "±0.05", Math.abs(stats.meanRating - P.meanRating) <= 0.05);
  add(
    "share of ratings in 2004–2005",
    "most",
    stats.shareIn2004And2005,
    "in [0.6, 0.9]",
    stats.shareIn2004And2005 >= 0.6 && stats.shareIn2004And2005 <= 0.9,
  );
  const years = [1999, 2000, 2001, 2002, 2003, 2004, 2005].map((y) => stats.ratingsPerYear[String(y)]);
  const growing = years.every((v, i) => i === 0 || v > years[i - 1]);
  add("ratings per year grow every year 1999–2005", "growth", growing ? 1 : 0, "strictly increasing", growing);
  return rows;
}
