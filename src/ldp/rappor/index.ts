/**
 * RAPPOR: encoder, hashing, stores, file formats and decoder.
 * @module
 */
export {
  DEFAULT_RAPPOR_PARAMS,
  effectiveProbPrr,
  MAX_RAPPOR_CANDIDATES,
  rapporBitProbabilities,
  type RapporBitProbabilities,
  rapporEvents,
  type RapporParams,
  rapporPermanentEpsilon,
  rapporReportEpsilon,
  validateRapporParams,
} from "./params.js";
export {
  parseRapporBitString,
  rapporBigEndian32,
  rapporBitString,
  rapporBloomBits,
  rapporBloomFilter,
  rapporPermanentResponse,
  rapporPrrMasks,
  type RapporPrrMasks,
  type RapporValue,
} from "./hashing.js";
export { memoryRapporStore, type RapporClientStore } from "./store.js";
export { openRapporSqliteStore, type RapporSqliteStore, type RapporSqliteStoreOptions } from "./sqlite-store.js";
export {
  createRapporEncoder,
  RAPPOR_MIN_SECRET_BYTES,
  RAPPOR_SECRET_BYTES,
  type RapporDetailedReport,
  type RapporEncoder,
  type RapporEncoderOptions,
  type RapporReport,
} from "./encoder.js";
export { basicRapporMap, hashRapporCandidates, type RapporCounts, type RapporMap, sumRapporBits } from "./aggregate.js";
export {
  formatRapporCountsCsv,
  formatRapporMapCsv,
  formatRapporParamsCsv,
  formatRapporReportsCsv,
  parseRapporCountsCsv,
  parseRapporCsvRows,
  parseRapporMapCsv,
  parseRapporParamsCsv,
  parseRapporReportsCsv,
  type RapporReportRow,
} from "./formats.js";
export {
  decodeRappor,
  estimateRapporBloomCounts,
  type RapporBloomEstimate,
  type RapporCorrection,
  type RapporDecodedCandidate,
  type RapporDecodeOptions,
  type RapporDecodeResult,
} from "./decoder.js";
export {
  rapporSimulationCounts,
  type RapporSimulationDistribution,
  simulateRapporCounts,
  type SimulateRapporCountsOptions,
  simulateRapporReports,
  type SimulateRapporReportsOptions,
} from "./simulate.js";
