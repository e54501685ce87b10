/**
 * Update compression for the FedAvg uplink.
 * @module
 */
export { NoCompression, type UpdateCompressor } from "./compressor.js";
export {
  inverseRandomizedHadamard,
  randomizedHadamard,
  RandomSubsampler,
  type RandomSubsamplerOptions,
  StochasticQuantizer,
  type StochasticQuantizerOptions,
  walshHadamardInPlace,
} from "./quantize.js";
export { LowRankCompressor, type LowRankCompressorOptions } from "./low-rank.js";
