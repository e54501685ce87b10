/**
 * `dpkit/ldp`: local differential privacy — randomized response, unary encodings, local
 * hashing, and a RAPPOR encoder and decoder.
 * @module
 */
export { type FrequencyEstimate, pureProtocolFrequencyVariance } from "./frequencyEstimate.js";
export {
  binaryRandomizedResponse, type BinaryRandomizedResponse, type BinaryRandomizedResponseOptions, kRandomizedResponse,
  type KRandomizedResponse, type KRandomizedResponseOptions, randomizedResponseEpsilon, randomizedResponseNoiseParameter,
} from "./randomizedResponse.js";
export { optimizedUnaryEncoding, symmetricUnaryEncoding, type UnaryEncoding, type UnaryEncodingOptions } from "./unaryEncoding.js";
export { type LocalHashing, type LocalHashingOptions, type LocalHashingReport, optimizedLocalHashing } from "./localHashing.js";
export * from "./rappor/index.js";
