/**
 * The linkage demo: generate Netflix-like data, re-identify users from a little auxiliary
 * knowledge, then measure the same attack against a naive anonymisation, a locally
 * differentially private release of each record, and DP aggregates (no records at all).
 *
 * @module
 */
import { requireInteger, requirePositiveInteger } from "../errors.js";
import { generateNetflixLike, ratingsTableStatistics, type NetflixLikeData, type RatingsTableStatistics } from "../data/netflix.js";
import { SeededRng } from "../random/rng.js";
import { topMoviesMask, type AuxiliaryOptions } from "../attacks/linkage/auxiliary.js";
import {
  baselineRecommenderRmse,
  dpRatingHistograms,
  exactRatingHistograms,
  heldOutSplit,
  ldpCountStandardDeviation,
  ldpRatingCountEstimates,
  ldpRecordRelease,
  movieMeanRmse,
  movieMeansFromCounts,
  naiveAnonymisation,
  type HeldOutSplit,
  type LdpRecordRelease,
} from "../attacks/linkage/defences.js";
import { runLinkageAttack, type LinkageAttackResult } from "../attacks/linkage/experiment.js";
import { buildLinkageIndex } from "../attacks/linkage/scoreboard.js";

/** Contribution bound of the DP aggregates in the demo (ratings per user). */
const AGGREGATE_BOUND = 20;

/** One scenario of the paper and its published result. */
export interface PaperScenario {
  name: string;
  /** Attacker's knowledge (`excludeTop` = only movies outside the N most rated). */
  knowledge: Omit<AuxiliaryOptions, "excludedMovies"> & { excludeTop?: number };
  /** Re-identification rate reported by Narayanan & Shmatikov 2008. */
  paperRate: number;
}

/**
 * The paper's headline scenarios (IEEE S&P 2008, section 6). The paper's ratings are the
 * target's own in these experiments; we run each with exact ratings and again with ratings
 * off by up to ±1.
 */
export const PAPER_SCENARIOS: PaperScenario[] = [
  { name: "8 ratings (2 wrong), dates ±14 days", knowledge: { known: 8, wrong: 2, dateError: 14, ratingError: 0 }, paperRate: 0.99 },
  { name: "2 ratings, dates ±3 days", knowledge: { known: 2, wrong: 0, dateError: 3, ratingError: 0 }, paperRate: 0.68 },
  {
    name: "8 ratings (2 wrong) outside top 500, no dates",
    knowledge: { known: 8, wrong: 2, dateError: null, ratingError: 0, excludeTop: 500 },
    paperRate: 0.84,
  },
];

/** A row of a result table. */
export interface LinkageRow extends LinkageAttackResult {
  scenario: string;
}

/** Options for {@link runLinkageDemo}. */
export interface LinkageDemoOptions {
  /** Number of users; default 20,000 (about 4.2 M ratings). */
  users?: number;
  /** Seed of the whole simulation; default 1. */
  seed?: number;
  /** Targets per scenario; default 150. */
  targets?: number;
  /** Epsilons of the LDP curve; default [1, 10, 100, 1000]. */
  ldpEpsilons?: number[];
  /** Epsilons of the DP aggregates; default [0.1, 1, 10]. */
  aggregateEpsilons?: number[];
  /** Numbers of known ratings for the curve; default [1, 2, 3, 4, 6, 8]. */
  knownCurve?: number[];
  /** Progress: a stage name and the fraction done. */
  onProgress?: (stage: string, fraction: number) => void;
}

/** Everything {@link runLinkageDemo} measured. */
export interface LinkageDemoResult {
  users: number;
  seed: number;
  statistics: RatingsTableStatistics;
  generationMs: number;
  /** The paper's scenarios on the generated data (exact ratings and ±1). */
  reproduction: (LinkageRow & { paperRate: number; ratingError: number })[];
  /** Re-identification against the number of known ratings (dates ±14 days, no wrong entries, exact ratings). */
  knownCurve: (LinkageRow & { known: number })[];
  /** The attack against the naive anonymisation (8 ratings, 2 wrong, ±14 days). */
  naive: LinkageRow[];
  /** The attack against LDP releases, with the utility left. */
  ldp: (LinkageRow & { epsilon: number; accountantEpsilon: number; movieMeanRmse: number })[];
  /** Utility reference points for the LDP table: global mean and the non-private (unnoised) slots. */
  ldpReference: { globalMeanRmse: number; slotsOnlyRmse: number; slots: number };
  /** DP aggregates: recommender RMSE against the non-private baseline. */
  aggregates: {
    epsilon: number | null;
    maxRatingsPerUser: number | null;
    movieMeanRmse: number;
    globalMean: number;
    movieMean: number;
    movieMeanPlusUserOffset: number;
  }[];
}

/**
 * The utility left in an LDP record release: RMSE of the per-movie mean ratings estimated from it
 * (with a prior sized to the estimates' noise). Shared by the demo and `dpkit linkage`.
 * @internal
 */
export function ldpMovieMeanRmse(data: NetflixLikeData, release: LdpRecordRelease): number {
  const prior = Math.max(25, 2 * ldpCountStandardDeviation(release));
  const counts = ldpRatingCountEstimates(release, data.numMovies);
  return movieMeanRmse(movieMeansFromCounts(counts, data.numMovies, prior, prior * Math.sqrt(data.numMovies)).means, data);
}

/**
 * Per-movie mean ratings from DP rating histograms (at most `maxRatingsPerUser` ratings per user,
 * held-out users excluded), with a prior sized to the noise. Shared by the demo and `dpkit linkage`.
 * @internal
 */
export function dpHistogramMeans(data: NetflixLikeData, split: HeldOutSplit, epsilon: number, maxRatingsPerUser: number, rng: SeededRng) {
  const h = dpRatingHistograms(data, { epsilon, maxRatingsPerUser, exclude: split.mask, rng, allowInsecureRng: true });
  const prior = Math.max(25, 2 * Math.sqrt(5) * h.mechanism.standardDeviation);
  return { epsilon: h.epsilon, means: movieMeansFromCounts(h.counts, data.numMovies, prior, prior * Math.sqrt(data.numMovies)) };
}

/**
 * Runs the whole linkage demo at a small scale (about half a minute at the default 20,000 users
 * on one core).
 *
 * @remarks
 * A simulation: every random choice comes from a {@link SeededRng} seeded from `seed`, which is
 * **insecure** — fine for a reproducible demo, never for a real release. The epsilons reported
 * for the LDP records hold for one user's whole record replaced by any other.
 *
 * @param options - scale, seed, number of targets, epsilons, progress callback
 * @returns the tables (see {@link LinkageDemoResult})
 * @throws {@link DpError} `invalid_parameter` for bad options
 * @example
 * ```ts
 * import { runLinkageDemo } from "dpkit/experiments";
 * const result = runLinkageDemo({ users: 5000, targets: 50 });
 * console.table(result.reproduction.map((r) => [r.scenario, r.paperRate, r.reidentificationRate]));
 * ```
 * @see https://www.cs.utexas.edu/~shmat/shmat_oak08netflix.pdf
 */
export function runLinkageDemo(options: LinkageDemoOptions = {}): LinkageDemoResult {
  const users = requirePositiveInteger("users", options.users ?? 20_000);
  const seed = requireInteger("seed", options.seed ?? 1);
  const targets = requirePositiveInteger("targets", options.targets ?? 150);
  const progress = options.onProgress ?? (() => undefined);
  const rngFor = (k: number): SeededRng => new SeededRng(seed * 1009 + k);

  const t0 = performance.now();
  const data: NetflixLikeData = generateNetflixLike({ users, seed, onProgress: (f) => progress("generate", f) });
  const generationMs = performance.now() - t0;
  const statistics = ratingsTableStatistics(data);
  const index = buildLinkageIndex(data);
  const top500 = topMoviesMask(data, 500);

  const attack = (name: string, knowledge: PaperScenario["knowledge"], extra: object, k: number): LinkageRow => {
    const { excludeTop, ...aux } = knowledge;
    const r = runLinkageAttack({
      original: data,
      index,
      targets,
      rng: rngFor(k),
      ...aux,
      excludedMovies: excludeTop ? (excludeTop === 500 ? top500 : topMoviesMask(data, excludeTop)) : undefined,
      ...extra,
    });
    return { scenario: name, ...r };
  };

  progress("reproduce", 0);
  const reproduction: LinkageDemoResult["reproduction"] = [];
  PAPER_SCENARIOS.forEach((s, i) => {
    for (const ratingError of [0, 1]) {
      const row = attack(s.name, { ...s.knowledge, ratingError }, {}, 10 + 2 * i + ratingError);
      reproduction.push({ ...row, paperRate: s.paperRate, ratingError });
    }
    progress("reproduce", (i + 1) / PAPER_SCENARIOS.length);
  });

  const knownCurve: LinkageDemoResult["knownCurve"] = [];
  const ks = options.knownCurve ?? [1, 2, 3, 4, 6, 8];
  ks.forEach((k, i) => {
    knownCurve.push({ known: k, ...attack(`${k} known, ±14 days`, { known: k, wrong: 0, dateError: 14, ratingError: 0 }, {}, 100 + k) });
    progress("curve", (i + 1) / ks.length);
  });

  const attackOn = (name: string, released: ReturnType<typeof naiveAnonymisation>, k: number): LinkageRow => {
    const r = runLinkageAttack({
      original: data,
      released: released.released,
      releasedToOriginal: released.releasedToOriginal,
      targets,
      rng: rngFor(k),
      known: 8,
      wrong: 2,
      dateError: 14,
      ratingError: 0,
    });
    return { scenario: name, ...r };
  };

  progress("naive", 0);
  const naive: LinkageRow[] = [
    attackOn(
      "none (ids removed only)",
      naiveAnonymisation(data, { deleteFraction: 0, perturbFraction: 0, coarsenDates: false, rng: rngFor(200) }),
      201,
    ),
    attackOn(
      "dates → months",
      naiveAnonymisation(data, { deleteFraction: 0, perturbFraction: 0, coarsenDates: true, rng: rngFor(202) }),
      203,
    ),
    attackOn(
      "months + 10% deleted + 20% ratings ±1",
      naiveAnonymisation(data, { deleteFraction: 0.1, perturbFraction: 0.2, rng: rngFor(204) }),
      205,
    ),
  ];
  progress("naive", 1);

  const trueMeans = movieMeansFromCounts(exactRatingHistograms(data), data.numMovies, 0);
  const slots = 16;
  const ldp: LinkageDemoResult["ldp"] = [];
  const eps = options.ldpEpsilons ?? [1, 10, 100, 1000];
  eps.forEach((epsilon, i) => {
    const release = ldpRecordRelease(data, {
      epsilon,
      slots,
      rng: rngFor(300 + i),
      allowInsecureRng: true,
      onProgress: (f) => progress(`ldp ε=${epsilon}`, f),
    });
    const row = attackOn(`LDP ε=${epsilon}`, release, 400 + i);
    ldp.push({
      ...row,
      epsilon: release.epsilon,
      accountantEpsilon: release.accountantEpsilon,
      movieMeanRmse: ldpMovieMeanRmse(data, release),
    });
  });
  const globalOnly = new Float64Array(data.numMovies).fill(trueMeans.globalMean);
  const slotsOnly = movieMeansFromCounts(exactRatingHistograms(data, { maxRatingsPerUser: slots, rng: rngFor(500) }), data.numMovies, 25);
  const ldpReference = { globalMeanRmse: movieMeanRmse(globalOnly, data), slotsOnlyRmse: movieMeanRmse(slotsOnly.means, data), slots };

  progress("aggregates", 0);
  const split = heldOutSplit(data, Math.min(20_000, users), rngFor(600));
  const aggregates: LinkageDemoResult["aggregates"] = [];
  const exactTrain = movieMeansFromCounts(exactRatingHistograms(data, { exclude: split.mask }), data.numMovies, 25);
  aggregates.push({
    epsilon: null,
    maxRatingsPerUser: null,
    movieMeanRmse: movieMeanRmse(exactTrain.means, data),
    ...baselineRecommenderRmse(data, split, exactTrain),
  });
  const aggEps = options.aggregateEpsilons ?? [0.1, 1, 10];
  aggEps.forEach((epsilon, i) => {
    const h = dpHistogramMeans(data, split, epsilon, AGGREGATE_BOUND, rngFor(700 + i));
    aggregates.push({
      epsilon: h.epsilon,
      maxRatingsPerUser: AGGREGATE_BOUND,
      movieMeanRmse: movieMeanRmse(h.means.means, data),
      ...baselineRecommenderRmse(data, split, h.means),
    });
    progress("aggregates", (i + 1) / aggEps.length);
  });

  return { users, seed, statistics, generationMs, reproduction, knownCurve, naive, ldp, ldpReference, aggregates };
}

function textTable(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) =>
    r.map((c) => (typeof c === "number" ? (Number.isInteger(c) ? String(c) : Math.abs(c) >= 100 ? c.toFixed(0) : c.toPrecision(3)) : c)),
  );
  const widths = header.map((h, j) => Math.max(h.length, ...cells.map((r) => r[j].length)));
  const line = (r: string[]): string => r.map((c, j) => c.padStart(widths[j])).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

const percent = (x: number): string => `${(100 * x).toFixed(1)}%`;

/**
 * Renders a {@link LinkageDemoResult} as the demo's text (tables in story order).
 * @param result - from {@link runLinkageDemo}
 * @returns plain text for a terminal
 * @example
 * ```ts
 * import { renderLinkageDemo, runLinkageDemo } from "dpkit/experiments";
 * process.stdout.write(renderLinkageDemo(runLinkageDemo({ users: 3000, targets: 50 })));
 * ```
 */
export function renderLinkageDemo(result: LinkageDemoResult): string {
  const s = result.statistics;
  const out: string[] = [];
  out.push(
    `1. Data: ${s.users.toLocaleString("en-US")} generated users, ${s.movies.toLocaleString("en-US")} movies, ${s.ratings.toLocaleString("en-US")} ratings ` +
      `(mean ${s.meanRatingsPerUser.toFixed(0)} per user, mean rating ${s.meanRating.toFixed(2)}), shaped like the Netflix Prize data.\n`,
  );
  out.push("2. The attack (Scoreboard-RH, Narayanan & Shmatikov 2008) against ids-removed records:\n");
  out.push(
    textTable(
      ["attacker knows", "ratings", "paper", "re-identified", "false match", "no match"],
      result.reproduction.map((r) => [
        r.scenario,
        r.ratingError ? "±1" : "exact",
        percent(r.paperRate),
        percent(r.reidentificationRate),
        percent(r.falseMatchRate),
        percent(r.noMatchRate),
      ]),
    ),
  );
  out.push("\n   Re-identification vs number of known ratings (exact ratings, dates ±14 days):\n");
  out.push(
    textTable(
      ["known", "re-identified", "target scores highest"],
      result.knownCurve.map((r) => [r.known, percent(r.reidentificationRate), percent(r.topScoreRate)]),
    ),
  );
  out.push("\n3. The naive fix (same attacker: 8 ratings, 2 wrong, ±14 days):\n");
  out.push(
    textTable(
      ["release", "re-identified", "false match"],
      result.naive.map((r) => [r.scenario, percent(r.reidentificationRate), percent(r.falseMatchRate)]),
    ),
  );
  out.push(
    `\n4. Local DP: each user releases ${result.ldpReference.slots} randomized (movie, rating, date) slots; ε holds for the user's whole record:\n`,
  );
  out.push(
    textTable(
      ["ε per record", "ε (RDP, δ=1e-6)", "re-identified", "false match", "RMSE movie means"],
      result.ldp.map((r) => [r.epsilon, r.accountantEpsilon, percent(r.reidentificationRate), percent(r.falseMatchRate), r.movieMeanRmse]),
    ),
  );
  out.push(
    `   (RMSE of one global mean for every movie: ${result.ldpReference.globalMeanRmse.toFixed(3)}; of ${result.ldpReference.slots} unnoised slots: ${result.ldpReference.slotsOnlyRmse.toFixed(3)})`,
  );
  out.push("\n5. Central DP aggregates instead of records (nothing to link); held-out RMSE of baseline recommenders:\n");
  out.push(
    textTable(
      ["release", "ε", "movie mean", "movie mean + user offset"],
      result.aggregates.map((r) => [
        r.epsilon === null ? "non-private" : `DP histograms (≤${r.maxRatingsPerUser}/user)`,
        r.epsilon === null ? "∞" : r.epsilon,
        r.movieMean,
        r.movieMeanPlusUserOffset,
      ]),
    ),
  );
  return out.join("\n") + "\n";
}
