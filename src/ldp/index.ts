/**
 * `dpkit/ldp`: local differential privacy — randomized response, unary encodings, local
 * hashing, and a RAPPOR encoder and decoder.
 * @module
 */
export { type FrequencyEstimate, pureProtocolFrequencyVariance } from "./frequency-estimate.js";
export {
  binaryRandomizedResponse,
  type BinaryRandomizedResponse,
  type BinaryRandomizedResponseOptions,
  kRandomizedResponse,
  type KRandomizedResponse,
  type KRandomizedResponseOptions,
  randomizedResponseEpsilon,
  randomizedResponseNoiseParameter,
} from "./randomized-response.js";
export { optimizedUnaryEncoding, symmetricUnaryEncoding, type UnaryEncoding, type UnaryEncodingOptions } from "./unary-encoding.js";
export { type LocalHashing, type LocalHashingOptions, type LocalHashingReport, optimizedLocalHashing } from "./local-hashing.js";
export * from "./rappor/index.js";
