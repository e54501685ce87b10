/**
 * Datasets: the MNIST loader and the Netflix-like ratings generator.
 * @module
 */
export { loadMnist, type LoadMnistOptions, type MnistSet } from "./mnist.js";
export {
  compareWithNetflixPrize,
  generateNetflixLike,
  NETFLIX_EPOCH_MS,
  NETFLIX_LAST_DAY,
  NETFLIX_PRIZE_STATISTICS,
  ratingsTableStatistics,
  type NetflixLikeData,
  type NetflixLikeOptions,
  type RatingsTable,
  type RatingsTableStatistics,
  type StatisticComparison,
} from "./netflix.js";

// The error type every function here throws, so callers of this entry point can catch it.
export { DpError, type DpErrorCode } from "../errors.js";
