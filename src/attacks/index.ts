/**
 * `dpkit/attacks`: the Netflix-style linkage attack (Narayanan & Shmatikov 2008) on a
 * Netflix-like data generator, and the defences measured against it — naive anonymisation, a
 * locally differentially private release of each record, and DP aggregates. The Netflix-like
 * data generator is in `dpkit/data`; the demo and its charts in `dpkit/experiments`.
 * @module
 */
export type { RatingsTable } from "../data/netflix.js";
export {
  type AuxiliaryRecord,
  buildLinkageIndex,
  eccentricityMatch,
  type LinkageIndex,
  Scoreboard,
  type ScoreboardMatch,
  type ScoreboardOptions,
  scoreboardScoresByScan,
  scoreboardSimilarity,
} from "./linkage/scoreboard.js";
export { type AuxiliaryOptions, eligibleRatings, resolveAuxiliaryOptions, sampleAuxiliary, topMoviesMask } from "./linkage/auxiliary.js";
export { type LinkageAttackOptions, type LinkageAttackResult, runLinkageAttack } from "./linkage/experiment.js";
export {
  baselineRecommenderRmse,
  dpRatingHistograms,
  type DpRatingHistograms,
  type DpRatingHistogramsOptions,
  exactRatingHistograms,
  heldOutSplit,
  type HeldOutSplit,
  type LdpBudgetSplit,
  ldpCountStandardDeviation,
  ldpRatingCountEstimates,
  ldpRecordRelease,
  type LdpRecordRelease,
  type LdpRecordReleaseOptions,
  movieMeanRmse,
  movieMeansFromCounts,
  naiveAnonymisation,
  type NaiveAnonymisationOptions,
  netflixMonthMiddle,
  type RecommenderRmse,
  type ReleasedTable,
} from "./linkage/defences.js";

// The error type every function here throws, so callers of this entry point can catch it.
export { DpError, type DpErrorCode } from "../errors.js";
